"""Cooperative lane change (CLC) and cooperative merge (CVM), T/CSAE 157-2020.

A vehicle states its intention in a VIR (``laneChangingToLeft``/``Right``, with ``rampIn`` when
it merges from an on-ramp). The platform finds the vehicles in the target lane around it in the
scene, picks the gap to aim for and sends one RSC coordinating each party:

- the requester: change lanes (``laneChangingToLeft``/``Right``) within the window, at the
  speed that brings it level with the gap when it is not (path guidance with a speed);
  a merging car still on its ramp is planned for where its planned path (VIR) takes it, so
  the main road opens the gap before the car reaches the acceleration lane;
- the target-lane follower of that gap: ``slow-down`` to the speed that opens the gap to the
  size the requester needs within ``plan_s`` (never below ``min_speed_share`` of its speed),
  or ``goStraightForward`` (keep lane and speed: do not close the gap) when it is big enough;
- the target-lane leader of that gap: ``goStraightForward`` (do not drop back into the gap).

The size a gap needs is a time headway plus a standstill distance for each side of the
requester (``headway_s``, ``standstill_m``). Gaps are judged between consecutive target-lane
vehicles within ``search_m``; the one needing the least correction wins (the follower slowing
and the requester adjusting its speed, both over ``plan_s``). The plan asks; the vehicles
keep their own safety (a vehicle changes lanes only into a gap it judges safe).

``CooperativeLaneChange`` answers lane changes that are not merges; ``CooperativeMerge``
answers merges (``rampIn``). Both keep no per-vehicle table beyond the current tick.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from v2xcloud.apps.day2.base import Day2App, Day2Config, Outbound, Request
from v2xcloud.model.day2 import PathPoint, Rsc, VehicleCoordination, Vir
from v2xcloud.twin import SceneView
from v2xcloud.twin.flags import Kind

__all__ = [
    "CooperativeLaneChange",
    "CooperativeMerge",
    "LaneChangeConfig",
    "LaneChangePlan",
    "plan_gap",
]

_LEFT, _RIGHT = "laneChangingToLeft", "laneChangingToRight"


class LaneChangeConfig(Day2Config, frozen=True, kw_only=True):
    """Thresholds of the gap planner (see the module docstring); ``sender_id`` is the
    platform's RSC id (8 bytes hex)."""

    sender_id: str = "5043000000000001"
    lane_width_m: float = 3.5
    search_m: float = 120.0
    headway_s: float = 1.0
    standstill_m: float = 3.0
    plan_s: float = 4.0
    min_speed_share: float = 0.6
    window_s: float = 6.0
    same_direction_deg: float = 30.0
    sticky_m: float = 10.0
    max_catch_up_mps: float = 2.0
    max_open: int = 1024  # requesters remembered (their last follower), oldest dropped first


class LaneChangePlan:
    """One plan: who changes (row), into which side (+1 left, -1 right), the follower and
    leader rows in the target lane (``None``: none within reach), the speeds asked of the
    requester and the follower (``None``: its own), and the gap now and needed (m)."""

    __slots__ = (
        "ego",
        "follower",
        "follower_speed_mps",
        "gap_m",
        "is_open",
        "leader",
        "needed_m",
        "side",
        "speed_mps",
    )

    def __init__(
        self,
        *,
        ego: int,
        side: int,
        follower: int | None,
        leader: int | None,
        speed_mps: float | None,
        follower_speed_mps: float | None,
        gap_m: float,
        needed_m: float,
        is_open: bool,
    ) -> None:
        self.is_open = is_open
        self.ego = ego
        self.side = side
        self.follower = follower
        self.leader = leader
        self.speed_mps = speed_mps
        self.follower_speed_mps = follower_speed_mps
        self.gap_m = gap_m
        self.needed_m = needed_m


