"""MAP and SPAT built from the network and its signal program survive the real UPER codec."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from v2xcloud import codec
from v2xcloud.errors import SimulationError
from v2xcloud.geo import LocalFrame
from v2xcloud.model import Lane, LightState, MapData, Rsi, Spat
from v2xcloud.sim.bridge import SumoBridge
from v2xcloud.sim.network import build_network
from v2xcloud.sim.scenario import NetworkSpec, SignSpec, load_library
from v2xcloud.sim.signals import SignalEncoder, light_of
from v2xcloud.sim.snapshot import Snapshot, TlsState

FRAME = LocalFrame(origin_lat_deg=28.2, origin_lon_deg=112.9)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> SignalEncoder:
    spec = NetworkSpec(kind="cross", lanes=2, is_signalised=True, has_sidewalks=True)
    net = build_network(spec, tmp_path_factory.mktemp("net"))
    return SignalEncoder(net_path=str(net), frame=FRAME, epoch_ms=1_767_254_400_000)


def _round_trip(model: object) -> object:
    raw = codec.encode_model(model, message_set=codec.MessageSet.CSAE2020)  # type: ignore[arg-type]
    result = codec.decode(
        raw, message_set=codec.MessageSet.CSAE2020, received_at_ms=1_767_254_400_000
    )
    assert isinstance(result, codec.Decoded), result
    return result.to_model()


def test_map_has_the_crossing_with_lanes_connections_and_phases(encoder: SignalEncoder) -> None:
    (only,) = encoder.map_messages()  # one MAP per junction: only the crossing qualifies
    got = _round_trip(only)
    assert isinstance(got, MapData) and len(got.nodes) == 1
    node = got.nodes[0]
    assert (node.lat_deg, node.lon_deg) == pytest.approx((28.2, 112.9), abs=1e-6)
    assert len(node.in_links) == 4
    link = node.in_links[0]
    assert len(link.lanes) == 2 and link.lanes[0].speed_limits
    phases = {c.phase_id for ln in link.lanes for c in ln.connections}
    assert None not in phases and min(phases) >= 1
    maneuvers = set().union(*(ln.maneuvers for ln in link.lanes))
    assert {"maneuverStraightAllowed", "maneuverLeftAllowed"} <= maneuvers
    last = link.lanes[0].points[-1]  # the centre line ends at the stop line, near the node
    assert abs(last[0] - 28.2) < 2e-4 and abs(last[1] - 112.9) < 2e-4
    assert set(encoder.lane_speed_limits()) >= {"WC_1", "WC_2"}


def test_spat_states_and_time_to_change(encoder: SignalEncoder) -> None:
    # the west-east green phase of SUMO's default program for this crossing (20 links)
    tls = TlsState(tls_id="C", state="gGGgrrrrgGGgrrrrrGrG", next_switch_s=12.0, phase_index=3)
    (spat,) = encoder.spats((tls,), time_s=3.0)
    got = _round_trip(spat)
    assert isinstance(got, Spat)
    phases = got.intersections[0].phases
    assert 2 <= len(phases) <= 16  # links grouped into signal groups, as the wire requires
    lights = [p.states[0].light for p in phases]
    assert LightState.PERMISSIVE_GREEN in lights and LightState.PROTECTED_GREEN in lights
    assert LightState.RED in lights
    # link 0's green goes on through the next phase (the crossings' clearance, 5 s): its
    # movement turns yellow at 14 s, not when the controller's phase ends (9 s)
    first = phases[0].states
    assert first[0].likely_end_s == pytest.approx(14.0, abs=0.1)
    assert len(first) == 2 and first[1].start_s == pytest.approx(14.0, abs=0.1)
    assert first[1].light is LightState.YELLOW
    # the cross street's red lasts through this green, clearance, yellow: green at 9+5+3 s
    red = [p.states for p in phases if p.states[0].light is LightState.RED]
    ends = {round(s[0].likely_end_s or 0.0, 1) for s in red if s[1].light.is_green}
    assert 17.0 in ends
    map_phases = {
        c.phase_id for m in encoder.map_messages() for n in m.nodes for lk in n.in_links
        for ln in lk.lanes
        for c in ln.connections
    }  # fmt: skip
    assert map_phases <= {p.phase_id for p in phases}
    assert encoder.spats((), time_s=3.0) == []


def test_light_mapping() -> None:
    assert light_of("y") is LightState.YELLOW and light_of("o") is LightState.DARK
    assert light_of("?") is LightState.UNAVAILABLE


def test_a_big_grid_sends_one_spat_and_map_per_intersection(tmp_path: Path) -> None:
    """A message holds at most 32 intersections; a city has more, so each RSU sends its own."""
    net = build_network(NetworkSpec(kind="grid", grid_size=8, is_signalised=True), tmp_path)
    enc = SignalEncoder(net_path=str(net), frame=FRAME, epoch_ms=1_767_254_400_000)
    maps = enc.map_messages()
    assert len(maps) == 36 + 24 + 4  # 6 x 6 inner crossings, 24 border T-junctions, 4 corners
    for msg in maps[:3]:
        assert isinstance(_round_trip(msg), MapData)
    lights = tuple(
        TlsState(tls_id=f"G{i}{j}", state="r" * 40, next_switch_s=5.0, phase_index=0)
        for i in range(1, 7)
        for j in range(1, 7)
    )
    spats = enc.spats(lights, time_s=0.0)
    assert len(spats) == 36 and all(len(s.intersections) == 1 for s in spats)
    assert isinstance(_round_trip(spats[0]), Spat)


def test_every_signalised_junction_has_a_map_even_with_two_roads(tmp_path: Path) -> None:
    """A 2x2 grid's four junctions are signalised bends with two incoming roads each: their
    RSUs sent SPAT but no MAP, so the platform had signal states it could tie to no lane
    (unseen_grid2_three_lane_signalised: GLOSA advised nobody, 0 of 395 approaches)."""
    net = build_network(
        NetworkSpec(kind="grid", grid_size=2, lanes=2, is_signalised=True), tmp_path
    )
    enc = SignalEncoder(net_path=str(net), frame=FRAME, epoch_ms=1_767_254_400_000)
    mapped = {n.name for m in enc.map_messages() for n in m.nodes}
    assert mapped == {"G00", "G01", "G10", "G11"}
    assert all(n.in_links for m in enc.map_messages() for n in m.nodes)


def test_opposing_left_turns_pair_the_left_turns_of_opposite_roads(encoder: SignalEncoder) -> None:
    """The crossing's left turns pair north with south and east with west (edges are named by
    their end nodes), never two roads at right angles, whose left turns do cross."""
    pairs = {tuple(sorted(p)) for p in encoder.opposing_left_turns()}
    assert pairs == {(("EC", "CS"), ("WC", "CN")), (("NC", "CE"), ("SC", "CW"))}


def test_left_turns_are_the_movements_with_a_left_or_u_turn_connection(
    encoder: SignalEncoder,
) -> None:
    """The crossing's four left turns (from each road onto the road to its left), and no
    straight or right-turning movement."""
    lefts = encoder.left_turns()
    assert {("SC", "CW"), ("NC", "CE"), ("EC", "CS"), ("WC", "CN")} <= lefts
    assert not lefts & {("SC", "CN"), ("SC", "CE"), ("NC", "CS"), ("NC", "CW")}


def _as_platform_keys(maps: list[MapData]) -> dict[tuple[int, int], Lane]:
    """MAP lanes keyed as the platform's twin keys them: by node and LaneID."""
    return {(n.id.id, ln.lane_id): ln for m in maps for n in m.nodes for lk in n.in_links for ln in lk.lanes}  # fmt: skip


