"""Cooperative intersection passing (CIP) at a junction without signals, T/CSAE 157-2020.

Vehicles approaching an intersection say so in their VIR (``intersectionStraightThrough``,
``...TurnLeft``, ``...TurnRight``, ``...UTurn``; the link they are on names the junction's MAP
node; a junction whose signal state (SPAT) the platform holds is left to its lights). The
platform gives each a slot: a time window in which it alone — with the vehicles of
its own approach behind it — may occupy the junction box (a circle of ``box_radius_m`` around
the MAP node's reference point). Vehicles from different approaches never share the box,
except two going straight (or two turning right) from opposite approaches (headings at least
``opposite_deg`` apart), whose paths do not cross: a conservative conflict rule that needs no
lane geometry. A slot starts no earlier than the vehicle can arrive (from its speed, accelerating at
``accel_mps2`` up to ``cruise_mps``; a car held back can catch up) and lasts while its body
crosses the box the same way, plus ``clearance_s``.

Two policies order the requests:

- ``"fcfs"`` (first come, first served, the baseline): in the order the vehicles first asked;
- ``"batch"`` (platoon-aware batching): the approach whose next vehicle can arrive first is
  served with every vehicle of that approach following it within ``batch_gap_s``, then the
  next approach; fewer hand-overs between approaches mean less time lost to clearances.

Each tick with new requests the app re-plans the junction and sends one RSC to every vehicle
planned there (up to 16): a path-guidance point at the box's edge on the vehicle's path, with
the time to be there (the slot's start; the vehicle adapts its speed to arrive then, not
earlier) with ``slow-down`` when that is later than it could arrive; else its movement
(``intersectionStraightThrough``, ...: the grant to pass now, at its own speed, by the plan
rather than by the junction's right of way, which would otherwise make a car on the minor
road wait for the priority road's cars the plan is holding back); always the
``no-signalIntersectionPassing`` bit. A vehicle no longer asking (``request_timeout_ms``) has
passed and is forgotten. The vehicles' own safety stays on: a plan never forces one into the box.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from v2xcloud.apps.day2.base import Day2App, Day2Config, Outbound, Request
from v2xcloud.model.day2 import PathPoint, Rsc, VehicleCoordination, Vir
from v2xcloud.model.map import NodeId
from v2xcloud.twin import SceneView

__all__ = ["CipConfig", "CooperativeIntersectionPassing", "Slot", "crossing_time", "schedule"]

_PASSING = frozenset(
    {
        "intersectionStraightThrough",
        "intersectionTurnLeft",
        "intersectionTurnRight",
        "intersectionUTurn",
    }
)
_MAX_PER_RSC = 16


class CipConfig(Day2Config, frozen=True, kw_only=True):
    """Settings of CIP (see the module docstring); ``sender_id``: the platform's RSC id."""

    sender_id: str = "5043000000000002"
    policy: str = "batch"  # "fcfs" | "batch"
    box_radius_m: float = 12.0
    min_speed_mps: float = 4.0
    accel_mps2: float = 2.0
    cruise_mps: float = 12.0
    opposite_deg: float = 150.0
    clearance_s: float = 1.0
    batch_gap_s: float = 2.5
    follow_gap_s: float = 1.0  # same approach: one after the other at least this far apart
    request_timeout_ms: int = 1500
    life_time_s: float = 2.0
    max_vehicles: int = 1024


@dataclass
class Slot:
    """One vehicle's place in a junction's plan: its approach (upstream node id), when it can
    arrive at the box (``eta_s``) and may (``start_s``/``end_s``), seconds from now."""

    vehicle: str
    approach: int
    first_ms: int
    eta_s: float
    crossing_s: float
    movement: str = "intersectionStraightThrough"
    heading_deg: float = 0.0
    start_s: float = 0.0
    end_s: float = 0.0


