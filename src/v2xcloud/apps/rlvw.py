"""RLVW, red light violation warning: the vehicle will pass its stop line on red at its current
speed, and the braking a driver applies can no longer stop it before: the deceleration it
needs (v² / 2d) is more than comfortable after a reaction time (``reaction_s``,
``comfortable_decel_mps2``, 3 m/s²) while the light is still green (the change is yet to be
perceived), and more than firm braking (``red_decel_mps2``, 4.5 m/s²) facing a yellow or a red
that already shows: a driver who sees the light change brakes as firmly as stopping takes
(SUMO's drivers, whose braking is the bench's ground truth, stop for a yellow whenever their
normal 4.5 m/s² does it).
A vehicle that is already braking (at least ``min_braking_mps2``) has decided to stop: it is
not warned while the deceleration it needs to stop at the line is at most what it applies or
an emergency stop (``max_decel_mps2``), whichever is more (the braking a driver actually
applies rises as the line comes; it is not a constant extrapolation of its first touch of
the pedal).

A vehicle no report has come from for more than ``max_silent_ms`` (a roadside sensor lost
it) is not warned (``RoadApp.on_tick``, every road-side app): its state is the scene's
extrapolation at its last acceleration.

Movements that may turn on red (``maneuverRightTurnOnRedAllowed``/``LeftTurnOnRed``) never
warn; a lane with several movements warns only if every restricted movement is red at arrival.
Where the position cannot tell adjacent lanes apart (within ``ambiguity_m``), every candidate
lane must be red at arrival: a vehicle between a red straight lane and a green turn lane is
not warned (on the K733 recording, such vehicles turned on green).
"""

from __future__ import annotations

import numpy as np

from v2xcloud.apps._select import WARN_MIN_SPEED_MPS
from v2xcloud.apps._signals import MIN_BRAKING_MPS2, red_at_arrival
from v2xcloud.apps._v2i import OnApproach, RoadApp, RoadHit, on_approaches
from v2xcloud.apps.base import AppConfig, Partners, Reach
from v2xcloud.model import AdvisoryLevel
from v2xcloud.twin import SceneView
from v2xcloud.twin.junction import TURN_ON_RED, junctions_of

__all__ = ["RedLightViolationWarning", "RlvwConfig", "stopping_distance_m"]


def stopping_distance_m(speed_mps: float, *, decel_mps2: float, reaction_s: float) -> float:
    """Distance to stop from ``speed_mps``: reaction travel plus braking at ``decel_mps2``."""
    return speed_mps * reaction_s + speed_mps * speed_mps / (2.0 * decel_mps2)


class RlvwConfig(AppConfig, frozen=True, kw_only=True):
    """RLVW thresholds: ``comfortable_decel_mps2`` is the braking a driver accepts,
    ``max_decel_mps2`` an emergency stop (IMMINENT when even that cannot stop in time),
    ``reaction_s`` the perception-reaction time to a signal the driver already sees; a vehicle
    already braking (≥ ``min_braking_mps2``) hard enough to stop before the line is not
    warned while it needs at most that or ``max_decel_mps2``. Facing a yellow or red that
    already shows the driver has seen it and brakes late and firmly: the test there is
    whether braking at ``red_decel_mps2`` (normal firm braking, 4.5 m/s², SUMO's default car
    decel) from now still stops it."""

    comfortable_decel_mps2: float = 3.0
    max_decel_mps2: float = 6.0
    reaction_s: float = 0.7
    min_braking_mps2: float = MIN_BRAKING_MPS2
    red_decel_mps2: float = 4.5
    range_m: float = 150.0
    min_speed_mps: float = WARN_MIN_SPEED_MPS
    ambiguity_m: float = 2.5