def test_lane_ids_are_unique_within_each_intersection(tmp_path: Path) -> None:
    """LaneID identifies a lane within its intersection; approaches must not share ids (two
    lanes on each of two roads or more: a corner has two)."""
    net = build_network(NetworkSpec(kind="grid", grid_size=4, lanes=2, is_signalised=True,
                                    has_sidewalks=True), tmp_path)  # fmt: skip
    enc = SignalEncoder(net_path=str(net), frame=FRAME, epoch_ms=1_767_254_400_000)
    maps = enc.map_messages()
    keyed = _as_platform_keys(maps)
    for m in maps:
        for node in m.nodes:
            lanes = [ln for lk in node.in_links for ln in lk.lanes]
            assert len(lanes) >= 4 and len({ln.lane_id for ln in lanes}) == len(lanes), node.name
            assert all(keyed[(node.id.id, ln.lane_id)] is ln for ln in lanes)
    # a connection's remote lane is the LaneID its downstream intersection gives that lane
    node = next(n for m in maps for n in m.nodes if n.name == "G11")
    remote = {c.remote_lane_id for lk in node.in_links for ln in lk.lanes for c in ln.connections}
    assert None not in remote and max(remote) > 2  # ids run on past the first road's lanes


def _green_crossings(bridge: SumoBridge) -> Iterator[tuple[Snapshot, str, tuple[float, float]]]:
    """Each vehicle entering a junction on a green SUMO link: the step, the ingress lane it
    left and its last position on that lane."""
    traci, last = bridge._sumo, {}
    while bridge.is_running:
        snap = bridge.step()
        for vid in traci.vehicle.getIDList():
            nxt, lane = traci.vehicle.getNextTLS(vid), traci.vehicle.getLaneID(vid)
            if nxt and not lane.startswith(":"):
                last[vid] = (lane, nxt[0][3], traci.vehicle.getPosition(vid))
            elif lane.startswith(":") and vid in last:
                before, sumo_light, xy = last.pop(vid)
                if sumo_light in "Gg":  # not the red-light runner
                    yield snap, before, xy


