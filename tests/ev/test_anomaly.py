"""Battery anomaly checks: each fires on its pattern, stays quiet on a healthy pack, explains."""

from __future__ import annotations

import msgspec
import pytest

from v2xcloud.ev.anomaly import AnomalyThresholds, BatteryAnomalyDetector
from v2xcloud.ev.vehicle_sim import FaultPlan, SimulatedVehicle
from v2xcloud.model.ev import EvCellVoltages, EvExtremes, EvProbeTemps, EvReport, EvVehicle

VIN = "LTEST000000000001"
T0 = 1_700_000_000_000


def _report(
    t_s: int,
    *,
    cells: tuple[float, ...] = (3.43,) * 20,
    temps: tuple[int, ...] = (25,) * 8,
    soc: int = 60,
    insulation: int = 5000,
    voltage: float = 350.0,
) -> EvReport:
    return EvReport(
        vin=VIN,
        collected_at_ms=T0 + 1000 * t_s,
        vehicle=EvVehicle(
            vehicle_state=1,
            charge_state=3,
            run_mode=1,
            speed_kmh=30.0,
            odometer_km=1.0,
            total_voltage_v=voltage,
            total_current_a=10.0,
            soc_pct=soc,
            dcdc_state=1,
            gear=14,
            insulation_kohm=insulation,
        ),
        cell_voltages=(
            EvCellVoltages(
                subsystem=1,
                voltage_v=voltage,
                current_a=10.0,
                cell_count=len(cells),
                first_cell=1,
                cell_voltages_v=cells,
            ),
        ),
        probe_temps=(EvProbeTemps(subsystem=1, temps_c=temps),),
    )


def _checks(det: BatteryAnomalyDetector, report: EvReport) -> dict[str, str]:
    return {a.check: a.reason for a in det.check(report)}


def test_healthy_simulated_vehicle_is_quiet() -> None:
    det, car = BatteryAnomalyDetector(), SimulatedVehicle(VIN, seed=9, start_ms=T0)
    assert all(det.check(car.step()) == [] for _ in range(120))


def test_cell_outlier_reason_has_the_numbers() -> None:
    cells = [3.43] * 20
    cells[16] = 3.02
    found = _checks(BatteryAnomalyDetector(), _report(1, cells=tuple(cells)))
    assert found["cell_outlier"] == "cell 17 3.020 V is 0.410 V below the median 3.430 V (>0.300 V)"
    assert "cell spread 0.410 V" in found["cell_spread"]


def test_temperature_rise_rate_and_probe_outlier() -> None:
    det = BatteryAnomalyDetector()
    assert _checks(det, _report(1)) == {}
    found = _checks(det, _report(3, temps=(25, 25, 25, 40, 25, 25, 25, 25)))
    assert "7.50 °C/s" in found["temp_rise"]
    assert found["probe_outlier"].startswith(
        "pack 1 probe 4 40 °C is 15.0 °C from the median 25.0 °C"
    )


def test_soc_jump_only_within_window() -> None:
    det = BatteryAnomalyDetector()
    det.check(_report(1, soc=60))
    assert "soc_jump" in _checks(det, _report(2, soc=50))
    assert "soc_jump" not in _checks(det, _report(100, soc=30))


def test_insulation_floor_and_drop() -> None:
    det = BatteryAnomalyDetector()
    det.check(_report(1, insulation=5000))
    found = det.check(_report(2, insulation=30, voltage=400.0))
    by = {a.check: a for a in found}
    assert by["insulation_low"].level == 3 and "75 Ω/V (<100 Ω/V)" in by["insulation_low"].reason
    assert "fell 99%" in by["insulation_drop"].reason


def test_resent_older_report_does_not_fake_rates() -> None:
    det = BatteryAnomalyDetector()
    det.check(_report(10, temps=(25,) * 8))
    assert "temp_rise" not in _checks(det, _report(5, temps=(60,) * 8))


def test_thresholds_are_configurable() -> None:
    cells = (3.43,) * 19 + (3.33,)
    assert _checks(BatteryAnomalyDetector(), _report(1, cells=cells)) == {}
    det = BatteryAnomalyDetector(thresholds=AnomalyThresholds(cell_outlier_v=0.05))
    assert "cell_outlier" in _checks(det, _report(1, cells=cells))


