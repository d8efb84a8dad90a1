"""Who the signals hold: vehicles that will stop for a red light and so are no conflict party.

A vehicle is *held* when it is MAP-matched (in its direction) to an ingress lane of a
signalised junction, has not yet reached the stop line, every movement of its lane that may
not turn on red shows red when it arrives (``red_at_arrival`` at ``to_stop / speed``),
and it can still stop there: the deceleration it needs (``v² / 2d``) is at most
``stop_decel_mps2`` or it is already braking that hard. A vehicle that cannot stop any more
(a red-light runner) stays a conflict party, as does everyone without MAP, SPAT or lane match.
Whether it can is judged with the tracker's uncertainty (``may_stop``): a runner is
one that could not stop even one σ slower and one σ farther from its line than estimated
(SUMO's drivers brake for red as late as their 4.5 m/s² allows; pvp_emergency: a filtered
speed 0.3 m/s behind a driver's brake onset read 4.62 m/s², and both parties of a crossing
she stopped short of were warned).
A vehicle already at or past its stop line (``to_stop_m`` ≤ 0: the live match clamps to the
line) while every restricted movement of its lane shows red now runs the red as well, and so
does one that ``RedRunners`` saw leave its approach lane on red within ``RUNNER_MEMORY_MS``
(it is inside the junction, where no lane matches any more).

A SPAT for an intersection whose MAP has not arrived yet means that MAP is coming (RSUs send
both; at start-up the first SPAT often comes first). Until it does, nobody near that
junction has a lane match, so the junction apps cannot tell who a red light holds or who
turns: ``MapWait.awaiting`` tells them to leave unmatched vehicles alone meanwhile, for at
most ``MAP_WAIT_MS`` (a MAP that never comes must not silence them for good). Without any
SPAT (no signalised junction known) the no-MAP geometry applies as before.
Whatever the signals, a vehicle already braking hard enough to stop before its stop line
(yielding at a priority junction, or stopping for red) is held too.
ICW and LTA use this to drop cross traffic a red light holds back.

Two vehicles on approach lanes of the same signalised junction that both may go when they
arrive are separated by the signal program (crossing streams never share a green), and two
vehicles approaching different junctions meet at neither: ``signal_separated`` tells ICW
that such straight-line crossings are no conflict.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from v2xcloud.model import LightState, NodeId
from v2xcloud.model.map import GIVE_WAY
from v2xcloud.model.thresholds import MOVING_MPS
from v2xcloud.twin import SceneView
from v2xcloud.twin.junction import TURN_ON_RED, Junction, PhaseTiming, junctions_of
from v2xcloud.twin.movements import LEFT, RIGHT, STRAIGHT, UTURN, Movements

__all__ = [
    "GIVE_WAY_SIGN",
    "GO_PERMITTED",
    "GO_PROTECTED",
    "MIN_BRAKING_MPS2",
    "NO_SIGNAL",
    "STOP",
    "MapWait",
    "RedRunners",
    "can_stop",
    "equal_standing_yields",
    "held_by_signal",
    "lane_timings",
    "may_stop",
    "minor_road",
    "movement_right_of_way",
    "red_at_arrival",
    "red_window",
    "runs_red",
    "signal_separated",
    "stop_window",
    "turning_yields",
]

# braking a driver facing red still does (above it: may run the light): normal firm braking,
# the figure RLVW's red test uses (``RlvwConfig.red_decel_mps2``; SUMO's drivers stop for a
# yellow whenever their 4.5 m/s² does it). At 4.0, 16 of the 25 ICW false alarms on
# demo_district with a party red at arrival began as its need passed 4.0 (4.09-4.26 m/s²),
# before the driver, seeing the light change, braked and stopped.
STOP_DECEL_MPS2 = 4.5
MIN_BRAKING_MPS2 = 0.5  # below this an observed deceleration is no decision to stop
NEAR_LINE_M = 5.0  # a vehicle this close to its stop line that leaves the lane crossed it
RUNNER_MEMORY_MS = 4000  # how long a vehicle that left its lane on red counts as a runner
MIN_RUNNER_SPEED_MPS = MOVING_MPS  # a vehicle not moving past the line is no runner
MAP_WAIT_MS = 5000  # longest wait for the MAP of a junction whose SPAT has arrived
_ASSUMED_YELLOW_S = 3.0  # when a yellow's end is not announced

#: two approaches whose headings at their stop lines differ by more than this come from
#: opposite sides of the junction (``turning_yields``, ``equal_standing_yields``); between
#: 45 and 135 degrees one comes from the other's right or left, under 45 they are one
OPPOSITE_APPROACH_DEG = 135.0
#: right of way of a movement at a vehicle's arrival (``movement_right_of_way``)
NO_SIGNAL, STOP, GO_PERMITTED, GO_PROTECTED, GIVE_WAY_SIGN = 0, 1, 2, 3, 4


def red_at_arrival(timing: PhaseTiming, arrival_s: float) -> bool:
    """Whether the phase shows red ``arrival_s`` seconds from now (unknown ends: it holds)."""
    light, rem = timing.light, timing.remaining_s
    if light.is_red:
        return rem is None or arrival_s < rem or (timing.next_light or light).is_red
    if light is LightState.YELLOW:
        return arrival_s > (_ASSUMED_YELLOW_S if rem is None else rem)
    if light.is_green and rem is not None and arrival_s > rem:
        if timing.next_light is not None and timing.next_light.is_red:
            return True
        if timing.next_light is LightState.YELLOW:
            yellow_end = (
                timing.next_end_s if timing.next_end_s is not None else rem + _ASSUMED_YELLOW_S
            )
            return arrival_s > yellow_end
    return False


_NEVER = (np.inf, -np.inf)  # an empty window: red at no arrival time


def red_window(timing: PhaseTiming) -> tuple[float, float]:
    """The open interval (lo, hi) of arrival times (s from now) at which ``timing`` shows red,
    ``red_at_arrival`` as an interval: red at a finite ``arrival_s`` exactly when
    ``lo < arrival_s < hi`` (``-inf``/``inf``: unbounded; ``(inf, -inf)``: never)."""
    light, rem = timing.light, timing.remaining_s
    if light.is_red:
        if rem is None or (timing.next_light or light).is_red:
            return -np.inf, np.inf
        return -np.inf, rem
    if light is LightState.YELLOW:
        return (_ASSUMED_YELLOW_S if rem is None else rem), np.inf
    if light.is_green and rem is not None:
        if timing.next_light is not None and timing.next_light.is_red:
            return rem, np.inf
        if timing.next_light is LightState.YELLOW:
            yellow_end = (
                timing.next_end_s if timing.next_end_s is not None else rem + _ASSUMED_YELLOW_S
            )
            return max(rem, yellow_end), np.inf
    return _NEVER


def stop_window(timing: PhaseTiming) -> tuple[float, float]:
    """The open interval of arrival times (s from now) at which ``timing`` tells a driver who
    can to stop: red, and amber before it (the implementing regulations of the road traffic
    safety law, art. 38: on amber only a vehicle already past its stop line goes on). Amber
    with no red announced after it is still a stop while it lasts; the red after it is
    ``red_window``'s."""
    light, rem = timing.light, timing.remaining_s
    if light is LightState.YELLOW:
        return -np.inf, red_window(timing)[1]
    if light.is_green and rem is not None and timing.next_light is LightState.YELLOW:
        return rem, red_window(timing)[1]
    return red_window(timing)