def _compatible(a: Slot, b: Slot, config: CipConfig) -> bool:
    """Whether two slots may share the box: same approach (one behind the other), or both
    straight (both right turns) from opposite approaches."""
    if a.approach == b.approach:
        return True
    apart = abs((a.heading_deg - b.heading_deg + 180.0) % 360.0 - 180.0)
    same = a.movement == b.movement and a.movement in (
        "intersectionStraightThrough",
        "intersectionTurnRight",
    )
    return same and apart >= config.opposite_deg


def crossing_time(distance_m: float, speed_mps: float, config: CipConfig) -> float:
    """Seconds to cover ``distance_m`` from ``speed_mps``, accelerating at ``accel_mps2`` up
    to ``cruise_mps`` (no slower than ``min_speed_mps``)."""
    v0 = max(speed_mps, config.min_speed_mps)
    top = max(v0, config.cruise_mps)
    a = config.accel_mps2
    ramp = (top * top - v0 * v0) / (2 * a)
    if distance_m <= ramp:
        return (math.sqrt(v0 * v0 + 2 * a * distance_m) - v0) / a
    return (top - v0) / a + (distance_m - ramp) / top


def schedule(slots: list[Slot], policy: str, config: CipConfig) -> list[Slot]:
    """Fill in ``start_s``/``end_s`` of every slot under ``policy``; returns them in service
    order. Vehicles of one approach keep their order; different approaches never overlap."""
    by_approach: dict[int, list[Slot]] = {}
    for s in sorted(slots, key=lambda s: (s.eta_s, s.first_ms)):
        by_approach.setdefault(s.approach, []).append(s)
    order: list[Slot] = []
    if policy == "fcfs":
        # first come, first served; within an approach the one ahead still goes first
        ranked = sorted(slots, key=lambda s: (s.first_ms, s.eta_s))
        queues = {a: list(q) for a, q in by_approach.items()}
        for s in ranked:
            q = queues[s.approach]
            if s in q:
                k = q.index(s)
                order.extend(q[: k + 1])
                del q[: k + 1]
    elif policy == "batch":
        queues = {a: list(q) for a, q in by_approach.items()}
        while any(queues.values()):
            approach = min((a for a, q in queues.items() if q), key=lambda a: queues[a][0].eta_s)
            q = queues[approach]
            batch = [q.pop(0)]
            while q and q[0].eta_s - batch[-1].eta_s <= config.batch_gap_s:
                batch.append(q.pop(0))
            order.extend(batch)
    else:
        raise ValueError(f"CIP policy must be 'fcfs' or 'batch', got {policy!r}")
    done: list[Slot] = []
    for s in order:
        start = s.eta_s
        for t in done:
            if t.approach == s.approach:
                start = max(start, t.start_s + config.follow_gap_s)
            elif not _compatible(s, t, config):
                start = max(start, t.end_s)
        s.start_s = start
        s.end_s = start + s.crossing_s + config.clearance_s
        done.append(s)
    return order