class RedLightViolationWarning(RoadApp):
    """Warn vehicles that will run a red light; see the module docstring."""

    code = "RLVW"
    config_type = RlvwConfig
    config: RlvwConfig

    def reach(self) -> tuple[Reach, ...]:
        """Signalised stop lines within ``range_m`` (MAP and SPAT)."""
        return (Reach(self.config.range_m, Partners.ROAD_ITEMS),)

    def _candidate_lanes(self, view: SceneView, found: list[OnApproach]) -> list[list[int]]:
        """Per approach of ``found``: the lanes of its junction the vehicle's position cannot
        rule out (with its own), all vehicles in one grid look-up."""
        lanes = view.lanes
        if lanes is None:
            return [[a.lane] for a in found]
        rows = np.array([a.index for a in found], dtype=np.int64)
        point, lane = lanes.near_pairs(
            view.x_m[rows], view.y_m[rows], view.heading_deg[rows], within_m=self.config.ambiguity_m
        )
        joined = junctions_of(view)
        position = {id(j): k for k, j in enumerate(joined.junctions)}
        mine = np.array([position[id(a.junction)] for a in found], dtype=np.int64)
        keep = joined.junction_of_lane[lane] == mine[point]
        point, local = point[keep].tolist(), joined.local_lane[lane[keep]].tolist()
        out: list[set[int]] = [{a.lane} for a in found]
        for k, i in zip(point, local, strict=True):
            out[k].add(i)
        return [sorted(c) for c in out]

    def road_hits(self, view: SceneView, now_ms: int) -> list[RoadHit]:
        """Every vehicle about to run a red light at ``now_ms``."""
        cfg = self.config
        pending: list[tuple[OnApproach, float, float]] = []  # (approach, speed, d_stop)
        for a in on_approaches(view, range_m=cfg.range_m):
            v = float(view.speed_mps[a.index])
            if v < cfg.min_speed_mps:
                continue
            d_stop = stopping_distance_m(v, decel_mps2=cfg.comfortable_decel_mps2, reaction_s=0.0)
            if d_stop <= a.to_stop_m:
                continue  # braking comfortably from now on still stops it
            braking = -float(view.accel_mps2[a.index])
            need = v * v / (2.0 * max(a.to_stop_m, 0.1))
            if braking >= cfg.min_braking_mps2 and need <= max(braking, cfg.max_decel_mps2):
                continue  # braking already: it has decided to stop, and brakes as it must
            pending.append((a, v, d_stop))
        if not pending:
            return []
        candidates = self._candidate_lanes(view, [a for a, _, _ in pending])
        out = []
        for (a, v, d_stop), lanes in zip(pending, candidates, strict=True):
            arrival_s = a.to_stop_m / v
            conns = [
                c
                for lane in lanes
                for c in a.junction.movements(lane)
                if not (c.maneuvers & TURN_ON_RED)
            ]
            timings = [a.junction.phase(c.phase_id, now_ms) for c in conns]
            if not timings or any(t is None or not red_at_arrival(t, arrival_s) for t in timings):
                continue
            if any(t is not None and t.light.is_green for t in timings) and a.to_stop_m >= (
                stopping_distance_m(
                    v, decel_mps2=cfg.comfortable_decel_mps2, reaction_s=cfg.reaction_s
                )
            ):
                continue  # still green: it can stop comfortably once it sees the change
            if not any(t is not None and t.light.is_green for t in timings) and a.to_stop_m >= (
                stopping_distance_m(v, decel_mps2=cfg.red_decel_mps2, reaction_s=0.0)
            ):
                continue  # yellow or red already shows: a driver who sees it brakes firmly
            hard = stopping_distance_m(v, decel_mps2=cfg.max_decel_mps2, reaction_s=0.0)
            level = AdvisoryLevel.IMMINENT if hard > a.to_stop_m else AdvisoryLevel.WARNING
            stop = a.junction.stop_xy[a.lane]
            lane_id = a.junction.lanes[a.lane].lane_id
            out.append(
                RoadHit(
                    row=a.index,
                    level=level,
                    detail=f"red light at stop line of lane {lane_id}",
                    about=f"node:{a.junction.node.id.id}/lane:{lane_id}",
                    ttc_s=arrival_s,
                    at=(float(stop[0]), float(stop[1])),
                    values={"to_stop_m": a.to_stop_m, "speed_mps": v, "stopping_m": d_stop},
                )
            )
        return out