def _lane_window(view: SceneView, lane: int) -> tuple[float, float]:
    """When every restricted movement of ``lane`` shows red (the intersection of their
    ``red_window``); never without timings or with a phase the SPAT lacks."""
    timings = lane_timings(view, lane)
    if timings is None:
        return _NEVER
    lo, hi = -np.inf, np.inf
    for t in timings:
        if t is None:
            return _NEVER
        a, b = red_window(t)
        lo, hi = max(lo, a), min(hi, b)
    return lo, hi


def _red_at(
    view: SceneView, lanes: npt.NDArray[np.int64], arrival_s: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """Per entry: whether every restricted movement of ``lanes[k]`` is red ``arrival_s[k]``
    (finite) seconds from now: one window per distinct lane (cached per tick), then one
    comparison for all."""
    if lanes.size == 0:
        return np.zeros(0, dtype=bool)
    cache: dict[int, tuple[float, float]] = view.shared("apps.red_windows", dict)
    distinct, inverse = np.unique(lanes, return_inverse=True)
    bounds = []
    for lane in distinct.tolist():
        found = cache.get(lane)
        if found is None:
            found = cache[lane] = _lane_window(view, lane)
        bounds.append(found)
    window = np.array(bounds, dtype=np.float64).reshape(-1, 2)[inverse.reshape(-1)]
    return (arrival_s > window[:, 0]) & (arrival_s < window[:, 1])


def lane_timings(view: SceneView, lane: int) -> list[PhaseTiming | None] | None:
    """Phase timings of the movements of ``LaneMap`` lane ``lane`` that may not turn on red;
    ``None`` when the lane is no ingress lane of a junction with SPAT (cached per tick)."""
    cache: dict[int, list[PhaseTiming | None] | None] = view.shared("apps.lane_timings", dict)
    if lane in cache:
        return cache[lane]
    joined = junctions_of(view)
    found: list[PhaseTiming | None] | None = None
    j = int(joined.junction_of_lane[lane]) if 0 <= lane < joined.junction_of_lane.size else -1
    if j >= 0 and joined.junctions[j].has_signals:
        junction = joined.junctions[j]
        conns = junction.movements(int(joined.local_lane[lane]))
        found = [
            junction.phase(c.phase_id, view.now_ms) for c in conns if not c.maneuvers & TURN_ON_RED
        ]
        found = found or None
    cache[lane] = found
    return found


def _signal_state(
    view: SceneView, rows: npt.NDArray[np.int64], stop_decel_mps2: float
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per row: (held back by a red or stopping anyway, running a red it can no longer stop
    for)."""
    held = np.zeros(rows.size, dtype=bool)
    runs = np.zeros(rows.size, dtype=bool)
    if view.lanes is None or rows.size == 0:
        return held, runs
    lane, to_stop = view.lane[rows], view.to_stop_m[rows]
    speed = np.maximum(view.speed_mps[rows], 0.1)
    braking = -view.accel_mps2[rows]
    stops = may_stop(view, rows, to_stop, stop_decel_mps2)
    before_line = (lane >= 0) & (to_stop > 0.0)
    held |= before_line & (braking >= MIN_BRAKING_MPS2) & stopping(view, rows, to_stop)
    ahead = np.flatnonzero(before_line & ~held)
    red = _red_at(view, lane[ahead], to_stop[ahead] / speed[ahead])
    held[ahead] = red & stops[ahead]
    runs[ahead] = red & ~stops[ahead]
    past_line = (lane >= 0) & (to_stop <= 0.0) & (view.speed_mps[rows] >= MIN_RUNNER_SPEED_MPS)
    past = np.flatnonzero(past_line)
    runs[past] = _red_at(view, lane[past], np.zeros(past.size))
    return held, runs


def stop_need_mps2(
    view: SceneView, rows: npt.NDArray[np.int64], dist_m: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Per row: the deceleration the driver needs to stop within ``dist_m`` (v² / 2d)."""
    speed = np.maximum(view.speed_mps[rows], 0.1)
    return speed * speed / (2.0 * np.maximum(dist_m, 0.1))


def stop_need_low_mps2(
    view: SceneView, rows: npt.NDArray[np.int64], dist_m: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Per row: ``stop_need_mps2`` at the favourable end of the tracker's one σ: the speed
    one ``speed_sd_mps`` lower, ``dist_m`` one ``position_sd_m`` longer (a driver whose need
    is above a threshold only by this much is not known to be above it)."""
    speed = np.maximum(view.speed_mps[rows] - view.speed_sd_mps[rows], 0.1)
    far = np.maximum(dist_m + view.position_sd_m[rows], 0.1)
    return speed * speed / (2.0 * far)


def stopping(
    view: SceneView, rows: npt.NDArray[np.int64], dist_m: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """Per row: whether the driver already brakes as hard as stopping within ``dist_m`` takes."""
    return -view.accel_mps2[rows] >= stop_need_mps2(view, rows, dist_m)


def can_stop(
    view: SceneView,
    rows: npt.NDArray[np.int64],
    dist_m: npt.NDArray[np.float64],
    decel_mps2: float = STOP_DECEL_MPS2,
) -> npt.NDArray[np.bool_]:
    """Whether a driver can still stop within ``dist_m``: the braking she needs
    (``stop_need_mps2``) is at most ``decel_mps2`` (by default ``STOP_DECEL_MPS2``), or she
    brakes that hard already (``stopping``)."""
    return (stop_need_mps2(view, rows, dist_m) <= decel_mps2) | stopping(view, rows, dist_m)


def may_stop(
    view: SceneView,
    rows: npt.NDArray[np.int64],
    dist_m: npt.NDArray[np.float64],
    decel_mps2: float = STOP_DECEL_MPS2,
) -> npt.NDArray[np.bool_]:
    """Whether each driver may still stop within ``dist_m`` braking at most ``decel_mps2``:
    she is not known to be unable to (``stop_need_low_mps2``, one σ of the tracker's speed
    and position in her favour), or brakes that hard already (``stopping``). A red light or
    a give-way line holds a driver who may (``can_stop`` takes the estimates as they are):
    the one test of who runs a red or forces her way, for every app (module docstring)."""
    low = stop_need_low_mps2(view, rows, dist_m)
    return (low <= decel_mps2) | stopping(view, rows, dist_m)


def held_by_signal(
    view: SceneView, rows: npt.NDArray[np.int64], *, stop_decel_mps2: float = STOP_DECEL_MPS2
) -> npt.NDArray[np.bool_]:
    """Per row of ``rows``: True when a red light holds that vehicle (module docstring)."""
    return _signal_state(view, rows, stop_decel_mps2)[0]


def runs_red(
    view: SceneView,
    rows: npt.NDArray[np.int64],
    *,
    stop_decel_mps2: float = STOP_DECEL_MPS2,
    memory: RedRunners | None = None,
) -> npt.NDArray[np.bool_]:
    """Per row of ``rows``: True for a vehicle that will pass its stop line on red and can no
    longer stop, or that is at or past the line on red, or (with ``memory``) that left its
    approach lane on red recently (a red-light runner: every conflict it makes is real)."""
    runs = _signal_state(view, rows, stop_decel_mps2)[1]
    if memory is not None:
        runs |= memory.recent(view, rows)
    return runs


class RedRunners:
    """Remembers, across ticks, the vehicles last seen near their stop line on red, so one that
    leaves its approach lane into the junction (no lane match) still counts as a runner for
    ``memory_ms``. Call ``observe`` once per tick, then ``recent``."""

    def __init__(self, *, memory_ms: int = RUNNER_MEMORY_MS) -> None:
        self.memory_ms = memory_ms
        self._last: dict[int, tuple[int, bool]] = {}  # uid -> (seen at ms, red then)

    def observe(self, view: SceneView) -> None:
        """Record who is near its stop line now and whether its lane shows red."""
        if view.lanes is None:
            return
        near = np.flatnonzero((view.lane >= 0) & (view.to_stop_m <= NEAR_LINE_M))
        red = _red_at(view, view.lane[near], np.zeros(near.size))
        now_ms = view.now_ms
        for uid, is_red in zip(view.uid[near].tolist(), red.tolist(), strict=True):
            self._last[uid] = (now_ms, is_red)
        horizon = view.now_ms - self.memory_ms
        if len(self._last) > 64 and any(t < horizon for t, _ in self._last.values()):
            self._last = {u: v for u, v in self._last.items() if v[0] >= horizon}

    def recent(self, view: SceneView, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Per row: True when it has no lane match, moves, and left its lane on red lately."""
        out = np.zeros(rows.size, dtype=bool)
        free = (view.lane[rows] < 0) & (view.speed_mps[rows] >= MIN_RUNNER_SPEED_MPS)
        for k in np.flatnonzero(free).tolist():
            seen = self._last.get(int(view.uid[rows[k]]))
            out[k] = seen is not None and seen[1] and view.now_ms - seen[0] <= self.memory_ms
        return out


def _free_at_arrival(view: SceneView, row: int) -> bool:
    """Whether some restricted movement of the row's lane is not red when it arrives."""
    timings = lane_timings(view, int(view.lane[row]))
    if timings is None:
        return False
    arrival_s = float(view.to_stop_m[row] / max(float(view.speed_mps[row]), 0.1))
    return any(t is not None and not red_at_arrival(t, arrival_s) for t in timings)


def signal_separated(
    view: SceneView, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Per pair (a[k], b[k]) of vehicles both before (or at) a stop line: True when they approach
    different junctions, or the same signalised one and both may go when they arrive."""
    out = np.zeros(a.size, dtype=bool)
    if view.lanes is None or a.size == 0:
        return out
    joined = junctions_of(view)
    if not joined.junctions:
        return out
    la, lb = view.lane[a], view.lane[b]
    on = (la >= 0) & (lb >= 0) & (view.to_stop_m[a] >= 0) & (view.to_stop_m[b] >= 0)
    ja = np.where(on, joined.junction_of_lane[np.maximum(la, 0)], -1)
    jb = np.where(on, joined.junction_of_lane[np.maximum(lb, 0)], -1)
    known = (ja >= 0) & (jb >= 0)
    out[known & (ja != jb)] = True
    for k in np.flatnonzero(known & (ja == jb)).tolist():
        out[k] = _free_at_arrival(view, int(a[k])) and _free_at_arrival(view, int(b[k]))
    return out


class MapWait:
    """Whether a junction app should wait for a MAP its SPAT announces (module docstring);
    one per app instance, asked once per tick."""

    def __init__(self, *, wait_ms: int = MAP_WAIT_MS) -> None:
        self.wait_ms = wait_ms
        self._since_ms: int | None = None  # since when some SPAT lacks its MAP

    def awaiting(self, view: SceneView) -> bool:
        """True while some intersection has a SPAT but no MAP, for at most ``wait_ms``."""
        pending = any(i.signal is not None and i.node is None for i in view.intersections.values())
        if not pending:
            self._since_ms = None
            return False
        if self._since_ms is None:
            self._since_ms = view.now_ms
        return view.now_ms - self._since_ms <= self.wait_ms


def _light_at(timing: PhaseTiming, arrival_s: float) -> LightState:
    """The light ``timing`` shows ``arrival_s`` from now (its next one past an announced end)."""
    rem = timing.remaining_s
    if rem is None or arrival_s < rem or timing.next_light is None:
        return timing.light
    return timing.next_light


def movement_right_of_way(
    view: SceneView,
    movements: Movements,
    paths: npt.NDArray[np.int64],
    arrival_s: npt.NDArray[np.float64],
) -> npt.NDArray[np.int64]:
    """Per movement ``paths[k]`` reached (its stop line) ``arrival_s[k]`` from now: ``STOP`` when
    its signal group is red or amber then (``stop_window``: a driver who can still stop at her
    line is held, one who cannot runs it; in the box, it clears the junction),
    ``GO_PROTECTED`` on a protected green, ``GO_PERMITTED`` on a permissive green (it must give
    way to the streams the program lets cross it), ``NO_SIGNAL`` without SPAT or phase
    (priority rules apply), and among those ``GIVE_WAY_SIGN`` for a movement whose MAP
    connection or lane must give way (``model.map.GIVE_WAY``: a minor road, a yield or stop
    sign). A movement that may turn on red is ``GO_PERMITTED`` on red.

    Each distinct movement's signal is read once per tick (``_movement_signal``, shared by ICW
    and LTA through the view); the arrivals are then judged all at once."""
    out = np.full(paths.size, NO_SIGNAL, dtype=np.int64)
    if paths.size == 0:
        return out
    distinct, inverse = np.unique(paths, return_inverse=True)
    cache: dict[int, tuple[float, ...]] = view.shared("apps.movement_signals", dict)
    table = np.array(
        [_movement_signal(view, movements, cache, p) for p in distinct.tolist()],
        dtype=np.float64,
    ).reshape(-1, 8)[inverse.reshape(-1)]
    t = np.maximum(arrival_s, 0.0)
    red = (t > table[:, 1]) & (t < table[:, 2])  # ``stop_window``: red or amber at arrival
    protected = np.where(t < table[:, 6], table[:, 4], table[:, 5]) > 0  # ``_light_at``
    go = np.where(protected, GO_PROTECTED, GO_PERMITTED)
    ruled = np.where(red, np.where(table[:, 3] > 0, GO_PERMITTED, STOP), go)
    known = table[:, 0] > 0
    out[known] = ruled[known]
    out[~known & (table[:, 7] > 0)] = GIVE_WAY_SIGN
    for k in np.flatnonzero(known & np.isnan(t)).tolist():  # no arrival time: the scalar rules
        out[k] = _right_of_way(view, movements, int(paths[k]), float(t[k]))
    return out


def _movement_timing(view: SceneView, movements: Movements, path: int) -> PhaseTiming | None:
    """The phase timing of movement ``path``'s signal group now (None: no SPAT or phase)."""
    by_node: dict[NodeId, Junction] = view.shared(
        "apps.junctions_by_node", lambda: {j.node.id: j for j in junctions_of(view).junctions}
    )
    p = movements.paths[path]
    junction = by_node.get(p.node)
    return None if junction is None else junction.phase(p.phase_id, view.now_ms)


def _movement_signal(
    view: SceneView, movements: Movements, cache: dict[int, tuple[float, ...]], path: int
) -> tuple[float, ...]:
    """One movement's signal now, as numbers: (has a timing, its ``stop_window`` lo and hi,
    may turn on red, protected green now, protected green next, when the next light shows:
    inf when not announced, gives way without a timing). Cached in ``cache`` (the view's, so once per tick)."""
    found = cache.get(path)
    if found is not None:
        return found
    timing = _movement_timing(view, movements, path)
    if timing is None:
        found = (0.0, np.inf, -np.inf, 0.0, 0.0, 0.0, np.inf, float(_gives_way(movements, path)))
    else:
        lo, hi = stop_window(timing)
        on_red = bool(movements.paths[path].connection.maneuvers & TURN_ON_RED)
        rem = timing.remaining_s
        found = (
            1.0,
            lo,
            hi,
            float(on_red),
            float(timing.light is LightState.PROTECTED_GREEN),
            float(timing.next_light is LightState.PROTECTED_GREEN),
            np.inf if rem is None or timing.next_light is None else rem,
            0.0,
        )
    cache[path] = found
    return found


def _right_of_way(view: SceneView, movements: Movements, path: int, arrival_s: float) -> int:
    """``movement_right_of_way`` of one movement, by the scalar rules."""
    timing = _movement_timing(view, movements, path)
    if timing is None:
        return GIVE_WAY_SIGN if _gives_way(movements, path) else NO_SIGNAL
    t = max(arrival_s, 0.0)
    if red_at_arrival(timing, t) or _amber_at_arrival(timing, t):
        on_red = bool(movements.paths[path].connection.maneuvers & TURN_ON_RED)
        return GO_PERMITTED if on_red else STOP
    light = _light_at(timing, t)
    return GO_PROTECTED if light is LightState.PROTECTED_GREEN else GO_PERMITTED


def _amber_at_arrival(timing: PhaseTiming, arrival_s: float) -> bool:
    """Whether ``timing`` shows amber ``arrival_s`` from now (``stop_window``'s amber)."""
    if timing.light is LightState.YELLOW:
        return True
    rem = timing.remaining_s
    return (
        timing.light.is_green
        and rem is not None
        and arrival_s > rem
        and timing.next_light is LightState.YELLOW
    )


def _gives_way(movements: Movements, path: int) -> bool:
    """Whether movement ``path``'s MAP connection (or its lane) must give way."""
    p = movements.paths[path]
    return bool((p.connection.maneuvers | movements.lanes.lanes[p.lane].lane.maneuvers) & GIVE_WAY)


def minor_road(
    view: SceneView, movements: Movements, paths: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Per movement ``paths[k]``: whether it enters its junction from a minor road, i.e. every
    connection of every lane of its MAP link (the approach) must give way
    (``model.map.GIVE_WAY``: a yield or stop sign, or the minor road of a priority junction).
    A major road's own give-way movements (a turn across its oncoming traffic, which the MAP
    marks as giving way too) are not: they yield to the major road's oncoming traffic only,
    and the minor road yields to them (the PRC road traffic safety law's implementing
    regulations, art. 52: at a junction without signals, where signs or markings control it,
    the party without priority lets the one with priority go first; SUMO's priority junction
    does the same). Read once per tick for the whole MAP (the view's shared cache)."""
    minor: frozenset[tuple[NodeId, NodeId]] = view.shared(
        "apps.minor_approaches", lambda: _minor_approaches(movements)
    )
    out = np.zeros(paths.size, dtype=bool)
    for k, path in enumerate(paths.tolist()):
        p = movements.paths[path]
        out[k] = (p.node, movements.lanes.lanes[p.lane].upstream_node) in minor
    return out


def _minor_approaches(movements: Movements) -> frozenset[tuple[NodeId, NodeId]]:
    """The MAP links (node, upstream node) all of whose lanes' connections give way."""
    major: set[tuple[NodeId, NodeId]] = set()
    seen: set[tuple[NodeId, NodeId]] = set()
    for info in movements.lanes.lanes:
        key = (info.node, info.upstream_node)
        seen.add(key)
        lane_way = info.lane.maneuvers & GIVE_WAY
        if any(not ((c.maneuvers | lane_way) & GIVE_WAY) for c in info.lane.connections):
            major.add(key)
    return frozenset(seen - major)


def turning_yields(
    movements: Movements, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per pair of movements (``a[k]``, ``b[k]``) from different approaches of one junction,
    where neither has priority over the other by signs or an arrow: whether ``a`` gives way
    to ``b``, and whether ``b`` to ``a``, by the PRC road traffic safety law's implementing
    regulations (art. 51 (7) for signals without arrows, art. 52 (3)-(4) without signals):
    a turning movement gives way to a straight one, and of two turns from opposite
    approaches the right turn gives way to the left; a U-turn gives way to every movement
    but another U-turn (art. 49 of the law: a U-turn must not obstruct the other vehicles).
    Two movements from one approach, or opposite turns of one kind, are not ranked."""
    turn_a, turn_b = movements.turns(a), movements.turns(b)
    rel = _approach_angle(movements, a, b)
    apart = np.abs(rel) >= 180.0 - OPPOSITE_APPROACH_DEG  # not one approach
    opposite = np.abs(rel) > OPPOSITE_APPROACH_DEG
    straight_a, straight_b = turn_a == STRAIGHT, turn_b == STRAIGHT
    a_yields = ~straight_a & straight_b
    b_yields = straight_a & ~straight_b
    turning = ~straight_a & ~straight_b & opposite
    a_yields |= turning & (turn_a == RIGHT) & (turn_b == LEFT)
    b_yields |= turning & (turn_b == RIGHT) & (turn_a == LEFT)
    a_yields |= (turn_a == UTURN) & (turn_b != UTURN)
    b_yields |= (turn_b == UTURN) & (turn_a != UTURN)
    return a_yields & apart, b_yields & apart


def equal_standing_yields(
    movements: Movements, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per pair of movements (``a[k]``, ``b[k]``) of one junction without signals where
    neither has priority by the MAP (both unmarked, or both minor roads, or both a major
    road's give-way turns): whether ``a`` gives way to ``b`` and whether ``b`` to ``a``, by
    the PRC road traffic safety law's implementing regulations, art. 52 (2)-(4), for
    junctions no signs or markings control (SUMO's right-before-left junction does the same):
    ``turning_yields`` (3)-(4), and otherwise each gives way to the one that comes from its
    right (2): the approach whose stop-line heading is its own turned 90 degrees
    anticlockwise (45-135 degrees). Two movements from one approach, or opposite turns of
    one kind, rank equal: neither gives way, and both stay parties (``_conflicts``)."""
    a_yields, b_yields = turning_yields(movements, a, b)
    rel = _approach_angle(movements, a, b)
    side = (np.abs(rel) >= 180.0 - OPPOSITE_APPROACH_DEG) & (np.abs(rel) <= OPPOSITE_APPROACH_DEG)
    ranked = a_yields | b_yields
    # b heading the other way round from a's right: its heading is a's minus 90 degrees
    a_yields |= ~ranked & side & (rel < 0)
    b_yields |= ~ranked & side & (rel > 0)
    return a_yields, b_yields


def _approach_angle(
    movements: Movements, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """b's heading at its stop line relative to a's, in (-180, 180] degrees, clockwise."""
    return (movements.entry_headings(b) - movements.entry_headings(a) + 180.0) % 360.0 - 180.0
