"""The batching writer: the hot path hands over objects, a thread writes them in bulk.

Every ``retention_interval_s`` the writer thread also applies the store's retention, and
calls each of ``retention_hooks`` with the time (e.g. the audit trail's retention).
``submit_*`` never blocks and never touches the database: it downsamples participant states
(at most one row per participant per ``participant_interval_ms``) and appends to a bounded
queue. The writer thread drains the queue every ``flush_interval_s`` (or sooner when
``max_batch`` items wait) and writes each kind as one bulk call. When the queue is full, new
items are dropped and counted in ``stats`` (the platform must not stall on its history).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from v2xcloud.bounded import LruTable
from v2xcloud.errors import StoreError
from v2xcloud.model import Advisory, DeadLetter, MisbehaviourReport, ParticipantState, RoadEvent
from v2xcloud.store.base import HistoryStore
from v2xcloud.store.records import EvReportRecord

__all__ = ["HistoryWriter", "WriterStats"]

logger = logging.getLogger(__name__)

_MAX_TRACKED = 100_000  # participant ids remembered for downsampling (least recent evicted)


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


class WriterStats(msgspec.Struct, kw_only=True):
    """Counters of a ``HistoryWriter`` (rows written per kind, drops, failures)."""

    written: dict[str, int] = msgspec.field(default_factory=dict)
    downsampled: int = 0  # participant states skipped by the downsampling interval
    dropped_full: int = 0  # items dropped because the queue was full
    failed_batches: int = 0
    last_error: str | None = None
    downsample_evicted: int = 0  # participant ids forgotten by the downsampling table's limit
    retention_deleted: dict[str, int] = msgspec.field(default_factory=dict)


class HistoryWriter:
    """Batches writes to a ``HistoryStore`` on its own thread. Use as a context manager.

    ``participant_interval_ms`` is the downsampling interval for participant states (0 keeps
    every state); it remembers the last kept time of at most ``max_tracked`` participants
    (the least recently kept are forgotten, counted in ``stats.downsample_evicted``, and their
    next state is kept). Also usable as the EV wing's report sink via ``submit_ev_reports``.
    """

    def __init__(
        self,
        store: HistoryStore,
        *,
        participant_interval_ms: int = 1000,
        max_queue: int = 200_000,
        max_batch: int = 20_000,
        flush_interval_s: float = 0.5,
        retention_interval_s: float | None = 600.0,
        clock_ms: Callable[[], int] = _wall_clock_ms,
        max_tracked: int = _MAX_TRACKED,
        retention_hooks: Sequence[Callable[[int], object]] = (),
    ) -> None:
        self.store = store
        self.retention_hooks = tuple(retention_hooks)
        self.retention_interval_s = retention_interval_s
        self.clock_ms = clock_ms
        self._next_retention = time.monotonic() + (retention_interval_s or 0.0)
        self.participant_interval_ms = participant_interval_ms
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.flush_interval_s = flush_interval_s
        self.stats = WriterStats()
        self._queue: deque[tuple[str, Any]] = deque()
        self._last_kept_ms: LruTable[str, int] = LruTable(
            limit=max_tracked, name="history downsampling (participant ids)"
        )
        self._wake = threading.Condition()
        self._is_running = True
        self._pending = 0  # items taken from the queue but not yet written
        self._thread = threading.Thread(target=self._loop, name="history-writer", daemon=True)
        self._thread.start()

    # -- hot path ------------------------------------------------------------------------------
    def _enqueue(self, kind: str, items: Sequence[Any]) -> None:
        if not self._is_running:
            raise StoreError("history writer is closed; create a new one")
        with self._wake:
            room = self.max_queue - len(self._queue)
            if room < len(items):
                self.stats.dropped_full += len(items) - max(room, 0)
                items = items[: max(room, 0)]
            self._queue.extend((kind, item) for item in items)
            if len(self._queue) >= self.max_batch:
                self._wake.notify()

    def submit_participants(self, states: Sequence[ParticipantState]) -> None:
        """Queue participant states, keeping one per participant per interval."""
        kept = []
        interval = self.participant_interval_ms
        last = self._last_kept_ms
        for state in states:
            previous = last.get(state.id)
            if previous is not None and state.timestamp_ms - previous < interval:
                continue
            last[state.id] = state.timestamp_ms
            kept.append(state)
        self.stats.downsampled += len(states) - len(kept)
        self.stats.downsample_evicted = last.evicted  # an evicted id's next state is kept
        self._enqueue("participants", kept)

    def submit_advisories(self, advisories: Sequence[Advisory]) -> None:
        """Queue advisories (all are kept)."""
        self._enqueue("advisories", advisories)

    def submit_road_events(self, events: Sequence[RoadEvent], *, recorded_ms: int) -> None:
        """Queue road events as seen at ``recorded_ms``."""
        self._enqueue("road_events", [(recorded_ms, e) for e in events])

    def submit_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Queue dead letters (a ``Runtime.add_dead_letter_sink`` sink: never blocks)."""
        self._enqueue("dead_letters", letters)

    def submit_misbehaviour(self, reports: Sequence[MisbehaviourReport]) -> None:
        """Queue misbehaviour reports (a ``Runtime.add_misbehaviour_sink`` sink: never blocks)."""
        self._enqueue("misbehaviour", reports)

    def submit_ev_reports(self, reports: Sequence[EvReportRecord]) -> None:
        """Queue EV reports."""
        self._enqueue("ev_reports", reports)

    # -- writer thread -------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._wake:
                if self._is_running and len(self._queue) < self.max_batch:
                    self._wake.wait(self.flush_interval_s)
                batch = [
                    self._queue.popleft() for _ in range(min(len(self._queue), self.max_batch))
                ]
                self._pending = len(batch)
                is_last = not self._is_running and not self._queue
            if batch:
                self._write(batch)
            self._maybe_apply_retention()
            with self._wake:
                self._pending = 0
                self._wake.notify_all()
            if is_last:
                return

    def _write(self, batch: list[tuple[str, Any]]) -> None:
        by_kind: dict[str, list[Any]] = {}
        for kind, item in batch:
            by_kind.setdefault(kind, []).append(item)
        for kind, items in by_kind.items():
            try:
                written = self._write_kind(kind, items)
            except StoreError as exc:
                self.stats.failed_batches += 1
                self.stats.last_error = f"{kind}: {exc}"
                continue
            self.stats.written[kind] = self.stats.written.get(kind, 0) + written

    def _maybe_apply_retention(self) -> None:
        if self.retention_interval_s is None or time.monotonic() < self._next_retention:
            return
        self._next_retention = time.monotonic() + self.retention_interval_s
        for hook in self.retention_hooks:
            try:
                hook(self.clock_ms())
            except StoreError as exc:  # the history's own retention still runs
                self.stats.failed_batches += 1
                self.stats.last_error = f"retention hook: {exc}"
                logger.error("history retention hook %r failed: %s", hook, exc)
        try:
            deleted = self.store.apply_retention(now_ms=self.clock_ms())
        except StoreError as exc:
            self.stats.failed_batches += 1
            self.stats.last_error = f"retention: {exc}"
            return
        for table, count in deleted.items():
            self.stats.retention_deleted[table] = self.stats.retention_deleted.get(table, 0) + count

    def _write_kind(self, kind: str, items: list[Any]) -> int:
        if kind == "participants":
            return self.store.write_participants(items)
        if kind == "advisories":
            return self.store.write_advisories(items)
        if kind == "dead_letters":
            return self.store.write_dead_letters(items)
        if kind == "ev_reports":
            return self.store.write_ev_reports(items)
        if kind == "misbehaviour":
            return self.store.write_misbehaviour(items)
        total = 0
        for recorded_ms in sorted({r for r, _ in items}):
            events = [e for r, e in items if r == recorded_ms]
            total += self.store.write_road_events(events, recorded_ms=recorded_ms)
        return total

    # -- control -------------------------------------------------------------------------------
    def flush(self, *, timeout_s: float = 30.0) -> None:
        """Block until everything submitted so far is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        with self._wake:
            self._wake.notify()
            while self._queue or self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StoreError(f"history writer did not flush within {timeout_s} s")
                self._wake.notify()
                self._wake.wait(min(remaining, 0.05))

    def close(self) -> None:
        """Write what is queued and stop the thread; the store stays open."""
        with self._wake:
            self._is_running = False
            self._wake.notify_all()
        self._thread.join()

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
