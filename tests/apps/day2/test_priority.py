"""PVP on a scripted junction: a VIR signal-priority request of a vehicle whose green ends
before it arrives gets one green extension (to the signal controller) and one RSC (to the
vehicle); low-priority requests, junctions without a plan and a second request in the same
cycle get nothing. Every RSC it sends encodes and decodes again."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _roadside_scene import NODE, junction_map, spat, vehicle, view_of

from v2xcloud.apps.day2 import DAY2_APPS, Request
from v2xcloud.apps.day2.priority import PriorityVehiclePassage, stage_now
from v2xcloud.codec import Decoded, MessageSet, decode, encode_model, to_model
from v2xcloud.model import LightState, NodeId
from v2xcloud.model.day2 import DriveRequest, Rsc, SignalPriorityRequest, Vir
from v2xcloud.model.signal_plan import SignalPlan, Stage, TimingChange

G, Y, R = LightState.PROTECTED_GREEN, LightState.YELLOW, LightState.RED
PLAN = SignalPlan(
    node=NODE,
    stages=(
        Stage(duration_s=20.0, green_groups=frozenset({1})),
        Stage(duration_s=3.0, green_groups=frozenset(), yellow_groups=frozenset({1})),
        Stage(duration_s=20.0, green_groups=frozenset({2})),
        Stage(duration_s=3.0, green_groups=frozenset(), yellow_groups=frozenset({2})),
    ),
)


def _vir(pid: str, *, priority: int = 5) -> Request:
    ask = SignalPriorityRequest(intersection_id=NODE, remote_node=NODE)
    vir = Vir(
        msg_count=1, sender_id=pid, timestamp_ms=0, ref_lat_deg=49.0, ref_lon_deg=8.4,
        requests=(DriveRequest(request_id=1, priority=priority, signal_priority=ask),),
    )  # fmt: skip
    return Request(message=vir, source="obu", received_at_ms=0)


def _plan() -> Request:
    return Request(message=PLAN, source="signal-controller", received_at_ms=0)


def _view(now_ms: int = 0):  # type: ignore[no-untyped-def]
    # phase 1 green for 5 s more (stage 0 has run 15 s), then yellow
    lights = spat(now_ms, phase1=(G, 5.0, Y, 8.0), phase2=(R, 5.0, R, 8.0))
    bus = vehicle("b000000000000001", 0.0, -150.0, 15.0, t_ms=now_ms)  # on lane 1, 10 s away
    return view_of(junction_map(), lights, bus, now_ms=now_ms)


def test_green_extension_for_a_granted_request() -> None:
    app = PriorityVehiclePassage()
    out = app.on_tick(_view(), [_plan(), _vir("b000000000000001")], 0)
    assert [o.kind for o in out] == ["TIMINGCHANGE", "RSC"]
    change, rsc = out[0].message, out[1].message
    assert isinstance(change, TimingChange) and isinstance(rsc, Rsc)
    assert change.kind == "extend" and change.durations[0][0] == 0
    assert change.durations[0][1] == pytest.approx(28.0, abs=0.01)  # 10 s + 3 s - 5 s
    assert out[1].recipients == ("b000000000000001",) and rsc.vehicle_ids == ("b000000000000001",)
    assert rsc.coordinations[0].info == frozenset({"signalPriority"})
    assert app.on_tick(_view(100), [], 100) == []  # granted once; the junction is busy


def test_no_grant_without_plan_priority_or_request() -> None:
    assert PriorityVehiclePassage().on_tick(_view(), [_vir("b000000000000001")], 0) == []
    low = PriorityVehiclePassage().on_tick(
        _view(), [_plan(), _vir("b000000000000001", priority=2)], 0
    )
    assert low == []
    other = PriorityVehiclePassage().on_tick(_view(), [_plan(), _vir("b000000000000002")], 0)
    assert other == []


def test_stage_now_reads_the_spat() -> None:
    (state,) = spat(0, phase1=(G, 5.0, Y, 8.0), phase2=(R, 5.0, R, 8.0)).intersections
    assert stage_now(PLAN, state, age_s=1.0) == (0, 16.0)
    (both,) = spat(0, phase1=(G, 5.0, Y, 8.0), phase2=(G, 5.0, R, 8.0)).intersections
    assert stage_now(PLAN, both, age_s=0.0) is None  # no stage shows both: plan not running
    assert stage_now(SignalPlan(node=NodeId(region=None, id=9), stages=PLAN.stages), state,
                     age_s=0.0) == (0, 15.0)  # fmt: skip


def test_its_rsc_goes_over_the_wire() -> None:
    out = PriorityVehiclePassage().on_tick(_view(), [_plan(), _vir("b000000000000001")], 0)
    rsc = out[1].message
    raw = encode_model(rsc, message_set=MessageSet.CSAE2020)
    back = decode(bytes(raw), message_set=MessageSet.CSAE2020, check_version=False)
    assert isinstance(back, Decoded)
    again = to_model(back)
    assert again.vehicle_ids == rsc.vehicle_ids
    assert again.coordinations[0].info == frozenset({"signalPriority"})


def test_registered() -> None:
    assert PriorityVehiclePassage in DAY2_APPS
