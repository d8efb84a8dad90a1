"""MAP and SPAT built from the network and its signal program survive the real UPER codec."""

from __future__ import annotations

from pathlib import Path

import pytest

from v2xcloud import codec
from v2xcloud.model import LightState, MapData, Spat
from v2xcloud.sim.local_frame import LocalFrame
from v2xcloud.sim.network import build_network
from v2xcloud.sim.scenario import NetworkSpec
from v2xcloud.sim.signals import SignalEncoder, light_of
from v2xcloud.sim.snapshot import TlsState

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
    first = phases[0].states
    assert first[0].likely_end_s == pytest.approx(9.0, abs=0.1)
    assert len(first) == 2 and first[1].start_s == pytest.approx(9.0, abs=0.1)
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
    assert len(maps) == 36 + 24  # 6 x 6 inner crossings and 24 T-junctions on the border
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
