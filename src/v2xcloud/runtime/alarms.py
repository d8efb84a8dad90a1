"""The alarm book: the live alarms of the platform in one list, with dedupe and the workflow.

Feeders (the API's ``AlarmFeed`` for road events, device faults and misbehaviour; the EV
wing for level-3 GB/T 32960 alarms) call ``raise_alarm`` when a condition holds and
``clear`` (or ``sync`` for a whole source at once) when it ends. One live alarm exists per
``(source, subject, kind)``: raising it again updates that alarm (``occurrences``, newest
summary, severity, place) instead of adding one. A cleared alarm is closed by the platform
(``model.CLEARED_BY``); operators ``acknowledge`` and ``close`` (``AlarmStateError`` when the
step does not apply, ``KeyError`` for an unknown id).

Bounds: at most ``max_live`` live alarms; raising one more closes the least severe, least
recently updated twentieth of them (``closed_by`` ``EVICTED_BY``, counted in ``evicted``,
logged once per 1000). Closed alarms leave the book at once; their history is the repository's.

Persistence: every change is queued (``pending``) and written by ``flush`` to the
``repository`` (``store.alarms.AlarmTable``: DuckDB or PostgreSQL); a failed write is counted,
logged and retried on the next flush (at most ``max_pending`` changes wait; more are dropped,
counted). On start, ``load`` takes the live alarms back from the repository, so an
acknowledgement survives a restart. Thread-safe: feeders, the API and the flusher may call
from any thread.

>>> from v2xcloud.model import AlarmSeverity, AlarmSource
>>> book = AlarmBook()
>>> a = book.raise_alarm(source=AlarmSource.DEVICE, subject="R1", kind="offline",
...                      severity=AlarmSeverity.MAJOR, summary="R1 offline", at_ms=1_000)
>>> b = book.raise_alarm(source=AlarmSource.DEVICE, subject="R1", kind="offline",
...                      severity=AlarmSeverity.MAJOR, summary="R1 offline", at_ms=2_000)
>>> a.alarm_id == b.alarm_id, b.occurrences, len(book.live())
(True, 2, 1)
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Protocol

import msgspec

from v2xcloud.errors import AlarmStateError, ConfigError, StoreError
from v2xcloud.model import CLEARED_BY, Alarm, AlarmSeverity, AlarmSource, AlarmState

__all__ = [
    "EVICTED_BY",
    "AlarmBook",
    "AlarmCondition",
    "AlarmRepository",
]

logger = logging.getLogger(__name__)

EVICTED_BY = "v2xcloud:evicted"
"""``closed_by`` of a live alarm closed to keep the book within ``max_live``."""


class AlarmRepository(Protocol):
    """Where alarms are kept (``store.alarms.AlarmTable``)."""

    def save_all(self, alarms: Sequence[Alarm]) -> None:
        """Insert or replace these alarms (by ``alarm_id``)."""
        ...

    def load_live(self, limit: int) -> list[Alarm]:
        """The stored alarms not closed yet, at most ``limit``, newest first."""
        ...


class AlarmCondition(NamedTuple):
    """One condition that holds now, for ``AlarmBook.sync``."""

    subject: str
    kind: str
    severity: AlarmSeverity
    summary: str
    tenant: str | None = None
    lat_deg: float | None = None
    lon_deg: float | None = None


class AlarmBook:
    """The live alarms; see the module docstring."""

    def __init__(
        self,
        *,
        repository: AlarmRepository | None = None,
        max_live: int = 5000,
        max_pending: int = 50_000,
    ) -> None:
        if max_live < 1 or max_pending < 1:
            raise ConfigError(
                f"AlarmBook: max_live and max_pending must be >= 1, got {max_live}, {max_pending}"
            )
        self.repository = repository
        self.max_live = max_live
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._live: dict[str, Alarm] = {}  # key -> alarm
        self._by_id: dict[str, str] = {}  # alarm_id -> key
        self._pending: dict[str, Alarm] = {}  # alarm_id -> newest unsaved version
        self.counts: Counter[str] = Counter()  # raised/updated/cleared/acknowledged/closed
        self.evicted = 0
        self.dropped_pending = 0
        self.failed_writes = 0

    # -- feeders ---------------------------------------------------------------------------
    def raise_alarm(
        self,
        *,
        source: AlarmSource,
        subject: str,
        severity: AlarmSeverity,
        summary: str,
        at_ms: int,
        kind: str = "",
        tenant: str | None = None,
        lat_deg: float | None = None,
        lon_deg: float | None = None,
    ) -> Alarm:
        """Raise (or update, when one is live for ``source|subject|kind``) an alarm."""
        with self._lock:
            key = f"{source.value}|{subject}|{kind}"
            before = self._live.get(key)
            if before is None:
                alarm = Alarm(
                    alarm_id=secrets.token_hex(8),
                    source=source,
                    subject=subject,
                    kind=kind,
                    severity=severity,
                    summary=summary,
                    tenant=tenant,
                    lat_deg=lat_deg,
                    lon_deg=lon_deg,
                    raised_ms=at_ms,
                    updated_ms=at_ms,
                )
                self._make_room()
                self.counts["raised"] += 1
            else:
                alarm = msgspec.structs.replace(
                    before,
                    severity=severity,
                    summary=summary,
                    lat_deg=lat_deg if lat_deg is not None else before.lat_deg,
                    lon_deg=lon_deg if lon_deg is not None else before.lon_deg,
                    updated_ms=max(at_ms, before.updated_ms),
                    occurrences=before.occurrences + 1,
                )
                self.counts["updated"] += 1
            self._put(alarm)
            return alarm

    def clear(
        self, source: AlarmSource, subject: str, *, at_ms: int, kind: str = ""
    ) -> Alarm | None:
        """The condition ended: close its live alarm (``CLEARED_BY``); ``None`` if none."""
        with self._lock:
            before = self._live.get(f"{source.value}|{subject}|{kind}")
            if before is None:
                return None
            self.counts["cleared"] += 1
            return self._close(before, CLEARED_BY, at_ms, cleared_ms=at_ms)

    def sync(
        self, source: AlarmSource, conditions: Iterable[AlarmCondition], *, at_ms: int
    ) -> None:
        """Make ``source``'s live alarms exactly ``conditions``: raise/update each, clear the
        live alarms of ``source`` not among them. A condition that did not change (same
        severity and summary) is not rewritten."""
        seen: set[str] = set()
        for c in conditions:
            key = f"{source.value}|{c.subject}|{c.kind}"
            seen.add(key)
            with self._lock:
                before = self._live.get(key)
            if before is not None and (before.severity, before.summary) == (c.severity, c.summary):
                continue
            self.raise_alarm(
                source=source,
                subject=c.subject,
                kind=c.kind,
                severity=c.severity,
                summary=c.summary,
                at_ms=at_ms,
                tenant=c.tenant,
                lat_deg=c.lat_deg,
                lon_deg=c.lon_deg,
            )
        with self._lock:
            gone = [a for k, a in self._live.items() if a.source is source and k not in seen]
        for alarm in gone:
            self.clear(source, alarm.subject, kind=alarm.kind, at_ms=at_ms)

    # -- operators ---------------------------------------------------------------------------
    def acknowledge(self, alarm_id: str, *, by: str, at_ms: int) -> Alarm:
        """Open → acknowledged, by ``by`` at ``at_ms``. ``KeyError`` when no live alarm has
        this id (a closed one included), ``AlarmStateError`` when it is acknowledged already."""
        with self._lock:
            alarm = self._get(alarm_id)
            if alarm.state is AlarmState.ACKNOWLEDGED:
                raise AlarmStateError(
                    f"alarm {alarm_id} was already acknowledged by {alarm.acked_by} "
                    f"at {alarm.acked_ms}"
                )
            acked = msgspec.structs.replace(
                alarm, state=AlarmState.ACKNOWLEDGED, acked_by=by, acked_ms=at_ms
            )
            self.counts["acknowledged"] += 1
            self._put(acked)
            return acked

    def close(self, alarm_id: str, *, by: str, at_ms: int) -> Alarm:
        """Open or acknowledged → closed, by ``by`` at ``at_ms`` (``KeyError`` when no live
        alarm has this id)."""
        with self._lock:
            return self._close(self._get(alarm_id), by, at_ms)

    # -- reading ---------------------------------------------------------------------------
    def live(self) -> list[Alarm]:
        """The live alarms, most severe first, then newest first."""
        with self._lock:
            found = list(self._live.values())
        return sorted(found, key=lambda a: (-a.severity.rank, -a.updated_ms))

    def get(self, alarm_id: str) -> Alarm | None:
        """The live alarm of this id, or ``None``."""
        with self._lock:
            key = self._by_id.get(alarm_id)
            return None if key is None else self._live.get(key)

    def stats(self) -> dict[str, Any]:
        """Live alarms per state and severity, lifecycle counters, evictions, write health."""
        live = self.live()
        return {
            "live": len(live),
            "by_state": dict(Counter(a.state.value for a in live)),
            "by_severity": dict(Counter(a.severity.value for a in live)),
            "lifecycle": dict(self.counts),
            "evicted": self.evicted,
            "pending_writes": len(self._pending),
            "dropped_writes": self.dropped_pending,
            "failed_writes": self.failed_writes,
        }

    # -- persistence ---------------------------------------------------------------------------
    def load(self) -> int:
        """Take the repository's live alarms into the book (at start); returns how many."""
        if self.repository is None:
            return 0
        found = self.repository.load_live(self.max_live)
        with self._lock:
            for alarm in found:
                if alarm.key not in self._live:
                    self._live[alarm.key] = alarm
                    self._by_id[alarm.alarm_id] = alarm.key
        return len(found)

    def flush(self) -> int:
        """Write the queued changes to the repository; returns how many were written. A
        failure is counted, logged and the changes kept for the next flush."""
        if self.repository is None:
            with self._lock:
                self._pending.clear()
            return 0
        with self._flush_lock:
            with self._lock:
                batch = list(self._pending.values())
                self._pending.clear()
            if not batch:
                return 0
            try:
                self.repository.save_all(batch)
            except StoreError as exc:
                self.failed_writes += 1
                logger.error("alarm book: %d alarm changes not written: %s", len(batch), exc)
                with self._lock:
                    for alarm in batch:  # a newer version queued meanwhile wins
                        self._pending.setdefault(alarm.alarm_id, alarm)
                return 0
            return len(batch)

    # -- plumbing (called with the lock held) -----------------------------------------------
    def _get(self, alarm_id: str) -> Alarm:
        key = self._by_id.get(alarm_id)
        if key is None:
            raise KeyError(alarm_id)
        return self._live[key]

    def _close(self, alarm: Alarm, by: str, at_ms: int, *, cleared_ms: int | None = None) -> Alarm:
        closed = msgspec.structs.replace(
            alarm,
            state=AlarmState.CLOSED,
            closed_by=by,
            closed_ms=at_ms,
            cleared_ms=cleared_ms if cleared_ms is not None else alarm.cleared_ms,
        )
        self.counts["closed"] += 1
        self._put(closed)
        return closed

    def _put(self, alarm: Alarm) -> None:
        if alarm.is_live:
            self._live[alarm.key] = alarm
            self._by_id[alarm.alarm_id] = alarm.key
        else:
            self._live.pop(alarm.key, None)
            self._by_id.pop(alarm.alarm_id, None)
        if alarm.alarm_id not in self._pending and len(self._pending) >= self.max_pending:
            self.dropped_pending += 1
            if self.dropped_pending == 1 or self.dropped_pending % 1000 == 0:
                logger.error(
                    "alarm book: %d changes waiting to be written; %d not kept",
                    self.max_pending,
                    self.dropped_pending,
                )
            return
        self._pending[alarm.alarm_id] = alarm

    def _make_room(self) -> None:
        """At the bound, close the least severe, least recently updated twentieth of the book
        at once (one sort per many raises, not a scan per raise)."""
        if len(self._live) < self.max_live:
            return
        ranked = sorted(self._live.values(), key=lambda a: (a.severity.rank, a.updated_ms))
        victims = ranked[: max(1, self.max_live // 20)]
        before = self.evicted
        self.evicted += len(victims)
        if before == 0 or before // 1000 != self.evicted // 1000:
            logger.warning(
                "alarm book full (%d live): closed %d alarms to make room (latest %s)",
                self.max_live,
                self.evicted,
                victims[-1].key,
            )
        for victim in victims:
            self._close(victim, EVICTED_BY, victim.updated_ms)