def test_the_lane_a_car_crosses_from_shows_green_in_spat_when_sumo_shows_green(
    tmp_path: Path,
) -> None:
    """A car that enters the junction on a green SUMO link finds, through the MAP lane its
    position matches (keyed by node and LaneID, as the platform keys it), a green SPAT phase."""
    (scenario,) = load_library("rlvw_red_light")
    bridge = SumoBridge(scenario=scenario, work_dir=tmp_path, has_ssm=False)
    bridge.start()
    try:
        frame = LocalFrame(origin_lat_deg=scenario.origin_lat_deg,
                           origin_lon_deg=scenario.origin_lon_deg)  # fmt: skip
        enc = SignalEncoder(net_path=str(bridge.net_path), frame=frame, epoch_ms=0)
        keyed = _as_platform_keys(enc.map_messages())
        links = {lk.name: (n.id.id, lk) for m in enc.map_messages() for n in m.nodes
                 for lk in n.in_links}  # fmt: skip
        checked = 0
        for snap, before, (x, y) in _green_crossings(bridge):
            node_id, link = links[before.rsplit("_", 1)[0]]
            lat, lon = (float(v) for v in frame.to_wgs84(x, y))
            mine = min(link.lanes, key=lambda ln: (ln.points[-1][0] - lat) ** 2
                       + (ln.points[-1][1] - lon) ** 2)  # fmt: skip
            (spat,) = [s for s in enc.spats(snap.tls, time_s=snap.time_s)
                       if s.intersections[0].node.id == node_id]  # fmt: skip
            lights = {p.phase_id: p.states[0].light for p in spat.intersections[0].phases}
            seen = {
                lights[c.phase_id] for c in keyed[(node_id, mine.lane_id)].connections if c.phase_id
            }
            assert any(light.is_green for light in seen), (snap.time_s, before, seen)
            checked += 1
        assert checked >= 1
    finally:
        bridge.close()


def test_static_signs_become_one_rsi_per_rsu_with_their_road_as_path(
    encoder: SignalEncoder,
) -> None:
    sign = SignSpec(road=("W", "C"), sign_type=85, speed_limit_mps=8.33, description="school")
    edges, (rsi,) = encoder.sign_messages([sign])
    got = _round_trip(rsi)
    assert isinstance(got, Rsi) and len(got.signs) == 1 and list(edges.values()) == [1]
    (shown,) = got.signs
    assert shown.sign_type == 85 and shown.reference_paths
    (path,) = shown.reference_paths
    x, y = FRAME.to_local(
        [p[0] for p in path.points], [p[1] for p in path.points]
    )  # W -> C: eastbound, ending at the crossing
    assert x[0] < x[-1] <= 0.0 and abs(float(y[-1] - y[0])) < 1.0
    with pytest.raises(SimulationError, match="sign 2: no road from W to E"):
        encoder.sign_messages([SignSpec(road=("W", "E"), sign_id=2, sign_type=85)])


