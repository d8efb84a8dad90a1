"""The closed loop against a real SUMO: an RSC's bytes reaching a vehicle become traci
commands it follows (speed at a comfortable rate, lane, the time to be at a point) for the
coordination's window and no longer; vehicles state intentions SUMO's network gives them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.geo import LocalFrame
from v2xcloud.model.day2 import PathPoint, Rsc, VehicleCoordination
from v2xcloud.sim.actuation import CoordinationFollower, IntentionSource, RoadGraph
from v2xcloud.sim.bridge import SumoBridge
from v2xcloud.sim.identities import IdentityMap
from v2xcloud.sim.network import edge_id, network_nodes, ramp_edges
from v2xcloud.sim.result import DEFAULT_EPOCH_MS
from v2xcloud.sim.scenario import ActionSpec, NetworkSpec, Scenario, VehicleSpec
from v2xcloud.sim.signals import SignalEncoder

EPOCH = DEFAULT_EPOCH_MS
STRAIGHT = Scenario(
    name="actuation", description="", seed=5, duration_s=40.0,
    network=NetworkSpec(kind="straight", arm_length_m=500.0, lanes=2, speed_mps=20.0),
    vehicles=(
        VehicleSpec(id="v", route=("W", "E"), depart_pos_m=50.0, depart_speed_mps=15.0, depart_lane=0),
        VehicleSpec(id="w", route=("W", "E"), depart_pos_m=10.0, depart_speed_mps=15.0, depart_lane=1),
    ),
    actions=(
        ActionSpec(at_s=0.1, target="v", kind="set_speed", speed_mps=15.0),
        ActionSpec(at_s=0.1, target="w", kind="set_speed", speed_mps=15.0),
    ),
)  # fmt: skip


class Loop:
    """A started bridge with a follower on it."""

    def __init__(self, scenario: Scenario, work_dir: Path) -> None:
        self.bridge = SumoBridge(scenario=scenario, work_dir=work_dir, has_ssm=False)
        self.bridge.start()
        self.frame = LocalFrame(
            origin_lat_deg=scenario.origin_lat_deg, origin_lon_deg=scenario.origin_lon_deg
        )
        self.ids = IdentityMap(seed=scenario.seed, connected_share=1.0, forced={})
        self.follower = CoordinationFollower(
            traci=self.bridge.traci, ids=self.ids, frame=self.frame, epoch_ms=EPOCH,
            message_set="csae2020",
        )  # fmt: skip
        self.t = 0.0

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            snap = self.bridge.step()
            self.t = snap.time_s
            self.follower.step(self.t)

    def speed(self, vid: str) -> float:
        return float(self.bridge.traci.vehicle.getSpeed(vid))

    def send(
        self,
        coordination: VehicleCoordination,
        to: str,
        *,
        issued_s: float | None = None,
        rsu_id: str = "5043000000000001",
    ) -> None:
        issued = self.t if issued_s is None else issued_s
        x, y = self.bridge.traci.vehicle.getPosition(to)
        lat, lon = self.frame.to_wgs84(x, y)
        rsc = Rsc(
            msg_count=1, rsu_id=rsu_id, timestamp_ms=EPOCH + round(issued * 1000),
            ref_lat_deg=float(lat), ref_lon_deg=float(lon), coordinations=(coordination,),
        )  # fmt: skip
        raw = encode_model(rsc, message_set=MessageSet.CSAE2020)
        self.follower.receive(to, raw, EPOCH + round(self.t * 1000) + 20)

    def point_ahead(self, vid: str, metres: float) -> tuple[float, float]:
        x, y = self.bridge.traci.vehicle.getPosition(vid)
        lat, lon = self.frame.to_wgs84(x + metres, y)  # the road runs east
        return float(lat), float(lon)


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loop]:
    it = Loop(STRAIGHT, tmp_path)
    it.step(5)
    yield it
    it.bridge.close()


def test_slow_down_at_a_comfortable_rate_for_the_window_then_released(loop: Loop) -> None:
    lat, lon = loop.point_ahead("v", 0.0)
    guidance = (PathPoint(lat_deg=lat, lon_deg=lon, speed_mps=8.0),)
    loop.send(
        VehicleCoordination(
            vehicle_id=loop.ids.bsm_id("v"), suggestion=frozenset({"slow-down"}),
            life_time_s=6.0, path_guidance=guidance,
        ),
        "v",
    )  # fmt: skip
    speeds = []
    for _ in range(55):
        loop.step()
        speeds.append(loop.speed("v"))
    drops = [a - b for a, b in itertools.pairwise(speeds)]
    assert max(drops) <= 2.0 * 0.1 + 1e-6  # never harder than 2 m/s²
    assert min(speeds) == pytest.approx(8.0, abs=0.05)
    assert loop.follower.stats["followed"] == 1
    loop.step(10)  # the 6 s window ended: the scripted 15 m/s hold is gone, the driver accelerates
    assert loop.follower.stats["released"] == 1 and not loop.follower.active
    assert loop.speed("v") > 9.0
    (window,) = loop.follower.windows
    assert window.vehicle == "v" and window.end_s - window.start_s == pytest.approx(6.0, abs=0.05)


def test_a_grant_never_lifts_another_roadsides_hold(loop: Loop) -> None:
    vid = loop.ids.bsm_id("v")
    lat, lon = loop.point_ahead("v", 0.0)
    hold = VehicleCoordination(
        vehicle_id=vid, suggestion=frozenset({"slow-down"}), life_time_s=4.0,
        path_guidance=(PathPoint(lat_deg=lat, lon_deg=lon, speed_mps=5.0),),
    )  # fmt: skip
    grant = VehicleCoordination(
        vehicle_id=vid, suggestion=frozenset({"intersectionStraightThrough"}), life_time_s=3.0
    )
    loop.send(hold, "v", rsu_id="0000000000000000")  # e.g. VSP, for a person crossing
    loop.step(5)
    loop.send(grant, "v")  # another roadside's grant to pass: refused while the hold lasts
    assert loop.follower.stats["grant_refused_while_held"] == 1
    assert loop.follower.active["v"].coordination.suggestion == frozenset({"slow-down"})
    loop.send(grant, "v", rsu_id="0000000000000000")  # the same roadside replaces its own
    assert loop.follower.active["v"].coordination.suggestion == grant.suggestion
    loop.step(35)  # every window over: a grant is followed again
    loop.send(grant, "v")
    assert loop.follower.active["v"].coordination.suggestion == grant.suggestion


def test_lane_change_to_the_left(loop: Loop) -> None:
    assert loop.bridge.traci.vehicle.getLaneIndex("v") == 0
    loop.send(
        VehicleCoordination(
            vehicle_id=loop.ids.bsm_id("v"), suggestion=frozenset({"laneChangingToLeft"}),
            life_time_s=5.0,
        ),
        "v",
    )  # fmt: skip
    loop.step(40)
    assert loop.bridge.traci.vehicle.getLaneIndex("v") == 1
    assert loop.follower.stats["lane_command"] == 1


def test_be_at_a_point_at_its_time(loop: Loop) -> None:
    lat, lon = loop.point_ahead("v", 100.0)
    start = loop.t
    guidance = (PathPoint(lat_deg=lat, lon_deg=lon, time_s=10.0),)  # 10 m/s, not 15
    loop.send(
        VehicleCoordination(vehicle_id=loop.ids.bsm_id("v"), life_time_s=12.0, path_guidance=guidance),
        "v",
    )  # fmt: skip
    x0 = loop.bridge.traci.vehicle.getPosition("v")[0]
    arrived = None
    for _ in range(130):
        loop.step()
        if arrived is None and loop.bridge.traci.vehicle.getPosition("v")[0] >= x0 + 100.0:
            arrived = loop.t - start
    assert arrived == pytest.approx(10.0, abs=0.5)


def test_what_is_not_followed_is_counted(loop: Loop) -> None:
    other = VehicleCoordination(vehicle_id=loop.ids.bsm_id("w"), suggestion=frozenset({"stop"}))
    loop.send(other, "v")  # an RSC reaching v that coordinates only w
    late = VehicleCoordination(
        vehicle_id=loop.ids.bsm_id("v"), suggestion=frozenset({"stop"}), life_time_s=0.1
    )
    loop.send(late, "v", issued_s=loop.t - 1.0)  # delayed past its window
    loop.follower.receive("v", b"\x00\x01garbage", EPOCH)
    loop.step(5)
    stats = loop.follower.stats
    assert stats["rsc_for_others"] == 1 and stats["arrived_expired"] == 1
    assert stats["undecodable"] == 1 and stats["followed"] == 0
    assert loop.speed("v") == pytest.approx(15.0, abs=0.01)


def test_a_ramp_car_states_its_merge(tmp_path: Path) -> None:
    scenario = Scenario(
        name="ramp", description="", seed=3, duration_s=30.0,
        network=NetworkSpec(kind="merge", arm_length_m=300.0, lanes=2, speed_mps=15.0,
                            merge_length_m=120.0, has_ramp=True),
        vehicles=(
            VehicleSpec(id="m", route=("R", "M", "A", "E"), depart_pos_m=200.0, depart_speed_mps=14.0),
            VehicleSpec(id="a", route=("W", "M", "A", "E"), depart_pos_m=200.0, depart_speed_mps=14.0, depart_lane=0),
        ),
    )  # fmt: skip
    loop = Loop(scenario, tmp_path)
    try:
        _, edges = network_nodes(scenario.network)
        signals = SignalEncoder(
            net_path=str(loop.bridge.net_path), frame=loop.frame, epoch_ms=EPOCH
        )
        graph = RoadGraph(
            node_numbers=signals.node_numbers, lane_numbers=signals.lane_numbers,
            edge_nodes={edge_id(a, b): (a, b) for a, b, _ in edges},
            ramp_edges=ramp_edges(scenario.network),
        )  # fmt: skip
        source = IntentionSource(
            traci=loop.bridge.traci, ids=loop.ids, frame=loop.frame, graph=graph, epoch_ms=EPOCH
        )
        loop.step(5)
        virs = source.intentions(["m", "a"], 500, 100)
        assert [v for v, _ in virs] == ["m"]  # the main-road car has no intention
        vir = virs[0][1]
        assert vir.behavior == {"laneChangingToLeft", "rampIn"}
        assert vir.sender_id == loop.ids.bsm_id("m") and vir.timestamp_ms == EPOCH + 500
        (request,) = vir.requests
        assert request.lane_change is not None
        assert request.lane_change.target_lane == signals.lane_numbers["MA_1"]
        times = [p.time_s for p in vir.path]
        assert times == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        assert source.intentions(["m", "a"], 600, 100) == []  # every 500 ms only
        raw = encode_model(vir, message_set=MessageSet.CSAE2020)
        assert raw  # a valid VIR on the wire
    finally:
        loop.bridge.close()


def test_a_command_sumo_refuses_drops_that_coordination_only(loop: Loop) -> None:
    real = loop.bridge.traci

    class Refusing:  # the real vehicle domain, except setSpeed on v, which SUMO refuses
        def __getattr__(self, name: str) -> object:
            return getattr(real.vehicle, name)

        def setSpeed(self, vid: str, speed: float) -> None:  # noqa: N802 (traci's name)
            if vid == "v":
                raise real.TraCIException("vehicle 'v' is not known")
            real.vehicle.setSpeed(vid, speed)

    class Traci:
        def __getattr__(self, name: str) -> object:
            return Refusing() if name == "vehicle" else getattr(real, name)

    loop.follower.traci = Traci()
    lat, lon = loop.point_ahead("w", 0.0)
    slow = (PathPoint(lat_deg=lat, lon_deg=lon, speed_mps=10.0),)
    for vid in ("v", "w"):
        loop.send(
            VehicleCoordination(
                vehicle_id=loop.ids.bsm_id(vid), suggestion=frozenset({"slow-down"}),
                life_time_s=5.0, path_guidance=slow,
            ),
            vid,
        )  # fmt: skip
    loop.step(30)
    assert loop.follower.stats["traci_refused:start"] == 1
    assert loop.follower.stats["traci_refused:step"] == 0
    assert "v" not in loop.follower.active and "w" in loop.follower.active
    assert loop.speed("w") == pytest.approx(10.0, abs=0.05)
