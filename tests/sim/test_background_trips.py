"""Background trips start where the network leads on (no stranded car at a dead end)."""

from __future__ import annotations

import re

import msgspec

from v2xcloud.sim.network import network_nodes
from v2xcloud.sim.scenario import BackgroundSpec, load_library
from v2xcloud.sim.traffic import _background_xml


def test_no_background_trip_starts_into_a_dead_end() -> None:
    # background_crossing_signalised seed 261 on the old code: 7 cars started on an outbound
    # arm, stood at the network's end for the rest of the run, and were AVW's 20 of 20 warnings
    sc = load_library("background_crossing_signalised")[0]
    _, edges = network_nodes(sc.network)
    ahead = {a: {b for a2, b, _ in edges if a2 == a} for a, _, _ in edges}
    dead = {f"{a}{b}" for a, b, _ in edges if not ahead.get(b, set()) - {a}}
    trips = [text for _, text in _background_xml(sc) if "<trip " in text]
    starts = [re.search(r'from="(\w+)"', text) for text in trips]
    froms = [m.group(1) for m in starts if m is not None]
    assert dead and froms
    assert not [f for f in froms if f in dead]


def test_every_background_trip_can_reach_its_destination() -> None:
    """Without turnarounds an arm into a dead end is reachable only from itself; such a trip
    was routed [from, to] all the same, and on background_crossing_signalised its car stood at
    the junction (SUMO named no signal ahead of it: 407 of 545 GLOSA advisories were judged
    wrong). On a straight road nothing leads on from either edge: a trip from one to the
    other stood at the road's end for ever (background_arterial_radar: a queue of 30 stranded
    cars at each end, 29 false HLW warnings); it drives to its own edge's end. Checked with
    an independent search over the network, on four kinds of network."""
    merge = load_library("clc_lane_drop")[0]  # a merge road, given background traffic
    merge = msgspec.structs.replace(
        merge, background=BackgroundSpec(vehicles_per_hour=1500.0, initial_vehicles=10)
    )
    for sc in (
        *(
            load_library(n)[0]
            for n in ("background_crossing_signalised", "background_grid2_connected")
        ),
        load_library("background_arterial_radar")[0],
        merge,
    ):
        name = sc.name
        _, edges = network_nodes(sc.network)
        nxt = {
            f"{a}{b}": [f"{b}{c}" for b2, c, _ in edges if b2 == b and c != a] for a, b, _ in edges
        }

        def reaches(src: str, dst: str, nxt: dict[str, list[str]] = nxt) -> bool:
            if src == dst:
                return True
            seen, todo = {src}, [src]
            while todo:
                for e in nxt[todo.pop()]:
                    if e == dst:
                        return True
                    if e not in seen:
                        seen.add(e)
                        todo.append(e)
            return False

        trips = [text for _, text in _background_xml(sc) if "<trip " in text]
        pairs = [re.search(r'from="(\w+)" to="(\w+)"', t) for t in trips]
        found = [(m.group(1), m.group(2)) for m in pairs if m is not None]
        assert len(found) == len(trips) > 10
        assert [p for p in found if not reaches(*p)] == [], name


def test_background_trips_leave_the_road_before_a_junction() -> None:
    """A trip ending on an edge into a junction leaves the road halfway along it. At the
    edge's end (SUMO's default) its car drove on at full speed to the stop line and vanished
    there: a red-light runner or a crossing car to every app, which cannot know its route
    ends (demo_district: 61 of ICW's 69 false alarms had such a party). Trips ending at the
    network's edge drive to its end."""
    checked = {"demo_district": 0, "background_crossing_signalised": 0}
    for name in checked:
        sc = load_library(name)[0]
        nodes, edges = network_nodes(sc.network)
        xy = {n: (x, y) for n, x, y, _ in nodes}
        onward = {(a, b) for a, b, _ in edges if any(b2 == b and c != a for b2, c, _ in edges)}
        junction_ends = {f"{a}{b}": (a, b) for a, b in onward}
        trips = [text for _, text in _background_xml(sc) if "<trip " in text]
        for t in trips:
            m = re.search(r'from="(\w+)" to="(\w+)"', t)
            assert m is not None
            to = m.group(2)
            arrival = re.search(r'arrivalPos="([\d.]+)"', t)
            if to not in junction_ends or to == m.group(1):
                assert arrival is None, t
                continue
            a, b = junction_ends[to]
            length = ((xy[b][0] - xy[a][0]) ** 2 + (xy[b][1] - xy[a][1]) ** 2) ** 0.5
            assert arrival is not None, t
            assert 0.2 * length <= float(arrival.group(1)) <= 0.6 * length, t
            checked[name] += 1
    # the crossing's trips all end on its outbound arms (they lead nowhere on)
    assert checked["demo_district"] > 100 and checked["background_crossing_signalised"] == 0
