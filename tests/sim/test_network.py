"""Generated networks: the project's own plain files through netconvert, plane kept as written."""

from __future__ import annotations

from pathlib import Path

import pytest
import sumolib

from v2xcloud.sim.network import build_network, edge_id, network_nodes
from v2xcloud.sim.scenario import NetworkSpec


@pytest.mark.parametrize(
    ("spec", "junctions", "edges"),
    [
        (NetworkSpec(kind="straight", arm_length_m=300.0, lanes=2), 2, 2),
        (NetworkSpec(kind="cross", is_signalised=True, has_sidewalks=True), 5, 8),
        (NetworkSpec(kind="grid", grid_size=3, arm_length_m=100.0), 9, 24),
    ],
)
def test_networks_keep_their_coordinates(
    tmp_path: Path, spec: NetworkSpec, junctions: int, edges: int
) -> None:
    net = sumolib.net.readNet(str(build_network(spec, tmp_path)))
    nodes, planned = network_nodes(spec)
    assert len(nodes) == junctions and len(planned) == edges
    for name, x, y, _ in nodes:
        got = net.getNode(name).getCoord()
        assert got[0] == pytest.approx(x, abs=0.01) and got[1] == pytest.approx(y, abs=0.01)
    for a, b, _ in planned:
        edge = net.getEdge(edge_id(a, b))
        vehicle_lanes = [ln for ln in edge.getLanes() if ln.allows("passenger")]
        assert len(vehicle_lanes) == spec.lanes
    if spec.is_signalised:
        assert [t.getID() for t in net.getTrafficLights()] == ["C"]
    if spec.has_sidewalks:
        assert any(ln.allows("pedestrian") for ln in net.getEdge("WC").getLanes())
