"""AVW — abnormal vehicle warning: a broken-down, hazard-flashing or stranded vehicle ahead.

A vehicle is abnormal when it reports hazard lights or a disabled-vehicle event (disabled,
flat tyre, air bag) in its safety extension, or when it has stood still in a lane for at least
``stopped_s`` without reason: not queued behind another stopped or slow vehicle within
``queue_gap_m`` (nor behind one that pulled away less than ``startup_s`` ago: a queue
discharges one car at a time, each starting a second or more after the one ahead), nor
behind a standing one farther ahead in its lane whose gap unreported vehicles may fill
(``hidden_queue_m``: where only some cars are connected and no roadside sensor looks, a queue
shows the platform every second or third of its cars, ~7 m apart at standstill), not
waiting at a stop line (MAP-matched within ``stop_line_m`` of its lane's end) or in a
junction (within ``stop_line_m`` of a MAP intersection's reference point, where waiting
turners have no lane match), and not signalling a turn (waiting to turn). Without any MAP
in the scene, a stop line it may be waiting at cannot be ruled out by geometry (an RSU
whose MAP has not arrived): such a silent stop is abnormal only after
``unmatched_stopped_s``, longer than a signal's red holds a queue's head. Followers approaching it in the same lane (half width ``half_width_m``, it may
stand half on the shoulder) within ``radius_m`` are warned; imminent when the time to reach
it (gap / closing speed) is ≤ ``imminent_s``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from v2xcloud.apps._select import (
    F_DISABLED,
    F_HAZARD_LIGHTS,
    F_LEFT_SIGNAL,
    F_RIGHT_SIGNAL,
    following_in_lane,
    gap_m,
    in_lane_ahead,
    motor,
    toward,
)
from v2xcloud.apps.base import App, AppConfig, Hits, Partners, Reach, gap_hits
from v2xcloud.model.thresholds import UNEXPLAINED_STOP_S
from v2xcloud.twin import SceneView

__all__ = ["AbnormalVehicleWarning", "AvwConfig"]


class AvwConfig(AppConfig, frozen=True, kw_only=True):
    """AVW thresholds (assumed defaults, configurable)."""

    stopped_s: float = UNEXPLAINED_STOP_S
    queue_gap_m: float = 15.0
    #: a standing vehicle ahead in the lane explains a stop this far beyond ``queue_gap_m``:
    #: room for ~8 unreported cars at a queue's standstill spacing (~7.5 m: a car's length
    #: and its ~2.5 m gap); with 30 % of the cars connected, 8 in a row unseen is ~6 %
    hidden_queue_m: float = 60.0
    startup_s: float = 3.0
    slow_mps: float = 2.0
    #: a fixed-time signal's cycle is at most ~120 s (HCM's practical range 60–120 s; longer
    #: cycles are rare): a queue's head at a junction without MAP waits at most that long
    unmatched_stopped_s: float = 120.0
    stop_line_m: float = 30.0
    radius_m: float = 150.0
    half_width_m: float = 2.5
    max_heading_diff_deg: float = 30.0
    min_speed_mps: float = 3.0
    imminent_s: float = 1.5


class AbnormalVehicleWarning(App):
    """Abnormal vehicle warning (see the module docstring)."""

    code = "AVW"
    unique_pairs = True  # one hit per directed candidate pair
    config_type = AvwConfig
    detail = "abnormal vehicle ahead"
    config: AvwConfig

    def reach(self) -> tuple[Reach, ...]:
        """Vehicles approaching an abnormal one within ``radius_m``, whose near queue context
        (a vehicle ahead of it within ``queue_gap_m`` + 10 m) decides that it is abnormal.
        The farther context (``_context_m``: a queue whose unreported cars fill the gap) is
        read where the view has it; a tile worker's halo does not widen for it (the cluster's
        near halo is the largest reach, and this would have widened it from 175 to 235 m)."""
        cfg = self.config
        return (Reach(cfg.radius_m + cfg.queue_gap_m + 10.0, Partners.ROAD_USERS),)

    def _context_m(self) -> float:
        """How far ahead of a standing vehicle a queue explaining its stop is looked for
        (centre to centre: the gap plus ~10 m of the two half lengths)."""
        cfg = self.config
        return cfg.queue_gap_m + 10.0 + max(cfg.startup_s * 15.0, cfg.hidden_queue_m)

    def detect(self, view: SceneView) -> Hits:
        cfg = self.config
        abnormal = self._abnormal(view)
        if not abnormal.any():
            return Hits.empty()
        pairs = toward(view, abnormal, cfg.radius_m)  # ego approaches the abnormal vehicle
        keep = following_in_lane(
            pairs,
            half_width_m=cfg.half_width_m,
            max_heading_diff_deg=cfg.max_heading_diff_deg,
            min_speed_mps=cfg.min_speed_mps,
        )
        return gap_hits(pairs.select(keep), imminent_s=cfg.imminent_s + cfg.lead_pad_s)

    def _abnormal(self, view: SceneView) -> npt.NDArray[np.bool_]:
        cfg = self.config
        if not view.any_flag(F_HAZARD_LIGHTS | F_DISABLED) and (view.stopped_since_ms < 0).all():
            return np.zeros(len(view), dtype=bool)  # nothing reported, nobody standing
        is_car = motor(view)
        reported = (view.flags & (F_HAZARD_LIGHTS | F_DISABLED)) != 0
        since = view.stopped_since_ms
        stood_ms = view.now_ms - since
        long_stop = (since >= 0) & (stood_ms >= cfg.stopped_s * 1000)
        if view.lanes is None:  # no MAP: a stop line ahead cannot be ruled out
            long_stop &= stood_ms >= cfg.unmatched_stopped_s * 1000
        at_stop_line = view.to_stop_m <= cfg.stop_line_m  # NaN (no MAP match) is False
        waiting_to_turn = (view.flags & (F_LEFT_SIGNAL | F_RIGHT_SIGNAL)) != 0
        candidates = is_car & long_stop & ~at_stop_line & ~reported & ~waiting_to_turn
        if candidates.any() and view.intersections:
            rows = candidates.nonzero()[0]
            candidates[rows[_near_junction(view, rows, cfg.stop_line_m)]] = False
        stranded = candidates.copy()
        if candidates.any():
            # context, not hazard pairs: never focused
            ahead = view.neighbours(candidates.nonzero()[0], self._context_m(), focused=False)
            queued = in_lane_ahead(ahead, half_width_m=1.8, max_heading_diff_deg=45.0)
            gap, v_ahead = gap_m(ahead), view.speed_mps[ahead.other]
            waiting = (gap <= cfg.queue_gap_m) & (v_ahead <= cfg.slow_mps)
            standing = view.stopped_since_ms[ahead.other] >= 0
            hidden_queue = standing & (gap <= cfg.queue_gap_m + cfg.hidden_queue_m)
            pulled_away = gap <= cfg.queue_gap_m + cfg.startup_s * v_ahead
            stranded[ahead.ego[queued & (waiting | pulled_away | hidden_queue)]] = False
        return is_car & (reported | stranded)


def _near_junction(
    view: SceneView, rows: npt.NDArray[np.int64], radius_m: float
) -> npt.NDArray[np.bool_]:
    """Per row: within ``radius_m`` of a MAP intersection's reference point (in or at a
    junction, e.g. waiting inside it to turn, where the lane match has no lane)."""

    def points() -> npt.NDArray[np.float64]:
        nodes = [p.node for p in view.intersections.values() if p.node is not None]
        if not nodes:
            return np.empty((0, 2))
        x, y = view.frame.to_local(
            np.array([n.lat_deg for n in nodes]), np.array([n.lon_deg for n in nodes])
        )
        return np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])

    xy = view.shared("apps.avw.junction_xy", points)
    if xy.shape[0] == 0:
        return np.zeros(rows.size, dtype=bool)
    dx = view.x_m[rows][:, None] - xy[None, :, 0]
    dy = view.y_m[rows][:, None] - xy[None, :, 1]
    return np.asarray((np.hypot(dx, dy) <= radius_m).any(axis=1))
