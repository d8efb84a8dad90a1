"""GLOSA, green light optimal speed advisory: the speed band that reaches the stop line while
the vehicle's movement shows green, never above the lane's limit nor below a floor speed;
no advisory when no speed in that range arrives on green.

The vehicle's movement is the one of its lane's connections it signals: a left indicator
picks the lane's left turn (else its U-turn), a right indicator its right turn, no indicator
its straight-on movement (the lane's main one); a lane with one connection has no choice.
Turns come from the MAP's manoeuvres, or from the geometry where it states none
(``twin.movements``).
"""

from __future__ import annotations

import math

from v2xcloud.apps._v2i import OnApproach, RoadApp, RoadHit, on_approaches
from v2xcloud.apps.base import AppConfig, Partners, Reach
from v2xcloud.model import AdvisoryLevel, Connection
from v2xcloud.model.thresholds import MOVING_MPS
from v2xcloud.twin import SceneView
from v2xcloud.twin.flags import Flag
from v2xcloud.twin.movements import LEFT, RIGHT, STRAIGHT, UTURN, MovementsMemo, movements_of

__all__ = ["GlosaConfig", "GreenLightOptimalSpeedAdvisory", "signalled_movement", "speed_band_mps"]

_F_LEFT, _F_RIGHT = int(Flag.LEFT_SIGNAL), int(Flag.RIGHT_SIGNAL)
_SIGNALS = _F_LEFT | _F_RIGHT
#: the turns an indicator announces, in order of preference (none: straight on)
_SIGNALLED = {_F_LEFT: (LEFT, UTURN), _F_RIGHT: (RIGHT,), 0: (STRAIGHT,)}


def signalled_movement(view: SceneView, a: OnApproach) -> Connection:
    """The connection of ``a``'s lane the vehicle's indicator announces (module docstring);
    the lane's main movement when it signals nothing the lane allows."""
    conns = a.junction.movements(a.lane)
    if len(conns) > 1:
        flags = int(view.flags[a.index])
        signal = _F_LEFT if flags & _F_LEFT else _F_RIGHT if flags & _F_RIGHT else 0
        moves = movements_of(view)
        if signal and moves is not None:
            paths = moves.lane_movements(int(view.lane[a.index]))
            for turn in _SIGNALLED[signal]:
                found = next((p.connection for p in paths if p.turn == turn), None)
                if found is not None:
                    return found
    return a.junction.main_movement(a.lane)


def speed_band_mps(
    to_stop_m: float,
    windows_s: list[tuple[float, float]],
    *,
    min_mps: float,
    max_mps: float,
    margin_s: float = 1.0,
) -> tuple[float, float] | None:
    """The (low, high) constant speed band that arrives inside the first reachable green window.

    ``windows_s`` are (start, end) seconds from now; ``margin_s`` keeps away from both edges.
    Returns ``None`` when no speed within [``min_mps``, ``max_mps``] arrives on green.
    """
    for start_s, end_s in windows_s:
        lo_t, hi_t = start_s + (margin_s if start_s > 0 else 0.0), end_s - margin_s
        if hi_t <= max(lo_t, 0.0):
            continue
        lo = max(min_mps, to_stop_m / hi_t)
        hi = min(max_mps, math.inf if lo_t <= 0 else to_stop_m / lo_t)
        if lo <= hi:
            return lo, hi
    return None


class GlosaConfig(AppConfig, frozen=True, kw_only=True):
    """GLOSA settings: ``default_limit_mps`` applies where the map gives no limit;
    ``min_speed_mps`` is the lowest speed worth advising (below it the driver should rather
    stop)."""

    range_m: float = 300.0
    min_distance_m: float = 10.0
    #: 15 km/h: slower is no advice (stop rather, or obstruct everyone); the bench's ground
    #: truth requires the advice down to it (``sim.v2i_truth.GLOSA_FLOOR_MPS``)
    min_speed_mps: float = 15 / 3.6
    default_limit_mps: float = 50 / 3.6
    horizon_s: float = 120.0


class GreenLightOptimalSpeedAdvisory(RoadApp):
    """Advise approaching vehicles a speed band that meets green (INFO level)."""

    code = "GLOSA"
    config_type = GlosaConfig
    config: GlosaConfig

    def reach(self) -> tuple[Reach, ...]:
        """Signalised stop lines within ``range_m`` (MAP and SPAT)."""
        return (Reach(self.config.range_m, Partners.ROAD_ITEMS),)

    def __init__(self, config: AppConfig | None = None) -> None:
        super().__init__(config)
        # per MAP revision: (id(junction), lane, indicator) -> its signalled movement (a
        # junction is compiled per MAP revision, like its movements: ``twin.junction``)
        self._movements: MovementsMemo[tuple[int, int, int], Connection] = MovementsMemo()

    def _lane_windows(
        self, conn: Connection, a: OnApproach, now_ms: int
    ) -> tuple[Connection, list[tuple[float, float]], float] | None:
        """Movement ``conn`` of ``a``'s lane, its green windows now and the lane's limit;
        ``None`` without a signal timing."""
        timing = a.junction.phase(conn.phase_id, now_ms)
        if timing is None:
            return None
        limit = a.junction.speed_limit_mps[a.lane] or self.config.default_limit_mps
        return conn, timing.green_windows(self.config.horizon_s), limit

    def road_hits(self, view: SceneView, now_ms: int) -> list[RoadHit]:
        """One hit per approaching moving vehicle whose movement can meet a green."""
        cfg = self.config
        out = []
        # per (junction, lane, indicator) this tick: the movement, its green windows and the
        # lane's limit (the same for every vehicle on that lane signalling the same)
        lanes: dict[
            tuple[int, int, int], tuple[Connection, list[tuple[float, float]], float] | None
        ] = {}
        movement = self._movements.table(movements_of(view))
        speed, flags = view.speed_mps, view.flags
        for a in on_approaches(view, range_m=cfg.range_m):
            v = float(speed[a.index])
            if a.to_stop_m < cfg.min_distance_m or v < MOVING_MPS:
                continue
            key = (id(a.junction), a.lane, int(flags[a.index]) & _SIGNALS)
            if key in lanes:
                found = lanes[key]
            else:
                conn = movement.get(key)
                if conn is None:
                    conn = movement[key] = signalled_movement(view, a)
                found = lanes[key] = self._lane_windows(conn, a, now_ms)
            if found is None:
                continue
            conn, windows, limit = found
            band = speed_band_mps(a.to_stop_m, windows, min_mps=cfg.min_speed_mps, max_mps=limit)
            if band is None:
                continue
            advised = min(max(v, band[0]), band[1])
            out.append(
                RoadHit(
                    row=a.index,
                    level=AdvisoryLevel.INFO,
                    detail=f"{band[0] * 3.6:.0f}-{band[1] * 3.6:.0f} km/h to pass on green",
                    about=f"node:{a.junction.node.id.id}/phase:{conn.phase_id}",
                    values={
                        "advised_min_mps": band[0],
                        "advised_max_mps": band[1],
                        "advised_speed_mps": advised,
                        "to_stop_m": a.to_stop_m,
                        "limit_mps": limit,
                    },
                )
            )
        return out
