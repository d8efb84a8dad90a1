"""Battery anomaly detection beyond the vehicle's own alarm flags, with explainable reasons.

Checks per report (thresholds are keyword settings, defaults in :class:`AnomalyThresholds`):

- cell-voltage spread (max - min) and single-cell outliers against the pack median;
- temperature rise rate of the hottest probe between consecutive reports;
- probe outliers against the median probe temperature;
- SOC jumps between consecutive reports;
- insulation resistance: ohms per volt of pack voltage below a floor, or a sudden drop.

Each finding says what, which and by how much, e.g.
``"cell 17 3.020 V is 0.410 V below the median 3.430 V (>0.300 V)"``.
"""

from __future__ import annotations

import statistics

import msgspec

from v2xcloud.bounded import LruTable
from v2xcloud.model.ev import EvReport

__all__ = ["Anomaly", "AnomalyThresholds", "BatteryAnomalyDetector"]


class Anomaly(msgspec.Struct, frozen=True, kw_only=True):
    """One finding: ``check`` names the test, ``level`` 1-3, ``reason`` the explanation."""

    vin: str
    check: str
    level: int
    reason: str
    collected_at_ms: int


class AnomalyThresholds(msgspec.Struct, frozen=True, kw_only=True):
    """Thresholds (configurable; the defaults are common engineering values, not the standard's)."""

    cell_spread_v: float = 0.3
    cell_outlier_v: float = 0.3
    temp_rise_c_per_s: float = 1.0
    probe_outlier_c: float = 10.0
    soc_jump_pct: float = 5.0
    soc_jump_window_s: float = 30.0
    insulation_min_ohm_per_v: float = 100.0
    insulation_warn_ohm_per_v: float = 500.0
    insulation_drop_fraction: float = 0.5


class _Last(msgspec.Struct):
    at_ms: int
    max_temp_c: float | None
    soc_pct: int | None
    insulation_kohm: int | None


