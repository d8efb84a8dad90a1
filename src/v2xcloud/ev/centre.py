"""The EV analytics wherever the reports arrive: a terminal's session, or the backbone at the centre.

On one machine the GB/T 32960 server judges each accepted report in its session
(``ev.session.deliver_report``: the live monitor and history, then the alarm monitor). In a
cluster the terminals connect to the gateway tier, which publishes each accepted report's
frame on the backbone (``runtime.backbone.EvFrame``, stream ``V2X_EV``) and judges nothing;
the centre tier reads the stream and hands each report to the same ``deliver_report`` with an
alarm monitor built the same way (``ev_analytics``), so its alarms and charging verdicts are
the ones the single process raises on the same reports.

``BackboneReports.put`` is the centre's handler of that stream (``gateways.nats.ResultFeed``,
on the feed's thread): the frame is decoded again with the one codec (``ev.codec.decode``); a
frame that does not decode, is no report, or names another VIN than its envelope is a dead
letter (counted, logged once per reason); a report already taken (the stream redelivers what
was not acked; two gateways may carry one report) is dropped by the sessions' own duplicate
check (``SessionRegistry.is_new``: per VIN, bounded to ``max_vins``); a report the sink cannot
take raises ``StoreError``, so the consumer redelivers it later.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable

from v2xcloud.errors import Gb32960Error, StoreError
from v2xcloud.ev.alarms import AlarmMonitor
from v2xcloud.ev.anomaly import BatteryAnomalyDetector
from v2xcloud.ev.codec import decode
from v2xcloud.ev.frame import Command
from v2xcloud.ev.monitor import EvMonitor
from v2xcloud.ev.session import SessionRegistry, deliver_report
from v2xcloud.failures import FailureLog
from v2xcloud.model import DeadLetter, DropReason
from v2xcloud.model.ev import EvReport
from v2xcloud.runtime.backbone import EvFrame

__all__ = ["BackboneReports", "ev_analytics"]

logger = logging.getLogger(__name__)


def ev_analytics(monitor: EvMonitor, *, clock: Callable[[], int]) -> AlarmMonitor:
    """The alarm monitor of the platform's EV analytics over ``monitor`` (the live fleet): the
    vehicles' own level-3 alarms, battery anomalies with the monitor's thresholds, and the
    charging checks against its chargers, every charging verdict kept by the monitor."""
    return AlarmMonitor(
        monitor,
        clock=clock,
        detector=BatteryAnomalyDetector(thresholds=monitor.thresholds),
        chargers=monitor.chargers,
        energy=monitor.energy,
        on_charging=monitor.on_charging,
    )


class BackboneReports:
    """The centre's EV analytics fed from ``V2X_EV`` (see the module docstring).

    ``monitor`` the live fleet (its ``forward`` the history); ``clock`` the platform's UTC ms;
    ``dead_letter`` receives frames that are no report. Counters in ``stats()``: reports
    taken, duplicates, refused (per reason) and the sessions' counters (alarm errors, ...).
    """

    def __init__(
        self,
        monitor: EvMonitor,
        *,
        clock: Callable[[], int],
        dead_letter: Callable[[DeadLetter], None],
        failures: FailureLog | None = None,
        max_vins: int = 10_000,
    ) -> None:
        self.monitor = monitor
        self.alarms = ev_analytics(monitor, clock=clock)
        self.clock = clock
        self.dead_letter = dead_letter
        self.failures = failures if failures is not None else FailureLog(logger=logger)
        self.registry = SessionRegistry(max_vins=max_vins)  # only its duplicate check
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def put(self, item: EvFrame) -> None:
        """Judge one report a gateway published (any thread; one at a time)."""
        with self._lock:
            report = self._report(item)
            if report is None:
                return
            if not self.registry.is_new(report.vin, report.collected_at_ms):
                self.counts["duplicates"] += 1
                return
            if not deliver_report(
                report,
                item.received_at_ms,
                sink=self.monitor,
                monitor=self.alarms,
                stats=self.counts,
                failures=self.failures,
            ):
                self.registry.forget(report.vin, report.collected_at_ms)
                raise StoreError(f"EV report of {report.vin} not stored (see ev:report_sink)")
            self.counts["reports"] += 1

    def _report(self, item: EvFrame) -> EvReport | None:
        try:
            msg = decode(item.frame)
        except Gb32960Error as exc:
            self._refuse(item, exc.reason, f"GB/T 32960 frame does not decode: {exc}", exc.where)
            return None
        if msg.command not in (Command.REALTIME, Command.RESENT) or not isinstance(
            msg.body, EvReport
        ):
            detail = f"command {msg.command:#04x} carries no report the analytics can read"
            self._refuse(item, DropReason.BAD_PAYLOAD, detail, "command")
            return None
        if msg.vin != item.vin:
            detail = f"frame of VIN {msg.vin!r} published as {item.vin!r}"
            self._refuse(item, DropReason.IDENTITY_MISMATCH, detail, "vin")
            return None
        return msg.body

    def _refuse(self, item: EvFrame, reason: DropReason, detail: str, where: str | None) -> None:
        self.counts[f"refused:{reason.value}"] += 1
        if self.counts[f"refused:{reason.value}"] == 1:
            logger.warning("centre EV: %s (gateway %s): %s", item.vin, item.gateway, detail)
        self.dead_letter(
            DeadLetter(
                raw=item.frame,
                source=item.vin,
                received_at_ms=item.received_at_ms,
                reason=reason,
                detail=detail,
                where=f"V2X_EV {where}" if where else "V2X_EV",
            )
        )

    def stats(self) -> dict[str, int]:
        """Reports taken, duplicates, refusals and the analytics' counters."""
        with self._lock:
            return dict(self.counts) | {"alarms_raised": self.alarms.raised}
