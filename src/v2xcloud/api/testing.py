"""A scripted live platform for tests and demos without the runtime: ``ScriptedLive``.

One signalised four-arm intersection (lanes, stop lines at the lane ends, crosswalks), a
fixed-time signal plan, vehicles driving through on loops, a pedestrian on a crosswalk, and a
scripted hazard: from ``hazard_at_s`` a vehicle stalls on the eastbound approach, a road event
is raised and every eastbound vehicle approaching it gets an ``AVW`` advisory.
Deterministic for a given ``step(now_ms)`` sequence; ``start()`` drives it from its clock
(the wall clock unless another ``runtime.Clock`` is given).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from v2xcloud.api import _scripted_geometry as geo
from v2xcloud.api._subscribers import Subscribers
from v2xcloud.api.live import CounterRates, PlatformStats, TickDelta, Unsubscribe
from v2xcloud.model import (
    Advisory,
    AdvisoryLevel,
    IntersectionView,
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
    RoadEvent,
)
from v2xcloud.runtime import Clock, SystemClock
from v2xcloud.store import BBox

__all__ = ["ScriptedLive"]

_STALLED_ID = "veh-stalled"


class ScriptedLive:
    """A ``LiveSource`` that plays a fixed scenario; see the module docstring."""

    def __init__(
        self,
        *,
        start_ms: int,
        hazard_at_s: float = 3.0,
        vehicles: int = 8,
        clock: Clock | None = None,
    ) -> None:
        self.start_ms = start_ms
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.hazard_at_s = hazard_at_s
        self._routes = geo.vehicle_routes(vehicles)
        self._lock = threading.Lock()
        self._subscribers = Subscribers()
        self._participants: dict[str, ParticipantState] = {}
        self._advisories: list[Advisory] = []
        self._events: list[RoadEvent] = []
        self._stats = PlatformStats(now_ms=start_ms)
        self._last_warned_ms: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # rates over the last second from running totals, like the platform's (a rate of one
        # tick's count said "0.0 adv/s out" on the ticks between two warnings)
        self._rates = CounterRates(period_ms=1000)
        self._total_in = 0
        self._total_out = 0

    # -- LiveSource ------------------------------------------------------------------------------
    def participants(self, bbox: BBox | None = None) -> list[ParticipantState]:
        with self._lock:
            found = list(self._participants.values())
        return [p for p in found if bbox is None or bbox.contains(p.lat_deg, p.lon_deg)]

    def intersections(self) -> list[IntersectionView]:
        now_s = (self._stats.now_ms - self.start_ms) / 1000
        signal = geo.signal_state(now_s, self._stats.now_ms)
        return [IntersectionView(node_id=geo.NODE.id, node=geo.NODE, signal=signal)]

    def advisories(self) -> list[Advisory]:
        with self._lock:
            return [a for a in self._advisories if a.expires_ms >= self._stats.now_ms]

    def road_events(self) -> list[RoadEvent]:
        with self._lock:
            return list(self._events)

    def stats(self) -> PlatformStats:
        return self._stats

    def subscribe(self, callback: Callable[[TickDelta], None]) -> Unsubscribe:
        return self._subscribers.subscribe(callback)

    # -- the scenario ----------------------------------------------------------------------------
    def step(self, now_ms: int) -> TickDelta:
        """Advance the scenario to ``now_ms`` and tell every subscriber; returns the delta."""
        began = time.perf_counter()
        t_s = (now_ms - self.start_ms) / 1000
        states = [self._vehicle(i, route, t_s, now_ms) for i, route in enumerate(self._routes)]
        states.append(self._pedestrian(t_s, now_ms))
        events: list[RoadEvent] = []
        advisories: list[Advisory] = []
        if t_s >= self.hazard_at_s:
            stalled_lat, stalled_lon = geo.to_latlon(-45.0, -1.75)
            states.append(
                self._state(
                    _STALLED_ID,
                    ParticipantKind.VEHICLE,
                    now_ms,
                    stalled_lat,
                    stalled_lon,
                    0.0,
                    90.0,
                )
            )
            if not self._events:
                events.append(geo.hazard_event(now_ms, stalled_lat, stalled_lon))
            advisories = self._warn_approaching(states, now_ms, stalled_lat, stalled_lon)
        tick_ms = (time.perf_counter() - began) * 1000
        self._total_in += len(states)
        self._total_out += len(advisories)
        if self._rates.due(now_ms):
            self._rates.update(now_ms, self._total_in, self._total_out)
        stats = PlatformStats(
            now_ms=now_ms,
            messages_in_per_s=self._rates.in_per_s,
            advisories_out_per_s=self._rates.out_per_s,
            tick_ms=tick_ms,
            latency_p50_ms=tick_ms,
            latency_p95_ms=tick_ms,
            latency_p99_ms=tick_ms,
            participants=len(states),
            errors=self._subscribers.failures.counts(),
            last_errors=self._subscribers.failures.last(),
        )
        signal = geo.signal_state(t_s, now_ms)
        delta = TickDelta(
            now_ms=now_ms,
            participants=tuple(states),
            advisories=tuple(advisories),
            signals=(signal,),
            events=tuple(events),
            stats=stats,
        )
        with self._lock:
            self._participants = {s.id: s for s in states}
            self._advisories = [a for a in self._advisories if a.expires_ms >= now_ms] + advisories
            self._events += events
            self._stats = stats
        self._subscribers.notify(delta)
        return delta

    def _state(
        self,
        pid: str,
        kind: ParticipantKind,
        now_ms: int,
        lat: float,
        lon: float,
        speed: float,
        heading: float,
    ) -> ParticipantState:
        return ParticipantState(
            id=pid,
            kind=kind,
            source=ParticipantSource.SIM,
            timestamp_ms=now_ms,
            lat_deg=lat,
            lon_deg=lon,
            speed_mps=speed,
            heading_deg=heading,
            length_m=4.5 if kind == "vehicle" else 0.5,
            width_m=1.8 if kind == "vehicle" else 0.5,
        )

    def _vehicle(self, index: int, route: geo.Route, t_s: float, now_ms: int) -> ParticipantState:
        east, north = route.position(t_s)
        lat, lon = geo.to_latlon(east, north)
        return self._state(
            f"veh-{index:02d}",
            ParticipantKind.VEHICLE,
            now_ms,
            lat,
            lon,
            route.speed_mps,
            route.heading_deg,
        )

    def _pedestrian(self, t_s: float, now_ms: int) -> ParticipantState:
        phase = (t_s / 12.0) % 2.0  # walks 12 s across, 12 s back
        north = -9.0 + 18.0 * (phase if phase < 1 else 2 - phase)
        lat, lon = geo.to_latlon(-16.0, north)
        heading = 0.0 if phase < 1 else 180.0
        return self._state("ped-01", ParticipantKind.PEDESTRIAN, now_ms, lat, lon, 1.5, heading)

    def _warn_approaching(
        self, states: list[ParticipantState], now_ms: int, lat: float, lon: float
    ) -> list[Advisory]:
        found = []
        for state in states:
            if state.id == _STALLED_ID or state.heading_deg != 90.0:
                continue
            east, north = geo.to_local(state.lat_deg, state.lon_deg)
            gap_m = -45.0 - east
            if not (0.0 < gap_m < 150.0 and -7.0 < north < 0.0):  # either eastbound lane
                continue
            if now_ms - self._last_warned_ms.get(state.id, -(10**12)) < 1000:
                continue
            self._last_warned_ms[state.id] = now_ms
            ttc_s = gap_m / max(state.speed_mps or 0.1, 0.1)
            level = AdvisoryLevel.IMMINENT if ttc_s < 1.5 else AdvisoryLevel.WARNING
            found.append(
                Advisory(
                    app="AVW",
                    level=level,
                    ego_id=state.id,
                    other_id=_STALLED_ID,
                    issued_ms=now_ms,
                    expires_ms=now_ms + 2000,
                    ttc_s=round(ttc_s, 2),
                    lat_deg=lat,
                    lon_deg=lon,
                    detail="stalled vehicle ahead",
                    values={"gap_m": round(gap_m, 1)},
                )
            )
        return found

    # -- wall-clock driver -----------------------------------------------------------------------
    def start(self, *, hz: float = 10.0) -> None:
        """Step at ``hz`` on a daemon thread, at the clock's time, until ``stop()``."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(1.0 / hz,), daemon=True)
        self._thread.start()

    def _run(self, period_s: float) -> None:
        while not self._stop.is_set():
            self.step(self.clock.now_ms())
            self._stop.wait(period_s)

    def stop(self) -> None:
        """Stop the wall-clock driver."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