class BatteryAnomalyDetector:
    """Keeps the previous report per VIN and returns the anomalies of each new one."""

    def __init__(
        self, *, thresholds: AnomalyThresholds | None = None, max_vins: int = 20_000
    ) -> None:
        self.t = thresholds or AnomalyThresholds()
        # VIN -> its previous report; past max_vins the least recently reporting VIN goes
        self._last: LruTable[str, _Last] = LruTable(
            limit=max_vins, name="EV anomaly previous report (VINs)"
        )

    @property
    def evicted(self) -> int:
        """VINs whose previous report was dropped for the size limit."""
        return self._last.evicted

    def tracked_vins(self) -> int:
        """How many VINs have a previous report kept."""
        return len(self._last)

    def check(self, report: EvReport) -> list[Anomaly]:
        """All anomalies in ``report`` (re-sent reports older than the last one are only
        checked for within-report findings, not rates)."""
        found: list[tuple[str, int, str]] = []
        found += self._cells(report)
        max_temp = self._probes(report, found)
        prev = self._last.get(report.vin)
        v = report.vehicle
        soc = v.soc_pct if v else None
        ins = v.insulation_kohm if v else None
        self._insulation(report, prev, found)
        if prev is not None and report.collected_at_ms > prev.at_ms:
            self._rates(report, prev, max_temp, soc, found)
        if prev is None or report.collected_at_ms >= prev.at_ms:
            self._last[report.vin] = _Last(report.collected_at_ms, max_temp, soc, ins)
        return [
            Anomaly(
                vin=report.vin, check=c, level=lv, reason=r, collected_at_ms=report.collected_at_ms
            )
            for c, lv, r in found
        ]

    def _cells(self, report: EvReport) -> list[tuple[str, int, str]]:
        out = []
        for pack in report.cell_voltages:
            cells = [
                (i, v) for i, v in enumerate(pack.cell_voltages_v, pack.first_cell) if v is not None
            ]
            if len(cells) < 3:
                continue
            values = [v for _, v in cells]
            median = statistics.median(values)
            hi, lo = max(cells, key=lambda c: c[1]), min(cells, key=lambda c: c[1])
            spread = hi[1] - lo[1]
            if spread > self.t.cell_spread_v:
                out.append(
                    (
                        "cell_spread",
                        2,
                        f"pack {pack.subsystem} cell spread {spread:.3f} V "
                        f"(cell {hi[0]} {hi[1]:.3f} V - cell {lo[0]} {lo[1]:.3f} V) > {self.t.cell_spread_v:.3f} V",
                    )
                )
            for i, v in cells:
                dev = v - median
                if abs(dev) > self.t.cell_outlier_v:
                    side = "below" if dev < 0 else "above"
                    out.append(
                        (
                            "cell_outlier",
                            2,
                            f"cell {i} {v:.3f} V is {abs(dev):.3f} V {side} "
                            f"the median {median:.3f} V (>{self.t.cell_outlier_v:.3f} V)",
                        )
                    )
        return out

    def _probes(self, report: EvReport, out: list[tuple[str, int, str]]) -> float | None:
        temps = [
            (p.subsystem, i, t)
            for p in report.probe_temps
            for i, t in enumerate(p.temps_c, 1)
            if t is not None
        ]
        if not temps:
            x = report.extremes
            return None if x is None or x.max_temp_c is None else float(x.max_temp_c)
        median = statistics.median(t for _, _, t in temps)
        for sub, i, t in temps:
            if abs(t - median) > self.t.probe_outlier_c:
                out.append(
                    (
                        "probe_outlier",
                        2,
                        f"pack {sub} probe {i} {t} °C is {abs(t - median):.1f} °C "
                        f"from the median {median:.1f} °C (>{self.t.probe_outlier_c:.1f} °C)",
                    )
                )
        return float(max(t for _, _, t in temps))

    def _insulation(
        self, report: EvReport, prev: _Last | None, out: list[tuple[str, int, str]]
    ) -> None:
        v = report.vehicle
        if v is None or v.insulation_kohm is None:
            return
        if v.total_voltage_v:
            per_v = v.insulation_kohm * 1000 / v.total_voltage_v
            if per_v < self.t.insulation_warn_ohm_per_v:
                level = 3 if per_v < self.t.insulation_min_ohm_per_v else 2
                floor = (
                    self.t.insulation_min_ohm_per_v
                    if level == 3
                    else self.t.insulation_warn_ohm_per_v
                )
                out.append(
                    (
                        "insulation_low",
                        level,
                        f"insulation {v.insulation_kohm} kΩ at {v.total_voltage_v:.1f} V "
                        f"is {per_v:.0f} Ω/V (<{floor:.0f} Ω/V)",
                    )
                )
        if prev is not None and prev.insulation_kohm and report.collected_at_ms > prev.at_ms:
            drop = 1 - v.insulation_kohm / prev.insulation_kohm
            if drop > self.t.insulation_drop_fraction:
                out.append(
                    (
                        "insulation_drop",
                        2,
                        f"insulation fell {drop:.0%} from {prev.insulation_kohm} kΩ "
                        f"to {v.insulation_kohm} kΩ (>{self.t.insulation_drop_fraction:.0%})",
                    )
                )

    def _rates(
        self,
        report: EvReport,
        prev: _Last,
        max_temp: float | None,
        soc: int | None,
        out: list[tuple[str, int, str]],
    ) -> None:
        dt_s = (report.collected_at_ms - prev.at_ms) / 1000
        if max_temp is not None and prev.max_temp_c is not None:
            rate = (max_temp - prev.max_temp_c) / dt_s
            if rate > self.t.temp_rise_c_per_s:
                out.append(
                    (
                        "temp_rise",
                        3,
                        f"hottest probe rose {prev.max_temp_c:.0f} → {max_temp:.0f} °C in "
                        f"{dt_s:.0f} s = {rate:.2f} °C/s (>{self.t.temp_rise_c_per_s:.2f} °C/s)",
                    )
                )
        if soc is not None and prev.soc_pct is not None and dt_s <= self.t.soc_jump_window_s:
            jump = soc - prev.soc_pct
            if abs(jump) > self.t.soc_jump_pct:
                out.append(
                    (
                        "soc_jump",
                        2,
                        f"SOC jumped {prev.soc_pct} → {soc} % ({jump:+d} %) in {dt_s:.0f} s "
                        f"(>{self.t.soc_jump_pct:.0f} % within {self.t.soc_jump_window_s:.0f} s)",
                    )
                )