def test_cell_drift_is_detected_eventually() -> None:
    det = BatteryAnomalyDetector()
    car = SimulatedVehicle(VIN, seed=4, start_ms=T0, faults=FaultPlan(cell_drift_v_per_s=0.01))
    first = next(
        t for t in range(1, 100) if any(a.check == "cell_outlier" for a in det.check(car.step()))
    )
    assert 25 <= first <= 40  # 0.3 V at 10 mV/s, plus the pack's own spread
    assert msgspec.json.encode(det.check(car.step()))  # anomalies serialise


# --- levels, exact reasons and every threshold at its boundary ---------------------------

# thresholds that are exact in binary, so "at the threshold" is exactly representable
EXACT = AnomalyThresholds(
    cell_spread_v=0.25,
    cell_outlier_v=0.25,
    temp_rise_c_per_s=2.0,
    probe_outlier_c=8.0,
    soc_jump_pct=4.0,
    soc_jump_window_s=4.0,
    insulation_min_ohm_per_v=100.0,
    insulation_warn_ohm_per_v=500.0,
    insulation_drop_fraction=0.5,
)


def _found(det: BatteryAnomalyDetector, report: EvReport) -> list[tuple[str, int, str]]:
    out = det.check(report)
    assert all(a.vin == report.vin and a.collected_at_ms == report.collected_at_ms for a in out)
    return [(a.check, a.level, a.reason) for a in out]


def test_cell_checks_fire_above_their_threshold_not_at_it() -> None:
    det = BatteryAnomalyDetector(thresholds=EXACT)
    assert _found(det, _report(1, cells=(3.5, 3.5, 3.25))) == []  # spread and deviation = 0.25
    assert _found(det, _report(2, cells=(3.5, 3.0, 4.0, 3.5, 3.5))) == [
        (
            "cell_spread",
            2,
            "pack 1 cell spread 1.000 V (cell 3 4.000 V - cell 2 3.000 V) > 0.250 V",
        ),
        ("cell_outlier", 2, "cell 2 3.000 V is 0.500 V below the median 3.500 V (>0.250 V)"),
        ("cell_outlier", 2, "cell 3 4.000 V is 0.500 V above the median 3.500 V (>0.250 V)"),
    ]


def test_three_cells_are_enough_and_a_short_pack_does_not_stop_the_next() -> None:
    det = BatteryAnomalyDetector(thresholds=EXACT)
    short = EvCellVoltages(
        subsystem=1,
        voltage_v=7.0,
        current_a=1.0,
        cell_count=2,
        first_cell=1,
        cell_voltages_v=(3.5, 2.0),
    )
    three = EvCellVoltages(
        subsystem=2,
        voltage_v=10.0,
        current_a=1.0,
        cell_count=3,
        first_cell=4,
        cell_voltages_v=(3.5, 3.5, 4.0),
    )
    report = msgspec.structs.replace(_report(1), cell_voltages=(short, three))
    assert _found(det, report) == [
        (
            "cell_spread",
            2,
            "pack 2 cell spread 0.500 V (cell 6 4.000 V - cell 4 3.500 V) > 0.250 V",
        ),
        ("cell_outlier", 2, "cell 6 4.000 V is 0.500 V above the median 3.500 V (>0.250 V)"),
    ]


def test_probe_outlier_above_its_threshold_not_at_it() -> None:
    det = BatteryAnomalyDetector(thresholds=EXACT)
    assert _found(det, _report(1, temps=(25, 25, 25, 33))) == []  # median 25, 33 is 8 away
    assert _found(det, _report(1, temps=(25, 25, 25, 34))) == [
        ("probe_outlier", 2, "pack 1 probe 4 34 °C is 9.0 °C from the median 25.0 °C (>8.0 °C)")
    ]


def test_temperature_rise_above_the_rate_not_at_it_and_level_3() -> None:
    det = BatteryAnomalyDetector(thresholds=EXACT)
    det.check(_report(1, temps=(20,) * 4))
    assert _found(det, _report(3, temps=(24,) * 4)) == []  # 2 °C/s exactly
    assert _found(det, _report(5, temps=(29,) * 4)) == [
        ("temp_rise", 3, "hottest probe rose 24 → 29 °C in 2 s = 2.50 °C/s (>2.00 °C/s)")
    ]