def plan_gap(
    view: SceneView,
    ego: int,
    side: int,
    config: LaneChangeConfig,
    previous_follower: str | None = None,
    ahead: tuple[float, float, float, float] | None = None,
) -> LaneChangePlan:
    """The gap ``ego`` (a view row) should aim for in the lane on ``side`` (+1 left, -1 right),
    from the vehicles the view holds there; see the module docstring. A gap behind
    ``previous_follower`` (the last plan's, being opened) is kept unless another needs
    ``sticky_m`` less correction.

    ``ahead`` (x m, y m, heading °, t s): where the requester's planned path puts it ``t``
    seconds from now; the gap is then judged there and then, every other vehicle moved on at
    its own velocity (a car on an on-ramp is not yet beside the lane it merges into)."""
    c = config
    x, y = view.x_m, view.y_m
    if ahead is None:
        x0, y0, heading = float(x[ego]), float(y[ego]), float(view.heading_deg[ego])
    else:
        x0, y0, heading, t = ahead
        x, y = x + view.vx_mps * t, y + view.vy_mps * t
    h = math.radians(heading)
    fx, fy = math.sin(h), math.cos(h)  # forward
    lx, ly = -fy, fx  # left
    dx = x - x0
    dy = y - y0
    s = dx * fx + dy * fy
    d = (dx * lx + dy * ly) * side
    same = np.cos(np.radians(view.heading_deg - heading)) > math.cos(
        math.radians(c.same_direction_deg)
    )
    mask = (
        (view.kind == Kind.VEHICLE)
        & same
        & (d > 0.5 * c.lane_width_m)
        & (d < 1.5 * c.lane_width_m)
        & (np.abs(s) < c.search_m)
    )
    mask[ego] = False
    rows = np.flatnonzero(mask)
    rows = rows[np.argsort(s[rows])]
    v_e = float(view.speed_mps[ego])
    len_e = float(view.length_m[ego])
    # candidate gaps: (follower, leader) over consecutive target-lane vehicles, open ends too
    seq: list[int | None] = [None, *rows.tolist(), None]
    best: tuple[float, LaneChangePlan] | None = None
    for f, lead in itertools.pairwise(seq):
        plan = _judge(view, ego, side, f, lead, s, v_e, len_e, c)
        cost = abs(plan.needed_m - plan.gap_m) if plan.gap_m < plan.needed_m else 0.0
        cost += abs(_slot_offset(s, f, lead, view, ego, c))
        if f is not None and view.ids[f] == previous_follower:
            cost -= c.sticky_m
        if best is None or cost < best[0]:
            best = (cost, plan)
    assert best is not None
    return best[1]


def _need(speed: float, c: LaneChangeConfig) -> float:
    return c.headway_s * speed + c.standstill_m


def _slot_offset(
    s: np.ndarray, f: int | None, lead: int | None, view: SceneView, ego: int, c: LaneChangeConfig
) -> float:
    """How far (m) the requester must move along the road, relative to the target lane's
    flow, to sit in the gap: 0 when it is already level with it."""
    len_e = float(view.length_m[ego])
    behind = -math.inf if f is None else float(s[f]) + _half(view, f) + len_e / 2
    ahead = math.inf if lead is None else float(s[lead]) - _half(view, lead) - len_e / 2
    if f is not None:
        behind += _need(float(view.speed_mps[f]), c)
    if lead is not None:
        ahead -= _need(float(view.speed_mps[ego]), c)
    if behind <= 0.0 <= ahead:
        return 0.0
    if ahead < behind:  # too small: aim at its middle
        return (behind + ahead) / 2
    return behind if behind > 0 else ahead


def _half(view: SceneView, row: int) -> float:
    return float(view.length_m[row]) / 2


def _judge(
    view: SceneView,
    ego: int,
    side: int,
    f: int | None,
    lead: int | None,
    s: np.ndarray,
    v_e: float,
    len_e: float,
    c: LaneChangeConfig,
) -> LaneChangePlan:
    if f is None and lead is None:
        return LaneChangePlan(ego=ego, side=side, follower=None, leader=None, speed_mps=None,
                              follower_speed_mps=None, gap_m=math.inf, needed_m=0.0,
                              is_open=True)  # fmt: skip
    tail = -math.inf if f is None else float(s[f]) + _half(view, f)
    head = math.inf if lead is None else float(s[lead]) - _half(view, lead)
    gap = head - tail
    v_f = None if f is None else float(view.speed_mps[f])
    v_l = None if lead is None else float(view.speed_mps[lead])
    needed = len_e + (_need(v_f, c) if v_f is not None else 0.0) + _need(v_e, c)
    follower_speed = None
    if f is not None and v_f is not None and gap < needed:
        shortfall = needed - gap
        follower_speed = max(c.min_speed_share * v_f, v_f - shortfall / c.plan_s)
    # the requester: level with the gap within plan_s, at the target lane's pace
    pace = v_l if v_l is not None else (v_f if v_f is not None else v_e)
    offset = _slot_offset(s, f, lead, view, ego, c)
    speed = None
    if offset != 0.0:  # level with the gap within plan_s, never much faster than its lane
        speed = max(0.0, pace + min(c.max_catch_up_mps, offset / c.plan_s))
    return LaneChangePlan(ego=ego, side=side, follower=f, leader=lead, speed_mps=speed,
                          follower_speed_mps=follower_speed, gap_m=gap, needed_m=needed,
                          is_open=gap >= needed and offset == 0.0)  # fmt: skip