def test_a_corner_is_mapped_and_a_ramps_merge_is_not(tmp_path: Path) -> None:
    """A 3x3 grid's corners are unsignalised bends: unmapped, a car coming round one and a
    car coming towards it on the other road were predicted straight on across each other
    (unseen_grid3_long_blocks, seed 0: all 4 false ICW warnings at corner G02). Mapped, each
    road's one movement turns into the other road, and they cross nowhere. A ramp joining
    the main road at a shallow angle is no corner."""
    grid = build_network(NetworkSpec(kind="grid", grid_size=3, lanes=1), tmp_path / "grid")
    enc = SignalEncoder(net_path=str(grid), frame=FRAME, epoch_ms=0)
    by_name = {m.nodes[0].name: m.nodes[0] for m in enc.map_messages()}
    assert {"G00", "G02", "G20", "G22"} <= set(by_name)
    corner = by_name["G02"]
    turns = {
        (link.name, m)
        for link in corner.in_links
        for lane in link.lanes
        for c in lane.connections
        for m in c.maneuvers
    }
    assert turns == {("G01G02", "maneuverRightAllowed"), ("G12G02", "maneuverLeftAllowed")}
    merge = NetworkSpec(kind="merge", has_ramp=True)
    enc = SignalEncoder(
        net_path=str(build_network(merge, tmp_path / "merge")), frame=FRAME, epoch_ms=0
    )
    assert "M" not in {n.name for m in enc.map_messages() for n in m.nodes}


def test_an_unsignalised_junction_says_who_gives_way_through_the_codec(tmp_path: Path) -> None:
    """SUMO's minor links become ``yieldAllwaysRequired`` connections: at the priority T G10
    of a 3x3 grid the stem (from G11) gives way, the major road's straight links do not, its
    left turn across the oncoming lane does; signalised links (G11) carry none."""
    spec = NetworkSpec(kind="grid", grid_size=3, lanes=1, is_signalised=True)
    enc = SignalEncoder(net_path=str(build_network(spec, tmp_path)), frame=FRAME, epoch_ms=0)
    by_name = {m.nodes[0].name: m for m in enc.map_messages()}
    got = _round_trip(by_name["G10"])
    assert isinstance(got, MapData)
    conns = {
        (link.name, next(iter(c.maneuvers - {"yieldAllwaysRequired"}))): c.maneuvers
        for link in got.nodes[0].in_links
        for lane in link.lanes
        for c in lane.connections
    }
    give_way = {k for k, m in conns.items() if "yieldAllwaysRequired" in m}
    assert ("G11G10", "maneuverLeftAllowed") in give_way
    assert ("G11G10", "maneuverRightAllowed") in give_way
    assert ("G00G10", "maneuverLeftAllowed") in give_way
    assert ("G00G10", "maneuverStraightAllowed") not in give_way
    assert ("G20G10", "maneuverStraightAllowed") not in give_way
    signalised = _round_trip(by_name["G11"])
    assert isinstance(signalised, MapData)
    assert not any(
        "yieldAllwaysRequired" in c.maneuvers
        for link in signalised.nodes[0].in_links
        for lane in link.lanes
        for c in lane.connections
    )


def test_via_movements_name_the_movement_of_each_connections_first_internal_lane(
    encoder: SignalEncoder,
) -> None:
    """A vehicle in the box is on a connection's internal lane: ``via_movements`` names the
    movement it takes (the truth's movement of a vehicle that has not left the box yet),
    every vehicle movement of the crossing, and the four left turns among them."""
    vias = encoder.via_movements()
    assert vias and all(lane.startswith(":C_") for lane in vias)
    movements = set(vias.values())
    assert {("SC", "CW"), ("NC", "CE"), ("EC", "CS"), ("WC", "CN")} <= movements
    assert {("SC", "CN"), ("SC", "CE"), ("WC", "CE")} <= movements
    assert all(frm[1] == "C" and to[0] == "C" for frm, to in movements)