def test_the_hottest_probe_comes_from_the_extremes_without_probe_lists() -> None:
    def hot(t_s: int, max_temp: int | None) -> EvReport:
        extremes = EvExtremes(
            max_voltage_subsystem=None,
            max_voltage_cell=None,
            max_cell_voltage_v=None,
            min_voltage_subsystem=None,
            min_voltage_cell=None,
            min_cell_voltage_v=None,
            max_temp_subsystem=1,
            max_temp_probe=1,
            max_temp_c=max_temp,
            min_temp_subsystem=None,
            min_temp_probe=None,
            min_temp_c=None,
        )
        return msgspec.structs.replace(_report(t_s), probe_temps=(), extremes=extremes)

    det = BatteryAnomalyDetector(thresholds=EXACT)
    assert _found(det, hot(1, 30)) == []
    assert [c[0] for c in _found(det, hot(2, 40))] == ["temp_rise"]
    assert _found(det, hot(3, None)) == []  # unknown hottest probe: no rate, no error
    assert _found(det, msgspec.structs.replace(hot(4, 1), extremes=None)) == []
    assert [c[0] for c in _found(det, hot(5, 90))] == []  # the last known was unknown


def test_soc_jump_above_its_threshold_and_within_the_window_inclusive() -> None:
    det = BatteryAnomalyDetector(thresholds=EXACT)
    det.check(_report(1, soc=60))
    assert _found(det, _report(2, soc=56)) == []  # 4 % exactly
    assert _found(det, _report(6, soc=50)) == [  # 4 s later: the window's edge counts
        ("soc_jump", 2, "SOC jumped 56 → 50 % (-6 %) in 4 s (>4 % within 4 s)")
    ]
    assert _found(det, _report(11, soc=40)) == []  # 5 s later: outside the window


def test_insulation_levels_and_drop_at_their_boundaries() -> None:
    det = BatteryAnomalyDetector(thresholds=EXACT)
    assert _found(det, _report(1, insulation=200, voltage=400.0)) == []  # 500 Ω/V exactly
    assert _found(det, _report(2, insulation=100, voltage=400.0)) == [  # 250 Ω/V, halved
        ("insulation_low", 2, "insulation 100 kΩ at 400.0 V is 250 Ω/V (<500 Ω/V)")
    ]
    assert _found(det, _report(3, insulation=40, voltage=400.0)) == [  # 100 Ω/V exactly
        ("insulation_low", 2, "insulation 40 kΩ at 400.0 V is 100 Ω/V (<500 Ω/V)"),
        ("insulation_drop", 2, "insulation fell 60% from 100 kΩ to 40 kΩ (>50%)"),
    ]
    assert _found(det, _report(4, insulation=39, voltage=400.0)) == [
        ("insulation_low", 3, "insulation 39 kΩ at 400.0 V is 98 Ω/V (<100 Ω/V)")
    ]


def test_reports_without_vehicle_data_or_at_the_same_time_are_safe() -> None:
    det = BatteryAnomalyDetector(thresholds=EXACT)
    det.check(_report(1, temps=(20,) * 4, soc=60))
    assert _found(det, msgspec.structs.replace(_report(2), vehicle=None, probe_temps=())) == []
    assert _found(det, _report(3, temps=(20,) * 4, soc=60)) == []
    # the same second again: no rates and no drop, but its values are the ones kept
    assert _found(det, _report(3, temps=(40,) * 4, soc=20, insulation=2000)) == []
    assert _found(det, _report(4, temps=(41,) * 4, soc=20, insulation=2000)) == []


def test_insulation_just_under_the_floor_per_volt() -> None:
    det = BatteryAnomalyDetector(thresholds=EXACT)
    assert _found(det, _report(1, insulation=500, voltage=1001.0)) == [
        ("insulation_low", 2, "insulation 500 kΩ at 1001.0 V is 500 Ω/V (<500 Ω/V)")
    ]


def test_previous_reports_kept_for_at_most_max_vins(caplog: pytest.LogCaptureFixture) -> None:
    det = BatteryAnomalyDetector()
    base = _report(1)
    for i in range(20_001):
        det.check(msgspec.structs.replace(base, vin=f"V{i}", cell_voltages=(), probe_temps=()))
    assert det.tracked_vins() == 20_000 and det.evicted == 1
    assert "EV anomaly previous report (VINs): more than 20000 entries" in caplog.text
