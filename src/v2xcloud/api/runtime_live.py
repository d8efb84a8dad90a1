"""The ``LiveSource`` over the real platform core (``runtime.Runtime``).

``RuntimeLive`` attaches to a runtime as an advisory sink, so it runs at the end of every
tick on the tick's own thread: it snapshots the scene view (participants, intersections,
road events), the advisories in force and, at most once a second, the runtime's statistics,
then tells its subscribers. Road events are the runtime's live set (``active_events()``:
detected by the platform, and received in RSI). The API only ever reads these snapshots, so a request never
touches the scene while a tick is running. The runtime puts a tick's advisories in force
before its sinks run, so the REST snapshot (``advisories()``) and the tick's stream delta
always show the same tick.

In the centre tier (``serve --role centre``) the runtime runs no scene of its own: the edge
workers do, and send their tiles' road users (``runtime.live_map``). There ``participants``
(a ``ParticipantFeed``, the centre's ``LiveMap``) gives each tick's participants instead of
the scene view, so ``/api/participants``, the tick stream and the history serve the merged
map of every worker through this same ``LiveSource``.

The serve loop is here too: ``start(hz)`` ticks the runtime on a daemon thread at the time of
the runtime's clock (``runtime.clock``), paced at ``hz``; ``step()`` is one such tick, for tests
driving a ``ManualClock``. A subscriber that raises is counted and logged in the runtime's
``failures`` (``subscriber:<name>``) and the other subscribers still hear of the tick; the
counts are in ``stats().errors`` and so in ``/api/stats``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from v2xcloud.api._subscribers import Subscribers
from v2xcloud.api.live import (
    CounterRates,
    ParticipantFeed,
    PlatformStats,
    TickDelta,
    Unsubscribe,
)
from v2xcloud.errors import ConfigError
from v2xcloud.model import (
    Advisory,
    DeadLetter,
    IntersectionView,
    MisbehaviourReport,
    NodeId,
    ParticipantState,
    RoadEvent,
)
from v2xcloud.runtime import Runtime
from v2xcloud.store import BBox

__all__ = ["RuntimeLive"]

logger = logging.getLogger(__name__)


class RuntimeLive:
    """A ``LiveSource`` fed by ``runtime``'s ticks (it adds itself as a sink); its
    participants are the scene's, or ``participants``' when given (the centre tier's)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        stats_period_ms: int = 1000,
        before_tick: Callable[[int], None] | None = None,
        participants: ParticipantFeed | None = None,
    ) -> None:
        self.runtime = runtime
        self.feed = participants
        self.before_tick = before_tick  # e.g. drain the gateways' queue into the runtime
        self._lock = threading.Lock()
        self._subscribers = Subscribers(failures=runtime.failures)
        self._loop_stop = threading.Event()
        self._loop: threading.Thread | None = None
        self._participants: dict[str, ParticipantState] = {}
        self._intersections: list[IntersectionView] = []
        self._events: list[RoadEvent] = []
        self._advisories: list[Advisory] = []
        self._stats = PlatformStats(now_ms=0)
        self._rates = CounterRates(stats_period_ms)
        self._security_rates = CounterRates(
            stats_period_ms
        )  # frames verified, refused by the guard
        self._letters: list[DeadLetter] = []  # the tick's dead letters, for its delta
        runtime.add_dead_letter_sink(self._letters.extend)  # called before the advisory sinks
        self._flagged: list[MisbehaviourReport] = []  # the tick's misbehaviour reports
        runtime.add_misbehaviour_sink(self._flagged.extend)  # also before the advisory sinks
        runtime.add_sink(self)

    # -- AdvisorySink: called by the runtime at the end of each tick -----------------------------
    def emit(self, advisories: Sequence[Advisory], *, now_ms: int) -> None:
        """Snapshot the tick and tell subscribers (runs on the tick's thread, never blocks)."""
        view = self.runtime.view
        if view is None:
            return
        if self.feed is not None:  # the workers' scenes (the centre tier)
            states = dict(self.feed.states(now_ms))
        else:
            states = {pid: view.state(row) for row, pid in enumerate(view.ids)}
        intersections = _intersections(view.intersections)
        events = self.runtime.active_events()  # detected by the platform and received in RSI
        stats = self._platform_stats(now_ms, len(states)) if self._rates.due(now_ms) else None
        with self._lock:
            previous = self._participants
            removed = tuple(pid for pid in previous if pid not in states)
            # a participant without a new report keeps the very same state object
            changed = tuple(s for pid, s in states.items() if previous.get(pid) is not s)
            known_events = {(e.source, e.event_id) for e in self._events}
            self._participants = states
            self._intersections = intersections
            self._events = events
            self._advisories = self.runtime.active_advisories()
            if stats is not None:
                self._stats = stats
        delta = TickDelta(
            now_ms=now_ms,
            participants=changed,
            removed_ids=removed,
            advisories=tuple(advisories),
            signals=tuple(i.signal for i in intersections if i.signal),
            events=tuple(e for e in events if (e.source, e.event_id) not in known_events),
            stats=stats,
            dead_letters=tuple(self._letters),
            misbehaviour=tuple(self._flagged),
        )
        self._letters.clear()
        self._flagged.clear()
        self._subscribers.notify(delta)

    def _platform_stats(self, now_ms: int, participants: int) -> PlatformStats:
        raw: dict[str, Any] = self.runtime.stats()
        total_in = sum(raw["messages_in"].values())
        total_out = sum(raw["advisories_out"].values())
        self._rates.update(now_ms, total_in, total_out)
        latency = raw["latency_ms"]
        return PlatformStats(
            now_ms=now_ms,
            messages_in_per_s=self._rates.in_per_s,
            advisories_out_per_s=self._rates.out_per_s,
            tick_ms=raw["tick_ms"]["p50"] or 0.0,
            latency_p50_ms=latency["p50"],
            latency_p99_ms=latency["p99"],
            participants=participants,
            dead_letters=dict(raw["dead_letters"]),
            errors=dict(raw["errors"]),
            last_errors=dict(raw["last_errors"]),
            evicted=dict(raw["evicted"]),
            security=self._security(raw, now_ms),
            misbehaviour={
                k: v for k, v in raw.get("misbehaviour", {}).items() if isinstance(v, int)
            },
        )

    def _security(self, raw: dict[str, Any], now_ms: int) -> dict[str, Any]:
        """The security stage's counters (``runtime.stats()["guard"]``) as ``PlatformStats``
        describes them; empty without a guard."""
        guard: dict[str, Any] | None = raw.get("guard")
        if guard is None:
            return {}
        rejected = {k[9:]: int(v) for k, v in guard.items() if k.startswith("rejected.")}
        verified = int(guard.get("verified", 0))
        total_rejected = sum(rejected.values())
        rates = self._security_rates
        rates.update(now_ms, verified, total_rejected)
        doc: dict[str, Any] = {
            "verified": verified,
            "verified_per_s": round(rates.in_per_s, 1),
            "by_profile": {k[9:]: int(v) for k, v in guard.items() if k.startswith("verified.")},
            "rejected": rejected,
            "rejected_total": total_rejected,
            "rejected_per_s": round(rates.out_per_s, 1),
            "unsigned_passed": int(guard.get("unsigned_passed", 0)),
            "region_unchecked": int(guard.get("region_unchecked", 0)),
            "trust": guard.get("trust", {}),
            "replay": guard.get("replay", {}),
        }
        signer = raw.get("signer")
        if signer is not None:
            doc["platform_signed"] = {
                k[7:]: v for k, v in signer.items() if k.startswith("signed.")
            }
        return doc

    # -- the serve loop --------------------------------------------------------------------------
    def step(self) -> list[Advisory]:
        """One tick of the runtime at its clock's time (``runtime.clock.now_ms()``), after
        ``before_tick`` (what arrived since the last tick is ingested on this thread)."""
        now_ms = self.runtime.clock.now_ms()
        if self.before_tick is not None:
            self.before_tick(now_ms)
        return self.runtime.tick(now_ms)

    def start(self, *, hz: float = 10.0) -> None:
        """Tick at ``hz`` on a daemon thread (each at the clock's time) until :meth:`stop`."""
        if hz <= 0:
            raise ConfigError(f"tick rate must be positive, got {hz} Hz")
        if self._loop is not None:
            raise ConfigError("the serve loop is already running; stop() it first")
        self._loop_stop.clear()
        self._loop = threading.Thread(
            target=self._run, args=(1.0 / hz,), name="runtime-tick", daemon=True
        )
        self._loop.start()

    def _run(self, period_s: float) -> None:
        while not self._loop_stop.is_set():
            try:
                self.step()
            except Exception as exc:  # the scene itself failed: keep serving, count it
                self.runtime.failures.record("tick", exc, logger=logger)
            self._loop_stop.wait(period_s)

    def stop(self) -> None:
        """Stop the serve loop (waits for the running tick to finish)."""
        self._loop_stop.set()
        if self._loop is not None:
            self._loop.join()
            self._loop = None

    # -- LiveSource ------------------------------------------------------------------------------
    def participants(self, bbox: BBox | None = None) -> list[ParticipantState]:
        with self._lock:
            found = list(self._participants.values())
        return [p for p in found if bbox is None or bbox.contains(p.lat_deg, p.lon_deg)]

    def intersections(self) -> list[IntersectionView]:
        with self._lock:
            return list(self._intersections)

    def advisories(self) -> list[Advisory]:
        with self._lock:
            return list(self._advisories)

    def road_events(self) -> list[RoadEvent]:
        with self._lock:
            return list(self._events)

    def stats(self) -> PlatformStats:
        return self._stats

    def subscribe(self, callback: Callable[[TickDelta], None]) -> Unsubscribe:
        return self._subscribers.subscribe(callback)


def _intersections(places: Mapping[NodeId, IntersectionView]) -> list[IntersectionView]:
    """The intersections whose MAP is known (the API draws lanes; a SPAT alone has none)."""
    return [place for place in places.values() if place.node is not None]
