"""Raise operator alarms from reports: the vehicle's own level-3 alarm and detected anomalies.

:class:`AlarmMonitor` runs on the receive path, synchronously, right after a report is
accepted, so an alarm reaches its sink in the same event-loop step as the frame (well inside
the 1 s budget). To avoid flooding operators with one alarm per second while a condition
lasts, the same ``(vin, kind, detail)`` is raised again only after ``repeat_ms``.
"""

from __future__ import annotations

from collections.abc import Callable

from v2xcloud.bounded import LruTable
from v2xcloud.ev.anomaly import BatteryAnomalyDetector
from v2xcloud.ev.charging import Charger, VehicleEnergy, charging_warning
from v2xcloud.ev.sink import AlarmSink
from v2xcloud.model.ev import EvOperatorAlarm, EvReport
from v2xcloud.model.ev_fleet import ChargingWarning

__all__ = ["AlarmMonitor"]

# a vehicle that cannot reach a charger is urgent for the operator, a thin margin less so
_CHARGING_LEVELS = {"critical": 2, "warning": 1}


class AlarmMonitor:
    """Turns reports into :class:`EvOperatorAlarm` for ``sink``.

    ``min_anomaly_level`` filters detector findings (level 1-3) sent to operators; ``clock``
    returns UTC ms (injectable for tests). With ``chargers``, each report is also checked by
    :func:`~v2xcloud.ev.charging.charging_warning` and ``charging:critical`` (level 2) or
    ``charging:warning`` (level 1) alarms are raised, and every verdict (``ok`` and
    ``advise`` too) goes to ``on_charging`` when given (the live EV monitor keeps the latest
    per vehicle). Repeat suppression remembers at most ``max_keys`` (VIN, kind) pairs; one
    evicted early may raise its alarm again sooner.
    """

    def __init__(
        self,
        sink: AlarmSink,
        *,
        detector: BatteryAnomalyDetector | None = None,
        clock: Callable[[], int],
        repeat_ms: int = 60_000,
        min_anomaly_level: int = 2,
        chargers: list[Charger] | None = None,
        energy: VehicleEnergy | None = None,
        max_keys: int = 50_000,
        on_charging: Callable[[ChargingWarning], None] | None = None,
    ) -> None:
        self.sink = sink
        self.on_charging = on_charging
        self.detector = detector or BatteryAnomalyDetector()
        self.clock = clock
        self.repeat_ms = repeat_ms
        self.min_anomaly_level = min_anomaly_level
        self.chargers = chargers or []
        self.energy = energy
        self.raised = 0
        # (VIN, kind, key) -> when last raised; past max_keys the least recently raised go
        self._last_raised: LruTable[tuple[str, str, str], int] = LruTable(
            limit=max_keys, name="EV alarm repeat suppression (VIN, kind)"
        )

    @property
    def evicted(self) -> int:
        """Per-VIN entries dropped for the size limits (repeat suppression and detector)."""
        return self._last_raised.evicted + self.detector.evicted

    def on_report(self, report: EvReport, *, received_at_ms: int) -> list[EvOperatorAlarm]:
        """Check one accepted report; returns (and sinks) the alarms raised for it."""
        found: list[tuple[str, int, str, str]] = []
        a = report.alarm
        if a is not None and a.max_level == 3:
            names = ", ".join(a.flag_names) or "no general flag set"
            faults = (
                len(a.battery_faults)
                + len(a.motor_faults)
                + len(a.engine_faults)
                + len(a.other_faults)
            )
            found.append(
                (
                    "vehicle_alarm",
                    3,
                    f"vehicle reports level-3 alarm: {names}; {faults} fault codes",
                    names,
                )
            )
        found += self._charging(report)
        for an in self.detector.check(report):
            if an.level >= self.min_anomaly_level:
                found.append((f"anomaly:{an.check}", an.level, an.reason, an.check))
        return [
            alarm for f in found if (alarm := self._raise(report, received_at_ms, *f)) is not None
        ]

    def _charging(self, report: EvReport) -> list[tuple[str, int, str, str]]:
        if not self.chargers:
            return []
        w = charging_warning(report, self.chargers, energy=self.energy)
        if w is not None and self.on_charging is not None:
            self.on_charging(w)
        if w is None or w.level not in _CHARGING_LEVELS:
            return []
        return [(f"charging:{w.level}", _CHARGING_LEVELS[w.level], w.reason, w.level)]

    def _raise(
        self, report: EvReport, received_at_ms: int, kind: str, level: int, reason: str, key: str
    ) -> EvOperatorAlarm | None:
        now = self.clock()
        dedup = (report.vin, kind, key)
        last = self._last_raised.get(dedup)
        if last is not None and now - last < self.repeat_ms:
            return None
        self._last_raised[dedup] = now
        alarm = EvOperatorAlarm(
            vin=report.vin,
            kind=kind,
            level=level,
            reason=reason,
            collected_at_ms=report.collected_at_ms,
            received_at_ms=received_at_ms,
            raised_at_ms=now,
        )
        self.sink.raise_alarm(alarm)
        self.raised += 1
        return alarm
