"""CIP: the slot schedule under both policies (no two approaches ever share the box; one
approach keeps its order; batching loses less time than first come, first served on
interleaved arrivals) and the app on a scripted junction (who is held, with what time)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _roadside_scene import NODE, junction_map, latlon, vehicle, view_of

from v2xcloud.apps.day2 import DAY2_APPS, Request
from v2xcloud.apps.day2.intersection import (
    CipConfig,
    CooperativeIntersectionPassing,
    Slot,
    schedule,
)
from v2xcloud.codec import Decoded, MessageSet, decode, encode_model
from v2xcloud.model import NodeId
from v2xcloud.model.day2 import LinkRef, PathPoint, Vir

CONFIG = CipConfig()


def _slots() -> list[Slot]:
    """Interleaved arrivals: approach 1 at 1, 3, 5 s; approach 2 at 2, 4 s (asked in that
    order too)."""
    return [
        Slot(vehicle="a1", approach=1, first_ms=0, eta_s=1.0, crossing_s=2.0),
        Slot(vehicle="b1", approach=2, first_ms=1, eta_s=2.0, crossing_s=2.0),
        Slot(vehicle="a2", approach=1, first_ms=2, eta_s=3.0, crossing_s=2.0),
        Slot(vehicle="b2", approach=2, first_ms=3, eta_s=4.0, crossing_s=2.0),
        Slot(vehicle="a3", approach=1, first_ms=4, eta_s=5.0, crossing_s=2.0),
    ]


def _no_shared_box(order: list[Slot]) -> None:
    for i, s in enumerate(order):
        assert s.start_s >= s.eta_s - 1e-9
        for t in order[i + 1 :]:
            if t.approach != s.approach:
                assert t.start_s >= s.end_s - 1e-9 or s.start_s >= t.end_s - 1e-9, (s, t)


@pytest.mark.parametrize("policy", ["fcfs", "batch"])
def test_no_two_approaches_share_the_box(policy: str) -> None:
    order = schedule(_slots(), policy, CONFIG)
    assert sorted(s.vehicle for s in order) == ["a1", "a2", "a3", "b1", "b2"]
    _no_shared_box(order)
    for approach in (1, 2):  # an approach keeps its order
        mine = [s.vehicle for s in order if s.approach == approach]
        assert mine == sorted(mine)


def test_first_come_first_served_alternates_batching_does_not() -> None:
    fcfs = schedule(_slots(), "fcfs", CONFIG)
    batch = schedule(_slots(), "batch", CONFIG)
    assert [s.vehicle for s in fcfs] == ["a1", "b1", "a2", "b2", "a3"]
    assert [s.vehicle for s in batch] == ["a1", "a2", "a3", "b1", "b2"]

    def waited(order: list[Slot]) -> float:
        return sum(s.start_s - s.eta_s for s in order)

    assert waited(batch) < waited(fcfs)
    assert max(s.end_s for s in batch) < max(s.end_s for s in fcfs)


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="policy"):
        schedule(_slots(), "random", CONFIG)


def _vir(pid: str, upstream: int, x: float, y: float) -> Request:
    lat, lon = latlon(x, y)
    link = LinkRef(upstream_node=NodeId(region=NODE.region, id=upstream), downstream_node=NODE)
    vir = Vir(
        msg_count=1, sender_id=pid, timestamp_ms=0, ref_lat_deg=lat, ref_lon_deg=lon,
        behavior=frozenset({"intersectionStraightThrough"}),
        current=PathPoint(lat_deg=lat, lon_deg=lon, speed_mps=10.0, link=link),
    )  # fmt: skip
    return Request(message=vir, source="obu", received_at_ms=0)


def test_two_arms_one_is_held_until_the_other_has_cleared() -> None:
    assert CooperativeIntersectionPassing in DAY2_APPS
    # the MAP's junction reference point is at (0, 10); one car from the south, one from the
    # west, 4.0 s and 4.2 s from the box at 10 m/s
    south = vehicle("5000000000000001", 0.0, -42.0, 10.0, 0.0)
    west = vehicle("7000000000000001", -54.0, 10.0, 10.0, 90.0)
    view = view_of(junction_map(), south, west)
    app = CooperativeIntersectionPassing()
    requests = [_vir("5000000000000001", 11, 0.0, -42.0), _vir("7000000000000001", 12, -54.0, 10.0)]
    (sent,) = app.on_tick(view, requests, 0)
    by_id = {c.vehicle_id: c for c in sent.message.coordinations}
    assert by_id["5000000000000001"].suggestion == {"intersectionStraightThrough"}  # granted
    assert by_id["5000000000000001"].path_guidance == ()
    held = by_id["7000000000000001"]
    assert held.suggestion == {"slow-down"}
    (point,) = held.path_guidance
    (first, second) = app.last_plan[NODE]
    assert point.time_s == pytest.approx(second.start_s, abs=0.01)
    assert second.start_s >= first.end_s
    assert all(c.info == {"no-signalIntersectionPassing"} for c in by_id.values())
    raw = encode_model(sent.message, message_set=MessageSet.CSAE2020)
    assert isinstance(decode(raw, message_set=MessageSet.CSAE2020, received_at_ms=0), Decoded)
    # nobody asks for 1.5 s: both have passed and are forgotten
    assert app.on_tick(view, [], 2000) == [] and app.counts["passed"] == 2


def test_a_signalised_junction_is_left_to_its_lights() -> None:
    from _roadside_scene import spat

    from v2xcloud.model import LightState

    g, r = LightState.PROTECTED_GREEN, LightState.RED
    lights = spat(0, phase1=(g, 5.0, r, 8.0), phase2=(r, 5.0, g, 8.0))
    view = view_of(junction_map(), lights, vehicle("5000000000000001", 0.0, -42.0, 10.0, 0.0))
    app = CooperativeIntersectionPassing()
    assert app.on_tick(view, [_vir("5000000000000001", 11, 0.0, -42.0)], 0) == []
    assert app.counts["signalised"] == 1


def test_a_junction_the_platform_has_no_map_for_is_not_planned() -> None:
    view = view_of(vehicle("5000000000000001", 0.0, -52.0, 10.0, 0.0))
    app = CooperativeIntersectionPassing()
    assert app.on_tick(view, [_vir("5000000000000001", 11, 0.0, -52.0)], 0) == []
    assert app.counts["junction_unknown"] == 1
