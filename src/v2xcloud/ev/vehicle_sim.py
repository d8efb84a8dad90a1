"""A simulated EV's battery and motion, producing :class:`EvReport` once per simulated second.

Deterministic for a given seed. Faults can be injected:

- thermal runaway from ``thermal_runaway_at_s``: the hottest probe climbs 4 °C/s, one cell
  collapses towards 2.5 V, insulation falls tenfold, and the vehicle raises its own level-3
  alarm (temperature difference, battery high temperature);
- cell drift: cell ``drift_cell`` drifts down by ``cell_drift_v_per_s``.
"""

from __future__ import annotations

import math
import random

import msgspec
import numpy as np

from v2xcloud.model.ev import (
    EvAlarm,
    EvCellVoltages,
    EvExtremes,
    EvMotor,
    EvPosition,
    EvProbeTemps,
    EvReport,
    EvVehicle,
)

__all__ = ["FaultPlan", "SimulatedVehicle"]

_CELLS, _PROBES = 96, 16


class FaultPlan(msgspec.Struct, frozen=True, kw_only=True):
    """Faults to inject into one simulated vehicle (times in simulated seconds)."""

    thermal_runaway_at_s: int | None = None
    cell_drift_v_per_s: float = 0.0
    drift_cell: int = 17
    disconnect_at_s: int | None = None
    offline_s: int = 3


class SimulatedVehicle:
    """State of one vehicle; :meth:`step` advances one second and returns its report."""

    def __init__(
        self,
        vin: str,
        *,
        seed: int,
        start_ms: int,
        faults: FaultPlan | None = None,
        lat_deg: float = 31.23,
        lon_deg: float = 121.47,
    ) -> None:
        self.vin = vin
        self.faults = faults or FaultPlan()
        self.rng = random.Random(seed)
        self.t_s = 0
        self.start_ms = start_ms - start_ms % 1000
        self.soc = self.rng.uniform(30, 95)
        self.odometer_km = self.rng.uniform(1000, 90000)
        self.lat, self.lon = (
            lat_deg + self.rng.uniform(-0.1, 0.1),
            lon_deg + self.rng.uniform(-0.1, 0.1),
        )
        self.heading = self.rng.uniform(0, 2 * math.pi)
        self.np_rng = np.random.default_rng(seed)
        self.offsets = self.np_rng.normal(0, 0.004, _CELLS)
        self.temps = 25.0 + self.np_rng.uniform(-1, 1, _PROBES)
        self.insulation_kohm = 5000

    def _runaway_s(self) -> int | None:
        at = self.faults.thermal_runaway_at_s
        return None if at is None or self.t_s < at else self.t_s - at

    def _cells(self, speed_kmh: float) -> list[float]:
        base = 3.3 + 0.0009 * self.soc - 0.0005 * speed_kmh
        cells = base + self.offsets + self.np_rng.normal(0, 0.002, _CELLS)
        k = self.faults.drift_cell - 1
        cells[k] -= self.faults.cell_drift_v_per_s * self.t_s
        runaway = self._runaway_s()
        if runaway is not None:
            cells[k] = max(2.5, cells[k] - 0.25 * (runaway + 1))
        return [float(c) for c in np.clip(np.round(cells, 3), 0.0, 5.0)]

    def step(self) -> EvReport:
        """Advance one simulated second; returns the report collected at that second."""
        self.t_s += 1
        speed = max(0.0, 40 + 20 * math.sin(self.t_s / 30) + self.rng.gauss(0, 2))
        self.soc = max(1.0, self.soc - speed / 3600 * 0.12)
        dist_km = speed / 3600
        self.odometer_km += dist_km
        self.lat += dist_km / 111.0 * math.cos(self.heading)
        self.lon += dist_km / 95.0 * math.sin(self.heading)
        runaway = self._runaway_s()
        for i in range(_PROBES):
            self.temps[i] += self.rng.gauss(0, 0.05) + (
                4.0 if runaway is not None and i == 3 else 0.0
            )
        if runaway is not None:
            self.insulation_kohm = max(20, self.insulation_kohm // 10)
        return self._report(speed, self._cells(speed), runaway is not None)

    def _report(self, speed: float, cells: list[float], is_runaway: bool) -> EvReport:
        temps = [int(t) for t in np.minimum(np.round(self.temps), 210)]
        hi, lo = (
            max(range(_CELLS), key=cells.__getitem__),
            min(range(_CELLS), key=cells.__getitem__),
        )
        thi, tlo = (
            max(range(_PROBES), key=temps.__getitem__),
            min(range(_PROBES), key=temps.__getitem__),
        )
        voltage = round(sum(cells), 1)
        current = round(speed * 0.8 + self.rng.gauss(0, 1), 1)
        flags = 0b11 if is_runaway else 0
        return EvReport(
            vin=self.vin,
            collected_at_ms=self.start_ms + 1000 * self.t_s,
            vehicle=EvVehicle(
                vehicle_state=1,
                charge_state=3,
                run_mode=1,
                speed_kmh=round(speed, 1),
                odometer_km=round(self.odometer_km, 1),
                total_voltage_v=voltage,
                total_current_a=current,
                soc_pct=round(self.soc),
                dcdc_state=1,
                gear=0x0E,
                insulation_kohm=self.insulation_kohm,
                accelerator_pct=20,
                brake_pct=0,
            ),
            motors=(
                EvMotor(
                    seq=1,
                    state=1,
                    controller_temp_c=45,
                    speed_rpm=round(speed * 80),
                    torque_nm=round(current * 0.5, 1),
                    temp_c=50,
                    controller_voltage_v=voltage,
                    controller_current_a=current,
                ),
            ),
            position=EvPosition(
                is_valid=True, lat_deg=round(self.lat, 6), lon_deg=round(self.lon, 6)
            ),
            extremes=EvExtremes(
                max_voltage_subsystem=1,
                max_voltage_cell=hi + 1,
                max_cell_voltage_v=cells[hi],
                min_voltage_subsystem=1,
                min_voltage_cell=lo + 1,
                min_cell_voltage_v=cells[lo],
                max_temp_subsystem=1,
                max_temp_probe=thi + 1,
                max_temp_c=temps[thi],
                min_temp_subsystem=1,
                min_temp_probe=tlo + 1,
                min_temp_c=temps[tlo],
            ),
            alarm=EvAlarm(
                max_level=3 if is_runaway else 0,
                flags=flags,
                flag_names=("temperature_difference", "battery_high_temperature")
                if is_runaway
                else (),
            ),
            cell_voltages=(
                EvCellVoltages(
                    subsystem=1,
                    voltage_v=voltage,
                    current_a=current,
                    cell_count=_CELLS,
                    first_cell=1,
                    cell_voltages_v=tuple(cells),
                ),
            ),
            probe_temps=(EvProbeTemps(subsystem=1, temps_c=tuple(temps)),),
        )