class CooperativeIntersectionPassing(Day2App):
    """CIP: conflict-free slots through an unsignalised junction (see the module docstring)."""

    code: ClassVar[str] = "CIP"
    config_type: ClassVar[type[Day2Config]] = CipConfig
    accepts: ClassVar[tuple[type, ...]] = (Vir,)

    def __init__(self, config: Day2Config | None = None) -> None:
        super().__init__(config)
        self.counts: Counter[str] = Counter()
        # vehicle -> (junction, approach node, first request ms, latest request ms, movement)
        self._asking: dict[str, tuple[NodeId, int, int, int, str]] = {}
        self._msg_count = 0
        self.last_plan: dict[NodeId, list[Slot]] = {}

    @property
    def settings(self) -> CipConfig:
        """The app's configuration, typed."""
        assert isinstance(self.config, CipConfig)
        return self.config

    def on_tick(self, view: SceneView, requests: Sequence[Request], now_ms: int) -> list[Outbound]:
        """Re-plan every junction a request named this tick; one RSC per such junction."""
        c = self.settings
        touched: set[NodeId] = set()
        for r in requests:
            vir = r.message
            if not isinstance(vir, Vir) or not (vir.behavior & _PASSING):
                continue
            link = vir.current.link if vir.current is not None else None
            if link is None or link.downstream_node not in view.intersections:
                self.counts["junction_unknown"] += 1
                continue
            if view.intersections[link.downstream_node].signal is not None:
                self.counts["signalised"] += 1  # its lights decide (PVP asks them for priority)
                continue
            known = self._asking.get(vir.sender_id)
            first = known[2] if known is not None else r.received_at_ms
            movement = min(vir.behavior & _PASSING)
            self._asking[vir.sender_id] = (
                link.downstream_node,
                link.upstream_node.id,
                first,
                now_ms,
                movement,
            )
            touched.add(link.downstream_node)
        for vid in [v for v, a in self._asking.items() if now_ms - a[3] > c.request_timeout_ms]:
            del self._asking[vid]
            self.counts["passed"] += 1
        while len(self._asking) > c.max_vehicles:
            self._asking.pop(next(iter(self._asking)))
            self.counts["dropped_for_bound"] += 1
        return [o for node in touched if (o := self._plan(view, node, now_ms)) is not None]

    def _plan(self, view: SceneView, node: NodeId, now_ms: int) -> Outbound | None:
        c = self.settings
        junction = view.intersections[node]
        if junction.x_m is None or junction.y_m is None:
            self.counts["junction_without_position"] += 1
            return None
        cx, cy = junction.x_m, junction.y_m
        slots = []
        rows = {}
        for vid, (at, approach, first, _, movement) in self._asking.items():
            row = view.row_of(vid)
            if at != node or row is None:
                continue
            d = math.hypot(float(view.x_m[row]) - cx, float(view.y_m[row]) - cy)
            speed = float(view.speed_mps[row])
            to_box = max(0.0, d - c.box_radius_m)
            crossing = crossing_time(2 * c.box_radius_m + float(view.length_m[row]), speed, c)
            slots.append(Slot(vehicle=vid, approach=approach, first_ms=first,
                              eta_s=crossing_time(to_box, speed, c), crossing_s=crossing,
                              movement=movement,
                              heading_deg=float(view.heading_deg[row])))  # fmt: skip
            rows[vid] = (row, to_box)
        if not slots:
            return None
        order = schedule(slots, c.policy, c)[:_MAX_PER_RSC]
        self.last_plan[node] = order
        parties = []
        for s in order:
            row, to_box = rows[s.vehicle]
            h = math.radians(float(view.heading_deg[row]))
            ex = float(view.x_m[row]) + to_box * math.sin(h)
            ey = float(view.y_m[row]) + to_box * math.cos(h)
            lat, lon = view.frame.to_wgs84(np.array([ex]), np.array([ey]))
            is_held = s.start_s > s.eta_s + 0.3
            self.counts["held" if is_held else "free"] += 1
            guidance = (
                PathPoint(
                    lat_deg=float(lat[0]), lon_deg=float(lon[0]), time_s=max(0.01, s.start_s)
                ),
            )
            parties.append(
                VehicleCoordination(
                    vehicle_id=s.vehicle,
                    suggestion=frozenset({"slow-down" if is_held else self._asking[s.vehicle][4]}),
                    life_time_s=c.life_time_s,
                    path_guidance=guidance if is_held else (),  # free: its own speed
                    info=frozenset({"no-signalIntersectionPassing"}),
                )
            )
        self._msg_count = (self._msg_count + 1) % 128
        lat, lon = view.frame.to_wgs84(np.array([cx]), np.array([cy]))
        rsc = Rsc(
            msg_count=self._msg_count,
            rsu_id=c.sender_id,
            timestamp_ms=now_ms,
            ref_lat_deg=float(lat[0]),
            ref_lon_deg=float(lon[0]),
            coordinations=tuple(parties),
        )
        return Outbound(
            app=self.code,
            message=rsc,
            recipients=tuple(p.vehicle_id for p in parties),
            issued_ms=now_ms,
        )
