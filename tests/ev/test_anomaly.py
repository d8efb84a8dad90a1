"""Battery anomaly checks: each fires on its pattern, stays quiet on a healthy pack, explains."""

from __future__ import annotations

import msgspec

from v2xcloud.ev.anomaly import AnomalyThresholds, BatteryAnomalyDetector
from v2xcloud.ev.vehicle_sim import FaultPlan, SimulatedVehicle
from v2xcloud.model.ev import EvCellVoltages, EvProbeTemps, EvReport, EvVehicle

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
