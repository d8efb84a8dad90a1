"""Build a scenario's SUMO network from the project's own plain node/edge files.

The plane is kept as written (no offset normalisation), so node ``C`` of a crossing sits at
the local frame's origin and :class:`~v2xcloud.geo.LocalFrame` (the platform's own frame) geo-references it.
Edges are named by their end nodes: ``"WC"`` runs from node ``W`` to node ``C``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from xml.sax.saxutils import quoteattr

import sumo

from v2xcloud.errors import SimulationError
from v2xcloud.sim.scenario import NetworkSpec

__all__ = [
    "build_network",
    "edge_id",
    "edge_lanes",
    "ending_lanes",
    "lane_end_x",
    "network_nodes",
    "ramp_edges",
    "sumo_binary",
]

Node = tuple[str, float, float, str]  # name, x_m, y_m, SUMO node type
Edge = tuple[str, str, int]  # from, to, priority


def sumo_binary(name: str) -> str:
    """Path of a SUMO executable (``netconvert``, ``sumo``) from the ``eclipse-sumo`` wheel."""
    path = Path(sumo.SUMO_HOME) / "bin" / name
    if not path.exists():
        raise SimulationError(f"SUMO tool {name} not found at {path}; install eclipse-sumo")
    return str(path)


def edge_id(from_node: str, to_node: str) -> str:
    """The id of the edge from ``from_node`` to ``to_node``."""
    return f"{from_node}{to_node}"


def network_nodes(spec: NetworkSpec) -> tuple[list[Node], list[Edge]]:
    """Nodes and directed edges of the network a spec describes."""
    arm = spec.arm_length_m
    if spec.kind == "straight":
        nodes = [("W", -arm, 0.0, "priority"), ("E", arm, 0.0, "priority")]
        return nodes, [("W", "E", 2), ("E", "W", 2)]
    if spec.kind == "merge":
        nodes = [
            ("W", -arm, 0.0, "priority"),
            ("M", 0.0, 0.0, "priority"),
            ("A", spec.merge_length_m, 0.0, "priority"),
            ("E", spec.merge_length_m + arm, 0.0, "priority"),
        ]
        edges = [("W", "M", 2), ("M", "A", 2), ("A", "E", 2)]
        if spec.has_ramp:
            nodes.append(("R", -arm, -0.25 * arm, "priority"))
            edges.append(("R", "M", 1))
        return nodes, edges
    centre = "traffic_light" if spec.is_signalised else "priority"
    if spec.kind == "cross":
        nodes = [
            ("C", 0.0, 0.0, centre),
            ("N", 0.0, arm, "priority"),
            ("S", 0.0, -arm, "priority"),
            ("E", arm, 0.0, "priority"),
            ("W", -arm, 0.0, "priority"),
        ]
        edges = []
        for end, prio in (("W", 2), ("E", 2), ("N", 1), ("S", 1)):
            edges += [(end, "C", prio), ("C", end, prio)]
        return nodes, edges
    return _grid(spec, centre)


def edge_lanes(spec: NetworkSpec) -> dict[str, int]:
    """Lanes of every edge (``spec.lanes`` unless the kind says otherwise)."""
    _, edges = network_nodes(spec)
    out = {edge_id(a, b): spec.lanes for a, b, _ in edges}
    if spec.kind == "merge":
        out["MA"] = spec.lanes + 1
        out["RM"] = 1
        if not spec.has_ramp:
            out["WM"] = spec.lanes + 1
    return out


def ending_lanes(spec: NetworkSpec) -> frozenset[str]:
    """The lanes vehicles must leave by changing lanes, with those that lead only into them:
    a merge's rightmost lane between M and A (it ends at A, ``lane_end_x``) and the lane
    feeding it (the ramp, or without one the rightmost lane from W)."""
    if spec.kind != "merge":
        return frozenset()
    return frozenset({"RM_0", "MA_0"} if spec.has_ramp else {"WM_0", "MA_0"})


def lane_end_x(spec: NetworkSpec) -> float | None:
    """Where the ending lanes end (x of the network plane; ``None``: no lane ends)."""
    return spec.merge_length_m if spec.kind == "merge" else None


def ramp_edges(spec: NetworkSpec) -> frozenset[str]:
    """The on-ramp edges of the network (vehicles coming from them merge)."""
    return frozenset({"RM"}) if spec.kind == "merge" and spec.has_ramp else frozenset()


def _connections(spec: NetworkSpec) -> list[str]:
    """Explicit lane connections where guessing would be wrong: at a merge's M each incoming
    lane keeps its own lane (the ramp becomes the rightmost), and at A the rightmost lane
    ends (no connection: its vehicles must change lanes before A)."""
    if spec.kind != "merge":
        return []
    out = []
    shift = 0 if not spec.has_ramp else 1
    for k in range(spec.lanes + 1 - shift):
        out.append(f'  <connection from="WM" to="MA" fromLane="{k}" toLane="{k + shift}"/>')
    if spec.has_ramp:
        out.append('  <connection from="RM" to="MA" fromLane="0" toLane="0"/>')
    for k in range(spec.lanes):
        out.append(f'  <connection from="MA" to="AE" fromLane="{k + 1}" toLane="{k}"/>')
    return out


def _grid(spec: NetworkSpec, junction_type: str) -> tuple[list[Node], list[Edge]]:
    size, arm = spec.grid_size, spec.arm_length_m
    half = (size - 1) * arm / 2.0
    nodes: list[Node] = []
    edges: list[Edge] = []
    for i in range(size):
        for j in range(size):
            inner = 0 < i < size - 1 and 0 < j < size - 1
            kind = junction_type if inner or size <= 2 else "priority"
            nodes.append((f"G{i}{j}", i * arm - half, j * arm - half, kind))
            if i + 1 < size:
                edges += [(f"G{i}{j}", f"G{i + 1}{j}", 2), (f"G{i + 1}{j}", f"G{i}{j}", 2)]
            if j + 1 < size:
                edges += [(f"G{i}{j}", f"G{i}{j + 1}", 1), (f"G{i}{j + 1}", f"G{i}{j}", 1)]
    return nodes, edges


def _write_plain(spec: NetworkSpec, out_dir: Path) -> tuple[Path, Path]:
    nodes, edges = network_nodes(spec)
    nod = out_dir / "net.nod.xml"
    edg = out_dir / "net.edg.xml"
    nod_lines = [f'  <node id="{n}" x="{x:.2f}" y="{y:.2f}" type="{t}"/>' for n, x, y, t in nodes]
    nod.write_text("<nodes>\n" + "\n".join(nod_lines) + "\n</nodes>\n", encoding="utf-8")
    lanes = edge_lanes(spec)
    edg_lines = [
        f'  <edge id={quoteattr(edge_id(a, b))} from="{a}" to="{b}" priority="{p}" '
        f'numLanes="{lanes[edge_id(a, b)]}" speed="{spec.speed_mps:.2f}"/>'
        for a, b, p in edges
    ]
    edg.write_text("<edges>\n" + "\n".join(edg_lines) + "\n</edges>\n", encoding="utf-8")
    return nod, edg


def build_network(spec: NetworkSpec, out_dir: Path) -> Path:
    """Write the plain files and run ``netconvert``; returns the ``.net.xml`` path.

    Raises ``SimulationError`` with netconvert's own message if it fails.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    nod, edg = _write_plain(spec, out_dir)
    net = out_dir / "net.net.xml"
    connections = _connections(spec)
    cmd = [
        sumo_binary("netconvert"),
        "--node-files", str(nod),
        "--edge-files", str(edg),
        "--output-file", str(net),
        "--offset.disable-normalization", "true",
        "--no-turnarounds", "true",
        "--tls.cycle.time", str(spec.cycle_s),
        "--no-warnings", "true",
    ]  # fmt: skip
    if spec.all_red_s > 0:
        cmd += ["--tls.allred.time", str(spec.all_red_s)]
    if connections:
        con = out_dir / "net.con.xml"
        text = "<connections>\n" + "\n".join(connections) + "\n</connections>\n"
        con.write_text(text, encoding="utf-8")
        cmd += ["--connection-files", str(con)]
    if spec.has_sidewalks:
        cmd += ["--sidewalks.guess", "true", "--sidewalks.guess.max-speed", "40"]
        cmd += ["--crossings.guess", "true"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SimulationError(f"netconvert failed for {spec.kind} network: {done.stderr.strip()}")
    return net
