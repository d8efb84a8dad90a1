"""What the API needs from the running platform: the ``LiveSource`` protocol and its types.

The API never reaches into the runtime's internals; it reads a ``LiveSource``. The adapter to
the real ``Runtime`` and an in-package scripted fake (``api.testing``) both implement it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import msgspec

from v2xcloud.model import (
    Advisory,
    DeadLetter,
    IntersectionState,
    IntersectionView,
    MisbehaviourReport,
    ParticipantState,
    RoadEvent,
)
from v2xcloud.store import BBox

__all__ = [
    "CounterRates",
    "IntersectionView",
    "LiveSource",
    "ParticipantFeed",
    "PlatformStats",
    "TickDelta",
    "Unsubscribe",
]


class CounterRates:
    """Per-second rates (in, out) from cumulative counters, refreshed at most every ``period_ms``:
    what ``PlatformStats.messages_in_per_s`` / ``advisories_out_per_s`` report."""

    def __init__(self, period_ms: int) -> None:
        self.period_ms = period_ms
        self.last_ms: int | None = None
        self.last_in = 0
        self.last_out = 0
        self.in_per_s = 0.0
        self.out_per_s = 0.0

    def due(self, now_ms: int) -> bool:
        """Whether a refresh is due at ``now_ms``."""
        return self.last_ms is None or now_ms - self.last_ms >= self.period_ms

    def update(self, now_ms: int, total_in: int, total_out: int) -> None:
        """Take the counters' totals at ``now_ms`` (rates over the span since the last)."""
        if self.last_ms is not None and now_ms > self.last_ms:
            span_s = (now_ms - self.last_ms) / 1000
            self.in_per_s = (total_in - self.last_in) / span_s
            self.out_per_s = (total_out - self.last_out) / span_s
        self.last_ms, self.last_in, self.last_out = now_ms, total_in, total_out


class PlatformStats(msgspec.Struct, frozen=True, kw_only=True):
    """Health figures of the platform at ``now_ms``.

    Rates are per second over the runtime's recent window; ``tick_ms`` is the duration of the
    last tick; latency is message time → advisory emitted, in ms (``None`` before any advisory).
    ``errors`` counts the failures isolated so far per boundary (``"app:FCW"``,
    ``"detector:stopped_vehicle"``, ``"sink:..."``, ``"subscriber:..."``), ``last_errors`` has the
    latest of each as ``"ExceptionType: message"``. ``evicted`` counts the entries the live
    scene's size-limited per-id tables dropped (``"clock_sources"``, ``"intersections"``, ...).
    ``security`` is empty unless the platform verifies signed frames: then ``verified``,
    ``verified_per_s``, ``by_profile`` (verified per profile), ``rejected`` (per drop reason),
    ``rejected_total``, ``rejected_per_s``, ``unsigned_passed``, ``region_unchecked``, the
    trust store's and replay window's figures (``trust``, ``replay``) and, when the platform
    signs what it sends, ``platform_signed`` (per message type).
    """

    now_ms: int
    messages_in_per_s: float = 0.0
    advisories_out_per_s: float = 0.0
    tick_ms: float = 0.0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    participants: int = 0
    dead_letters: dict[str, int] = msgspec.field(default_factory=dict)
    errors: dict[str, int] = msgspec.field(default_factory=dict)
    last_errors: dict[str, str] = msgspec.field(default_factory=dict)
    evicted: dict[str, int] = msgspec.field(default_factory=dict)
    security: dict[str, Any] = msgspec.field(default_factory=dict)
    #: misbehaviour detection's counters (reports checked/refused, evidence per check, flags)
    misbehaviour: dict[str, int] = msgspec.field(default_factory=dict)


class TickDelta(msgspec.Struct, frozen=True, kw_only=True):
    """What changed in one tick: participants with a new report, removed participants, new
    advisories, current signal states, newly announced road events."""

    now_ms: int
    participants: tuple[ParticipantState, ...] = ()
    removed_ids: tuple[str, ...] = ()
    advisories: tuple[Advisory, ...] = ()
    signals: tuple[IntersectionState, ...] = ()
    events: tuple[RoadEvent, ...] = ()
    stats: PlatformStats | None = None
    #: inputs dropped since the previous tick (for the history; not sent on the stream)
    dead_letters: tuple[DeadLetter, ...] = ()
    #: senders flagged since the previous tick (for the history; not sent on the stream)
    misbehaviour: tuple[MisbehaviourReport, ...] = ()


Unsubscribe = Callable[[], None]


class ParticipantFeed(Protocol):
    """Where a ``LiveSource`` over a runtime takes its participants when the runtime's own
    scene does not hold them: the centre tier's merge of the edge workers' tile snapshots
    (``runtime.live_map.LiveMap``)."""

    def states(self, now_ms: int) -> Mapping[str, ParticipantState]:
        """Participant id -> state at ``now_ms`` (called on the tick's thread; the mapping
        handed out is never changed afterwards)."""
        ...


@runtime_checkable
class LiveSource(Protocol):
    """The live platform as the API sees it; every method is cheap and thread-safe.

    ``subscribe`` registers a callback the platform calls once per tick, on its own thread,
    with that tick's ``TickDelta``; the callback must return at once (it never blocks).
    """

    def participants(self, bbox: BBox | None = None) -> list[ParticipantState]:
        """Current participants, optionally only those inside ``bbox``."""
        ...

    def intersections(self) -> list[IntersectionView]:
        """Known intersections with lane geometry and current signal state."""
        ...

    def advisories(self) -> list[Advisory]:
        """Advisories currently in force (not yet expired)."""
        ...

    def road_events(self) -> list[RoadEvent]:
        """Road events currently in force."""
        ...

    def stats(self) -> PlatformStats:
        """Current platform health figures."""
        ...

    def subscribe(self, callback: Callable[[TickDelta], None]) -> Unsubscribe:
        """Call ``callback`` with every tick's delta until the returned function is called."""
        ...