class _GapApp(Day2App):
    """The shared logic of CLC and CVM; subclasses say which requests are theirs."""

    config_type: ClassVar[type[Day2Config]] = LaneChangeConfig
    accepts: ClassVar[tuple[type, ...]] = (Vir,)
    is_merge: ClassVar[bool] = False
    info_bit: ClassVar[str] = ""

    def __init__(self, config: Day2Config | None = None) -> None:
        super().__init__(config)
        self.counts: Counter[str] = Counter()
        self._msg_count = 0
        self._follower: dict[str, str] = {}  # requester -> follower of its gap (bounded)

    @property
    def settings(self) -> LaneChangeConfig:
        """The app's configuration, typed."""
        assert isinstance(self.config, LaneChangeConfig)
        return self.config

    def _mine(self, vir: Vir) -> int | None:
        """+1/-1 when ``vir`` asks for a lane change this app handles, else ``None``."""
        side = 1 if _LEFT in vir.behavior else (-1 if _RIGHT in vir.behavior else 0)
        if side == 0 or ("rampIn" in vir.behavior) != self.is_merge:
            return None
        return side

    def on_tick(self, view: SceneView, requests: Sequence[Request], now_ms: int) -> list[Outbound]:
        """One RSC per requester that asked since the last tick (its newest VIR)."""
        newest: dict[str, Vir] = {}
        for r in requests:
            vir = r.message
            if isinstance(vir, Vir) and self._mine(vir) is not None:
                newest[vir.sender_id] = vir
        out = []
        for sender, vir in newest.items():
            row = view.row_of(sender)
            if row is None:
                self.counts["requester_not_in_scene"] += 1
                continue
            side = self._mine(vir)
            assert side is not None
            previous = self._follower.get(sender)
            plan = plan_gap(view, row, side, self.settings, previous)
            ahead = _planned_position(view, vir)
            if plan.follower is None and plan.leader is None and ahead is not None:
                # nobody beside it yet (still on its ramp): plan where its path takes it
                plan = plan_gap(view, row, side, self.settings, previous, ahead)
            self._follower.pop(sender, None)
            if plan.follower is not None:
                self._follower[sender] = view.ids[plan.follower]
                while len(self._follower) > self.settings.max_open:
                    self._follower.pop(next(iter(self._follower)))
            out.append(self._rsc(view, plan, now_ms))
            self.counts["plans"] += 1
        return out

    def _rsc(self, view: SceneView, plan: LaneChangePlan, now_ms: int) -> Outbound:
        c = self.settings
        info = frozenset({self.info_bit})
        ego_id = view.ids[plan.ego]
        lat, lon = view.to_wgs84(np.array([plan.ego]))
        here = (float(lat[0]), float(lon[0]))
        move = _LEFT if plan.side > 0 else _RIGHT
        self.counts["gap_open" if plan.is_open else "gap_opening"] += 1
        guidance: tuple[PathPoint, ...] = ()
        if plan.speed_mps is not None:
            guidance = (PathPoint(lat_deg=here[0], lon_deg=here[1], speed_mps=plan.speed_mps),)
        parties = [
            VehicleCoordination(
                vehicle_id=ego_id,
                suggestion=frozenset({move}),
                life_time_s=c.window_s,
                path_guidance=guidance,
                info=info,
            )
        ]
        if plan.follower is not None:
            slowing = plan.follower_speed_mps is not None
            parties.append(
                VehicleCoordination(
                    vehicle_id=view.ids[plan.follower],
                    suggestion=frozenset({"slow-down" if slowing else "goStraightForward"}),
                    life_time_s=c.plan_s + 1.0,
                    path_guidance=(
                        PathPoint(
                            lat_deg=here[0], lon_deg=here[1], speed_mps=plan.follower_speed_mps
                        ),
                    )
                    if slowing
                    else (),
                    info=info,
                )
            )
            self.counts["follower_slowed" if slowing else "follower_kept"] += 1
        if plan.leader is not None:
            parties.append(
                VehicleCoordination(
                    vehicle_id=view.ids[plan.leader],
                    suggestion=frozenset({"goStraightForward"}),
                    life_time_s=c.plan_s,
                    info=info,
                )
            )
        self._msg_count = (self._msg_count + 1) % 128
        rsc = Rsc(
            msg_count=self._msg_count,
            rsu_id=c.sender_id,
            timestamp_ms=now_ms,
            ref_lat_deg=here[0],
            ref_lon_deg=here[1],
            coordinations=tuple(parties),
        )
        return Outbound(
            app=self.code,
            message=rsc,
            recipients=tuple(p.vehicle_id for p in parties),
            issued_ms=now_ms,
        )


def _planned_position(view: SceneView, vir: Vir) -> tuple[float, float, float, float] | None:
    """(x, y, heading °, t s) of the last point of the VIR's planned path, heading from the
    point before it; ``None`` without two timed points."""
    timed = [p for p in vir.path if p.time_s is not None]
    if len(timed) < 2:
        return None
    a, b = timed[-2], timed[-1]
    x, y = view.frame.to_local([a.lat_deg, b.lat_deg], [a.lon_deg, b.lon_deg])
    heading = math.degrees(math.atan2(float(x[1] - x[0]), float(y[1] - y[0]))) % 360.0
    assert b.time_s is not None
    return float(x[1]), float(y[1]), heading, b.time_s


class CooperativeLaneChange(_GapApp):
    """CLC: a lane change (not a merge) coordinated with the target lane's vehicles."""

    code: ClassVar[str] = "CLC"
    is_merge: ClassVar[bool] = False
    info_bit: ClassVar[str] = "cooperativeLaneChanging"


class CooperativeMerge(_GapApp):
    """CVM: a merge from an on-ramp (``rampIn``) coordinated with the main road's vehicles."""

    code: ClassVar[str] = "CVM"
    is_merge: ClassVar[bool] = True
    info_bit: ClassVar[str] = "cooperativeVehMerging"
