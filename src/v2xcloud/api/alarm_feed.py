"""Feeds the alarm book from what the API sees of the platform: road events, device faults and
misbehaviour reports (level-3 EV alarms are fed by the EV wing itself).

Every ``period_s`` (1 s) on its own thread — never on the tick's: a slow device listing or a
slow database must not slow the tick — ``poll`` makes the book's alarms match the platform:

- **road events** (``AlarmSource.ROAD_EVENT``): one alarm per event in force
  (``LiveSource.road_events()``, subject ``runtime.events.event_key``), cleared (closed by the
  platform) when the event ends; severity from the event's RSI priority (0–7: ≥ 5 major,
  ≥ 3 minor, else warning; none given: minor);
- **device faults** (``AlarmSource.DEVICE``, from ``DeviceDirectory.devices``): ``offline``
  (an enabled device heard before and silent past the health's offline time; major),
  ``dead_letter_burst`` (at least ``burst_letters`` dead letters within ``burst_window_ms``;
  minor), ``downlink_abnormal`` (consecutive unanswered down-link sends; minor); each cleared
  when the device recovers;
- **misbehaviour** (``AlarmSource.MISBEHAVIOUR``): one alarm per flagged sender (major),
  repeated reports update it; it stays until an operator closes it (a flag is evidence to
  look at, not a condition that ends by itself). The reports come from the tick stream
  (``TickDelta.misbehaviour``), taken into a bounded queue.

Then ``poll`` writes the book's queued changes to the store (``AlarmBook.flush``). Per-device
state (the burst windows) exists only for registered devices and is dropped with them.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any

from v2xcloud.api.live import LiveSource, TickDelta, Unsubscribe
from v2xcloud.api.routes_devices import DeviceDirectory
from v2xcloud.model import AlarmSeverity, AlarmSource, MisbehaviourReport, RoadEvent
from v2xcloud.runtime.alarms import AlarmBook, AlarmCondition
from v2xcloud.runtime.events import event_key

__all__ = ["AlarmFeed", "road_event_condition"]

logger = logging.getLogger(__name__)


def road_event_condition(event: RoadEvent) -> AlarmCondition:
    """The alarm condition of one road event in force (see the module docstring)."""
    priority = event.priority
    if priority is None:
        severity = AlarmSeverity.MINOR
    elif priority >= 5:
        severity = AlarmSeverity.MAJOR
    elif priority >= 3:
        severity = AlarmSeverity.MINOR
    else:
        severity = AlarmSeverity.WARNING
    what = event.kind or f"event type {event.event_type}"
    summary = f"{what} ({event.source})"
    if event.description:
        summary += f": {event.description}"
    return AlarmCondition(
        subject=event_key(event),
        kind=event.kind or str(event.event_type),
        severity=severity,
        summary=summary,
        lat_deg=event.lat_deg,
        lon_deg=event.lon_deg,
    )


class AlarmFeed:
    """Keeps an ``AlarmBook`` in step with the live platform; see the module docstring."""

    def __init__(
        self,
        book: AlarmBook,
        live: LiveSource,
        devices: DeviceDirectory | None = None,
        *,
        period_s: float = 1.0,
        burst_letters: int = 20,
        burst_window_ms: int = 10_000,
        max_queued_reports: int = 10_000,
    ) -> None:
        self.book = book
        self.live = live
        self.devices = devices
        self.period_s = period_s
        self.burst_letters = burst_letters
        self.burst_window_ms = burst_window_ms
        self._reports: deque[MisbehaviourReport] = deque(maxlen=max_queued_reports)
        self._bursts: dict[str, tuple[int, int]] = {}  # device -> (window start ms, letters)
        self._bursting: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Unsubscribe | None = None
        self.polls = 0
        self.errors = 0

    # -- the tick stream (platform thread: take and return) -----------------------------------
    def on_tick(self, delta: TickDelta) -> None:
        """Take the tick's misbehaviour reports (the oldest queued drop out when full)."""
        if delta.misbehaviour:
            self._reports.extend(delta.misbehaviour)

    # -- one round ------------------------------------------------------------------------------
    def poll(self, now_ms: int | None = None) -> None:
        """One round: road events, device faults, misbehaviour, then write the changes."""
        now = now_ms if now_ms is not None else self.live.stats().now_ms
        self.book.sync(
            AlarmSource.ROAD_EVENT,
            [road_event_condition(e) for e in self.live.road_events()],
            at_ms=now,
        )
        if self.devices is not None:
            self.book.sync(AlarmSource.DEVICE, self._device_faults(now), at_ms=now)
        self._misbehaviour()
        self.book.flush()
        self.polls += 1

    def _misbehaviour(self) -> None:
        while self._reports:
            r = self._reports.popleft()
            tenant = self.devices.tenant_of(r.source) if self.devices and r.source else None
            self.book.raise_alarm(
                source=AlarmSource.MISBEHAVIOUR,
                subject=r.sender_id,
                kind=r.reason.value,
                severity=AlarmSeverity.MAJOR,
                summary=f"{r.sender_id} flagged: {r.reason.value}"
                + (f" (heard by {r.source})" if r.source else ""),
                at_ms=r.flagged_at_ms,
                tenant=tenant,
            )

    def _device_faults(self, now_ms: int) -> list[AlarmCondition]:
        assert self.devices is not None
        out: list[AlarmCondition] = []
        present: set[str] = set()
        for d in self.devices.devices(now_ms):
            device_id = str(d.get("device_id", ""))
            present.add(device_id)
            out += self._faults_of(device_id, d, now_ms)
        for gone in set(self._bursts) - present:  # removed devices: their state goes too
            del self._bursts[gone]
            self._bursting.discard(gone)
        return out

    def _faults_of(self, device_id: str, d: dict[str, Any], now_ms: int) -> list[AlarmCondition]:
        health = d.get("health") or {}
        where = {
            "tenant": d.get("tenant"),
            "lat_deg": d.get("lat_deg"),
            "lon_deg": d.get("lon_deg"),
        }
        kind = d.get("kind", "device")
        out = []
        if (
            d.get("state", "enabled") == "enabled"
            and health.get("last_seen_ms") is not None
            and not health.get("online", True)
        ):
            silent_s = (now_ms - int(health["last_seen_ms"])) / 1000.0
            out.append(
                AlarmCondition(
                    device_id,
                    "offline",
                    AlarmSeverity.MAJOR,
                    f"{kind} {device_id} offline (last heard {silent_s:.0f} s ago)",
                    **where,
                )
            )
        letters = sum(int(n) for n in (health.get("dead_letters") or {}).values())
        if self._is_bursting(device_id, letters, now_ms):
            out.append(
                AlarmCondition(
                    device_id,
                    "dead_letter_burst",
                    AlarmSeverity.MINOR,
                    f"{kind} {device_id}: >= {self.burst_letters} dead letters in "
                    f"{self.burst_window_ms / 1000:.0f} s",
                    **where,
                )
            )
        if (health.get("downlink") or {}).get("link_abnormal"):
            out.append(
                AlarmCondition(
                    device_id,
                    "downlink_abnormal",
                    AlarmSeverity.MINOR,
                    f"{kind} {device_id}: down-link sends unanswered",
                    **where,
                )
            )
        return out

    def _is_bursting(self, device_id: str, letters: int, now_ms: int) -> bool:
        """Whether the device's dead letters grew by ``burst_letters`` within the current
        window; the verdict holds until the next window closes."""
        start_ms, start_letters = self._bursts.setdefault(device_id, (now_ms, letters))
        if letters - start_letters >= self.burst_letters:
            self._bursting.add(device_id)
            self._bursts[device_id] = (now_ms, letters)
        elif now_ms - start_ms >= self.burst_window_ms:
            self._bursting.discard(device_id)
            self._bursts[device_id] = (now_ms, letters)
        return device_id in self._bursting

    # -- running ---------------------------------------------------------------------------
    def start(self) -> None:
        """Subscribe to the tick stream and poll every ``period_s`` on a thread of its own."""
        if self._thread is not None:
            return
        self.book.load()
        self._unsubscribe = self.live.subscribe(self.on_tick)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="alarm-feed", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.poll()
            except Exception as exc:  # one bad round must not end the feed
                self.errors += 1
                if self.errors == 1 or self.errors % 60 == 0:  # a lasting fault: once a minute
                    logger.error(
                        "alarm feed round failed (%d so far): %s", self.errors, exc, exc_info=exc
                    )

    def stop(self) -> None:
        """Stop the thread, unsubscribe and write what is still queued."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.book.flush()

    def stats(self) -> dict[str, Any]:
        """The book's figures plus the feed's rounds and failed rounds."""
        return {**self.book.stats(), "feed_polls": self.polls, "feed_errors": self.errors}
