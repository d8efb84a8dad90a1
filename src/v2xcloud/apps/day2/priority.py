"""PVP — priority vehicle passage: a green extension or an early green for an emergency vehicle
on a call, or a vehicle whose signal-priority request (VIR ``Req-SignalPriority``) is of high
enough priority (a bus), approaching a signalised junction.

Each tick, every requester on an ingress lane within ``range_m`` of the stop line is given an
arrival time (distance over its speed, no less than ``min_speed_mps``: a requester stuck in a
queue still gets its green soon). The junction's timing plan (``SignalPlan``: the signal
controller reports it, and it reaches the app as a request) and its SPAT give the running
stage and how long it has run; ``plan_priority`` returns the smallest safe ``TimingChange``
that has the requester's signal group (its VIR's phase or movement, else its lane's straight
movement) green from ``lead_s`` before its arrival until ``clear_s`` after it, or nothing
when the programme already does. A junction takes one change per cycle (busy until the
programmed cycle after the change's last stage), so conflicting movements are never starved;
a requester gets one grant per junction. A grant sends the ``TimingChange`` to the junction's
signal controller (the SPAT then shows the new times) and an RSC to the vehicle
(``signalPriority``: its green holds for ``life_time_s``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence

from v2xcloud.apps._select import F_EMERGENCY
from v2xcloud.apps._v2i import OnApproach, on_approaches
from v2xcloud.apps.day2.base import Day2App, Day2Config, Outbound, Request
from v2xcloud.apps.day2.signal_plan import match_stage, plan_priority
from v2xcloud.model import IntersectionState, NodeId
from v2xcloud.model.day2 import Rsc, SignalPriorityRequest, VehicleCoordination, Vir
from v2xcloud.model.signal_plan import PriorityLimits, SignalPlan, TimingChange
from v2xcloud.twin import SceneView

__all__ = ["PriorityConfig", "PriorityVehiclePassage", "stage_now"]

logger = logging.getLogger(__name__)


class PriorityConfig(Day2Config, frozen=True, kw_only=True):
    """PVP settings: decision range (m); the speed an arrival time assumes at least (m/s);
    the lowest VIR request priority (0..7) granted to a vehicle not on an emergency call; the
    safe limits of a change; the bounds of remembered requests and grants; how long a request
    without a life time holds (s)."""

    range_m: float = 250.0
    min_speed_mps: float = 5.0
    min_request_priority: int = 4
    limits: PriorityLimits = PriorityLimits()
    max_entries: int = 1024
    request_life_s: float = 30.0


def stage_now(
    plan: SignalPlan, state: IntersectionState, *, age_s: float
) -> tuple[int, float] | None:
    """(running stage, seconds it has run) from a junction's signal state ``age_s`` old;
    ``None`` when the lights shown match no stage of the plan (the plan is not running)."""
    green = frozenset(p.phase_id for p in state.phases if p.states and p.states[0].light.is_green)
    yellow = frozenset(
        p.phase_id for p in state.phases if p.states and p.states[0].light.value == "yellow"
    )
    stage = match_stage(plan, green, yellow)
    if stage is None:
        return None
    ends = [p.states[0].likely_end_s for p in state.phases if p.states]
    remaining = min((e for e in ends if e is not None), default=None)
    if remaining is None:
        return None
    elapsed = plan.stages[stage].duration_s - max(0.0, remaining - age_s)
    return stage, max(0.0, elapsed)


class PriorityVehiclePassage(Day2App):
    """Priority vehicle passage (see the module docstring)."""

    code = "PVP"
    config_type = PriorityConfig
    accepts = (Vir, SignalPlan)
    config: PriorityConfig

    def __init__(self, config: PriorityConfig | None = None) -> None:
        super().__init__(config)
        self.plans: dict[NodeId, SignalPlan] = {}
        # vehicle id -> (its signal-priority request, valid until ms), bounded
        self._requests: OrderedDict[str, tuple[SignalPriorityRequest, int]] = OrderedDict()
        self._busy_until_ms: dict[NodeId, int] = {}  # one change per junction per cycle
        self._granted: OrderedDict[tuple[NodeId, str], int] = OrderedDict()  # bounded
        self._count = 0
        self.unmatched = 0  # times a junction's lights matched no stage of its plan

    def on_tick(self, view: SceneView, requests: Sequence[Request], now_ms: int) -> list[Outbound]:
        """This tick's grants (usually none): a timing change and an RSC for each."""
        for r in requests:
            self._take(r, now_ms)
        if not self.plans or len(view) == 0:
            return []
        on_call = (view.flags & F_EMERGENCY) != 0
        out: list[Outbound] = []
        for a in on_approaches(view, range_m=self.config.range_m):
            pid = view.ids[a.index]
            request = self._request_of(pid, now_ms)
            if on_call[a.index] or request is not None:
                out += self._consider(view, now_ms, a, pid, request)
        return out

    def _take(self, r: Request, now_ms: int) -> None:
        msg = r.message
        if isinstance(msg, SignalPlan):  # a signal controller reports its programme
            self.plans[msg.node] = msg
            return
        for req in msg.requests:
            sp = req.signal_priority
            if sp is None or req.status in ("cancel", "complete"):
                continue
            if (req.priority or 0) < self.config.min_request_priority:
                continue
            life = req.life_time_s if req.life_time_s is not None else self.config.request_life_s
            self._requests[msg.sender_id] = (sp, now_ms + round(life * 1000))
            self._requests.move_to_end(msg.sender_id)
        while len(self._requests) > self.config.max_entries:
            self._requests.popitem(last=False)

    def _request_of(self, pid: str, now_ms: int) -> SignalPriorityRequest | None:
        found = self._requests.get(pid)
        if found is None:
            return None
        if found[1] < now_ms:
            del self._requests[pid]
            return None
        return found[0]

    def _group(self, a: OnApproach, request: SignalPriorityRequest | None) -> int | None:
        if request is not None and request.intersection_id == a.junction.node.id:
            if request.phase_id is not None:
                return request.phase_id
            for c in a.junction.movements(a.lane):
                if c.remote_node == request.remote_node:
                    return c.phase_id
        return a.junction.main_movement(a.lane).phase_id

    def _consider(
        self,
        view: SceneView,
        now_ms: int,
        a: OnApproach,
        pid: str,
        request: SignalPriorityRequest | None,
    ) -> list[Outbound]:
        node = a.junction.node.id
        plan = self.plans.get(node)
        if plan is None or (node, pid) in self._granted:
            return []
        if self._busy_until_ms.get(node, 0) > now_ms:
            return []
        place = view.intersections.get(node)
        group = self._group(a, request)
        if place is None or place.signal is None or group is None:
            return []
        state = place.signal
        stamp = state.timestamp_ms if state.timestamp_ms is not None else place.signal_received_ms
        now_stage = stage_now(plan, state, age_s=max(0.0, (now_ms - (stamp or now_ms)) / 1000.0))
        if now_stage is None:
            self.unmatched += 1
            return []
        stage, elapsed = now_stage
        arrival = a.to_stop_m / max(float(view.speed_mps[a.index]), self.config.min_speed_mps)
        change = plan_priority(
            plan, stage=stage, elapsed_s=elapsed, group=group, arrival_s=arrival,
            limits=self.config.limits,
        )  # fmt: skip
        if change is None:
            return []
        self._remember(node, pid, now_ms, plan, change, elapsed)
        logger.info("PVP: %s at node %s: %s by %.1f s", pid, node.id, change.kind, change.gain_s)
        return self._grant(a, pid, now_ms, change, arrival)

    def _grant(
        self, a: OnApproach, pid: str, now_ms: int, change: TimingChange, arrival_s: float
    ) -> list[Outbound]:
        node = a.junction.node
        self._count = (self._count + 1) % 128
        coordination = VehicleCoordination(
            vehicle_id=pid,
            life_time_s=round(min(arrival_s + self.config.limits.clear_s, 655.35), 2),
            info=frozenset({"signalPriority"}),
        )
        rsc = Rsc(
            msg_count=self._count,
            rsu_id=f"{node.id.region or 0:08x}{node.id.id:08x}",
            timestamp_ms=now_ms,
            ref_lat_deg=node.lat_deg,
            ref_lon_deg=node.lon_deg,
            coordinations=(coordination,),
        )
        controller = f"signal-controller:{node.id.region or 0}:{node.id.id}"
        return [
            Outbound(app=self.code, message=change, recipients=(controller,), issued_ms=now_ms),
            Outbound(app=self.code, message=rsc, recipients=(pid,), issued_ms=now_ms),
        ]

    def _remember(
        self,
        node: NodeId,
        pid: str,
        now_ms: int,
        plan: SignalPlan,
        change: TimingChange,
        elapsed_s: float,
    ) -> None:
        """Busy until a full programmed cycle after the change's last stage has run."""
        new = dict(change.durations)
        n = len(plan.stages)
        last = max((k - change.first_stage) % n for k in new)
        stages = ((change.first_stage + j) % n for j in range(last + 1))
        span_s = sum(new.get(k, plan.stages[k].duration_s) for k in stages) - elapsed_s
        self._busy_until_ms[node] = now_ms + round((span_s + plan.cycle_s) * 1000)
        self._granted[(node, pid)] = now_ms
        while len(self._granted) > self.config.max_entries:
            self._granted.popitem(last=False)
