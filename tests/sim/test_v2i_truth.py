"""Ground truth of the V2I advisories: GLOSA judged by its content against realised signals;
TJW and HLW episodes from SUMO's routes (a real run of a constructed road)."""

from __future__ import annotations

import math

import pytest

from v2xcloud.sim.evaluate import run_in_process
from v2xcloud.sim.result import RunConfig
from v2xcloud.sim.scenario import ActionSpec, NetworkSpec, Scenario, SignSpec, VehicleSpec
from v2xcloud.sim.v2i_truth import (
    ADVICE_GREY,
    ADVICE_RIGHT,
    ADVICE_WRONG,
    GlosaAdvice,
    V2iTruth,
    green_intervals,
    judge_advice,
)

# one signal index 0: green 0-27 s, yellow 27-30, red 30-57, green again from 57 s
_CHANGES = [(0.0, "Gr"), (27.0, "yr"), (30.0, "rG"), (57.0, "Gr")]


def test_green_intervals_are_the_realised_greens_of_one_link() -> None:
    assert green_intervals(_CHANGES, 0, end_s=90.0) == [(0.0, 27.0), (57.0, 90.0)]
    assert green_intervals(_CHANGES, 1, end_s=90.0) == [(30.0, 57.0)]
    assert green_intervals(_CHANGES, 5, end_s=90.0) == []


def _advice(low: float, high: float, **kw: object) -> GlosaAdvice:
    base: dict[str, object] = {
        "vehicle": "v", "time_s": 30.0, "low_mps": low, "high_mps": high, "named_tls": "C",
        "tls": "C", "link": 0, "distance_m": 300.0, "limit_mps": 13.89,
    }  # fmt: skip
    return GlosaAdvice(**(base | kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("advice", "verdict"),
    [
        (_advice(8.0, 10.0), ADVICE_RIGHT),  # arrives 60-67.5 s: inside the green from 57 s
        (_advice(5.0, 10.0), ADVICE_RIGHT),  # 60-90 s: the run ends at 90 s, green till then
        (_advice(10.0, 13.0), ADVICE_GREY),  # 53-60 s: the fast end arrives on red
        (_advice(12.0, 13.5), ADVICE_WRONG),  # 52.2-55 s: red all along
        (_advice(8.0, 16.0), ADVICE_WRONG),  # above the limit
        (_advice(3.0, 10.0), ADVICE_WRONG),  # below 15 km/h: stop rather
        (_advice(8.0, 10.0, named_tls="D"), ADVICE_WRONG),  # about another junction
        (_advice(4.5, 10.0, distance_m=400.0), ADVICE_GREY),  # arrives after the run's end
    ],
)
def test_glosa_advice_is_judged_by_the_realised_light(advice: GlosaAdvice, verdict: str) -> None:
    greens = green_intervals(_CHANGES, 0, end_s=90.0)
    assert judge_advice(advice, greens, end_s=90.0) == verdict


class _Gone(Exception):
    pass


class _Vehicle:
    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        def unknown(*_args: object) -> None:
            raise _Gone(f"Vehicle 'bg283' is not known ({name})")

        return unknown


class _TraciWithoutTheVehicle:
    TraCIException = _Gone
    vehicle = _Vehicle()


def test_advice_to_a_vehicle_that_has_left_is_grey_not_a_crash() -> None:
    """Advice on its way while the vehicle's trip ends (SUMO no longer knows it): recorded as a
    trip that ends before any signal (grey) and counted; demo_district crashed on it."""
    truth = V2iTruth(
        traci=_TraciWithoutTheVehicle(), events={}, tls_of_node={}, is_connected=lambda v: True,
        step_s=0.1,
    )  # fmt: skip
    truth.glosa_advisory(
        "bg283", 12.0, {"advised_min_mps": 8.0, "advised_max_mps": 12.0}, None, 50.0
    )
    (advice,) = truth.advice
    assert truth.gone == 1 and advice.tls is None and advice.is_route_end
    assert truth.verdicts()[ADVICE_GREY] == 1


class _VehicleInBox:
    """A vehicle in the box of junction G12 on its way into its route's last edge (G12G11,
    which leads to the signal of G11): SUMO names no signal ahead of it."""

    def __init__(self, route: tuple[str, ...]) -> None:
        self.route = route

    def getNextTLS(self, _vid: str) -> list[object]:  # noqa: N802 (traci's names)
        return []

    def getLaneID(self, _vid: str) -> str:  # noqa: N802
        return ":G12_8_0"

    def getRoute(self, _vid: str) -> tuple[str, ...]:  # noqa: N802
        return self.route

    def getRouteIndex(self, _vid: str) -> int:  # noqa: N802
        return 0


class _Signals:
    def getIDList(self) -> list[str]:  # noqa: N802
        return ["G11"]

    def getControlledLinks(self, _tls: str) -> list[list[tuple[str, str, str]]]:  # noqa: N802
        return [[("G12G11_0", "G11G10_0", ":G11_0_0")]]


class _TraciInBox:
    TraCIException = _Gone
    trafficlight = _Signals()

    def __init__(self, route: tuple[str, ...]) -> None:
        self.vehicle = _VehicleInBox(route)


@pytest.mark.parametrize(
    ("route", "verdict"),
    [
        # the trip ends on the edge the box leads to: the signal at its end is never reached
        (("G22G12", "G12G11"), ADVICE_GREY),
        # the route goes on through G11's signal, which SUMO does not name from the box
        (("G22G12", "G12G11", "G11G10"), ADVICE_WRONG),
    ],
)
def test_advice_in_a_junction_box_to_a_trip_ending_before_the_signal_is_grey(
    route: tuple[str, ...], verdict: str
) -> None:
    """background_district's wrong GLOSA advisories were all to vehicles crossing an upstream
    junction on the last leg of their trip (scoring.md: a trip ending before the signal is
    grey); the route-end test missed them because the route index in a box is the edge
    before it."""
    truth = V2iTruth(
        traci=_TraciInBox(route), events={}, tls_of_node={11: "G11"},
        is_connected=lambda v: True, step_s=0.1,
    )  # fmt: skip
    values = {"advised_min_mps": 8.0, "advised_max_mps": 12.0}
    truth.glosa_advisory("bg21", 22.5, values, "node:11/phase:2", 50.0)
    (advice,) = truth.advice
    assert advice.tls is None and advice.is_route_end is (verdict == ADVICE_GREY)
    assert truth.verdicts()[verdict] == 1


class _Lanes:
    def getLength(self, _lane: str) -> float:  # noqa: N802 (traci's names)
        return 400.0


class _TraciOfLanes:
    TraCIException = _Gone
    lane = _Lanes()


_NODES = {"G10": (0.0, 0.0), "G20": (100.0, 0.0), "G21": (100.0, 100.0), "G22": (100.0, 200.0),
          "G12": (0.0, 200.0)}  # fmt: skip


class _GridEdges:
    def getFromJunction(self, edge: str) -> str:  # noqa: N802 (traci's names)
        return edge[:3]

    def getToJunction(self, edge: str) -> str:  # noqa: N802
        return edge[3:]


class _GridJunctions:
    def getPosition(self, node: str) -> tuple[float, float]:  # noqa: N802
        return _NODES[node]


class _GridLanes:
    def __init__(self, turns: str) -> None:
        self.turns = turns

    def getLength(self, _lane: str) -> float:  # noqa: N802
        return 100.0

    def getLinks(self, _lane: str) -> list[tuple[object, ...]]:  # noqa: N802
        return [("x", True, True, True, "x", "G", d, 0.0) for d in self.turns]


class _TraciOfGrid:
    TraCIException = _Gone
    edge = _GridEdges()
    junction = _GridJunctions()

    def __init__(self, lane_turns: str) -> None:
        self.lane = _GridLanes(lane_turns)


@pytest.mark.parametrize(
    ("signals", "lane_turns", "known_m"),
    [
        (0, "sl", 80.0),  # no indicator, a lane that also goes straight: to the junction
        (2, "sl", 280.0),  # left indicator: through the left turn and on straight to G22
        (1, "sl", 80.0),  # the right indicator announces no left turn
        (0, "l", 280.0),  # a left-turn-only lane announces it as well
    ],
)
def test_a_queue_beyond_a_turn_the_vehicle_does_not_announce_is_not_must(
    signals: int, lane_turns: str, known_m: float
) -> None:
    """TJW's must episodes: a vehicle 80 m before a junction where its route turns left
    (G10->G20, then north to G21, straight to G22, then left again to G12). Where it goes at a
    junction before it announces the turn is its driver's (as a queue straight on beyond a
    turn is grey): background_district's missed TJW episodes were queues on the road after
    a left turn, from before the car signalled it."""
    truth = V2iTruth(
        traci=_TraciOfGrid(lane_turns), events={}, tls_of_node={},
        is_connected=lambda v: True, step_s=0.1,
    )  # fmt: skip
    route = ("G10G20", "G20G21", "G21G22", "G22G12")
    assert truth._known_route_m(route, 0, 20.0, signals, "G10G20_0") == known_m
    queue = {"G20G21": [(10.0, "q1"), (17.0, "q2"), (24.0, "q3")]}  # 90-104 m ahead
    for t in (5.0, 6.0):
        truth._queue_ahead("ego", t, 13.0, route, 0, 20.0, queue, known_m=known_m)
    (episode,) = truth.finish()
    assert episode.app == "TJW" and episode.is_required is (known_m > 104.0)


@pytest.mark.parametrize(("in_collision", "required"), [(False, True), (True, False)])
def test_a_vehicle_in_the_collision_ahead_of_it_need_not_be_warned_of_it(
    in_collision: bool, required: bool
) -> None:
    """bsw_lane_change's passer, struck by the car changing into its lane, was a must HLW
    episode about its own collision (the other party ahead on its road): it is in the hazard,
    and BSW/LCW are its warnings. A vehicle approaching a collision still must be warned."""
    truth = V2iTruth(
        traci=_TraciOfLanes(), events={}, tls_of_node={}, is_connected=lambda v: True,
        step_s=0.1,
    )  # fmt: skip
    hazards = {"WE": [(60.0, "ego")]}  # the other party of the collision, 20 m ahead
    for t in (12.0, 13.0):
        truth._hazard_ahead("passer", t, ("WE",), 0, 40.0, hazards, in_collision)
    (episode,) = truth.finish()
    assert (episode.app, episode.ego, episode.is_required) == ("HLW", "passer", required)


@pytest.mark.parametrize(
    ("speeds", "required"),
    [
        ((13.0, 13.0), [True]),  # two samples: a queue the approaching car must be warned of
        ((7.0, 13.0), [False, False]),  # at 7 m/s (grey), then a must seen in one sample
        ((13.0,), [False]),  # a must seen in one sample (the queue moved off): grey
        ((7.0,), [False]),  # one grey sample: grey (it was dropped, so a warning was false)
    ],
)
def test_a_situation_seen_in_one_sample_is_grey(
    speeds: tuple[float, ...], required: list[bool]
) -> None:
    """The V2I truth samples once a second: one sample stands for a second of the road. A
    TJW situation seen in one sample only is too brief to require a warning, and a warning
    then is not false (demo_district: cars accelerating through 8 m/s towards a queue that
    moved off in the next second were false alarms)."""
    truth = V2iTruth(
        traci=_TraciOfGrid("s"), events={}, tls_of_node={}, is_connected=lambda v: True,
        step_s=0.1,
    )  # fmt: skip
    queue = {"G10G20": [(60.0, "q1"), (67.0, "q2"), (74.0, "q3")]}
    for t, speed in zip((5.0, 6.0), speeds, strict=False):
        truth._queue_ahead("ego", t, speed, ("G10G20",), 0, 20.0, queue)
    episodes = truth.finish()
    assert sorted(e.is_required for e in episodes if e.app == "TJW") == sorted(required)
    # each sample stands for the second around it: a moment is judged by its nearest sample
    spans = sorted((e.start_s, e.end_s) for e in episodes if e.is_required)
    assert spans == ([(4.5, 6.5)] if required == [True] else [])


def _road() -> Scenario:
    """A two-way road: a car broken down W->E with hazard lights, one car approaching it and
    one already past it (moving away); E->W a standing queue of three and a car approaching.
    A static sign (RSI) stands on the W->E road."""
    vehicles = [
        VehicleSpec(id="broken", route=("W", "E"), depart_pos_m=420.0),
        VehicleSpec(id="ego", route=("W", "E"), depart_pos_m=150.0, depart_speed_mps=15.0),
        VehicleSpec(id="away", route=("W", "E"), depart_pos_m=450.0, depart_speed_mps=15.0),
        VehicleSpec(id="late", route=("E", "W"), depart_pos_m=0.0, depart_speed_mps=15.0),
    ] + [VehicleSpec(id=f"q{k}", route=("E", "W"), depart_pos_m=366.0 - 8.0 * k) for k in range(3)]
    actions = [
        ActionSpec(at_s=0.1, target=v.id, kind="set_speed", speed_mps=0.0)
        for v in vehicles
        if v.id == "broken" or v.id.startswith("q")
    ] + [ActionSpec(at_s=0.1, target="broken", kind="signals", mode=4)]
    return Scenario(
        name="v2i_truth_road", description="constructed", seed=5, duration_s=14.0,
        network=NetworkSpec(kind="straight", arm_length_m=400.0, speed_mps=20.0),
        vehicles=tuple(vehicles), actions=tuple(actions),
        signs=(SignSpec(road=("W", "E"), sign_type=85, speed_limit_mps=8.33),),
    )  # fmt: skip


@pytest.fixture(scope="module")
def road_result():  # type: ignore[no-untyped-def]
    return run_in_process(_road(), RunConfig())


@pytest.mark.slow
def test_hazard_and_queue_episodes_follow_the_route(road_result) -> None:  # type: ignore[no-untyped-def]
    required = {(e.app, e.ego) for e in road_result.episodes if e.is_required}
    every = {(e.app, e.ego) for e in road_result.episodes}
    assert ("HLW", "ego") in required  # approaching the broken car on its route
    assert ("HLW", "away") not in every  # moving away from it
    assert ("TJW", "late") in required  # approaching the standing queue's tail
    assert ("TJW", "ego") not in every and ("TJW", "away") not in every  # no queue ahead


@pytest.mark.slow
def test_every_app_has_a_row(road_result) -> None:  # type: ignore[no-untyped-def]
    assert {"GLOSA", "HLW", "TJW", "IVS", "SLW", "FCW", "ICW"} <= set(road_result.scores)
    hlw = road_result.scores["HLW"]
    assert hlw.episodes >= 1 and not math.isnan(hlw.vehicle_hours)


@pytest.mark.slow
def test_a_static_sign_is_announced_and_shown_on_its_road_only(road_result) -> None:  # type: ignore[no-untyped-def]
    """The sign's RSI goes over the wire to the platform; IVS shows it to the W->E cars and to
    none of the E->W ones, and the bench scores it."""
    ivs = {e.ego for e in road_result.episodes if e.app == "IVS" and e.is_required}
    assert {"ego", "away", "broken"} <= ivs
    assert not ivs & {"late", "q0", "q1", "q2"}
    score = road_result.scores["IVS"]
    assert score.episodes >= 3 and score.detected == score.episodes
    assert score.warnings >= 3 and score.matched_warnings == score.warnings


def test_an_unconnected_vehicle_is_seen_only_while_a_sensor_reports_it() -> None:
    """A queue the platform has no report of is not its to warn: a sensor's report counts for
    ``SEEN_WITHIN_S`` (the scene's staleness), not for the rest of the run."""
    from types import SimpleNamespace

    from v2xcloud.sim import runner

    chain = SimpleNamespace(
        ids=SimpleNamespace(is_connected=lambda v: v == "obu"),
        perceived_s={"cam": 40.0},
        now_s=40.5,
    )
    seen = runner._Chain._is_seen_now
    assert seen(chain, "obu") and seen(chain, "cam")  # type: ignore[arg-type]
    chain.now_s = 40.0 + runner.SEEN_WITHIN_S + 0.1
    assert not seen(chain, "cam") and not seen(chain, "never")  # type: ignore[arg-type]


def test_glosa_must_approaches_start_on_the_road_that_enters_the_signal() -> None:
    """Before an upstream junction the signal is ahead only if the driver goes that way (its
    route, unknown to the platform): such samples are no must approach; on the approach edge,
    and only there, they are."""
    from types import SimpleNamespace

    traci = SimpleNamespace(
        vehicle=SimpleNamespace(getNextTLS=lambda vid: [("C", 0, 150.0, "G")]),
        trafficlight=SimpleNamespace(getControlledLinks=lambda tls: [[("AC_0", "CE_0", ":C_0")]]),
        lane=SimpleNamespace(getMaxSpeed=lambda lane: 13.89),
    )
    truth = V2iTruth(
        traci=traci, events={}, tls_of_node={}, is_connected=lambda v: True, step_s=0.1
    )
    truth._glosa_sample("up", 10.0, 12.0, "BA_1")  # one road back, across junction A
    truth._glosa_sample("in", 10.0, 12.0, ":A_3_0")  # inside junction A
    assert not truth._samples
    truth._glosa_sample("on", 10.0, 12.0, "AC_1")
    assert [s[:4] for s in truth._samples] == [("on", 10.0, "C", 0)]


def test_a_queue_straight_ahead_off_the_route_is_counted_by_tjws_geometry() -> None:
    """The grey zone for a queue straight on where the route turns or ends unsignalled: the
    queued rows within 15° ahead, 10-450 m, facing the same way (``apps.tjw``'s geometry)."""
    from _snapshots import snapshot

    from v2xcloud.sim.v2i_truth import _straight_ahead

    cars = [("ego", 0.0, 0.0, 12.0, 0.0)]
    cars += [(f"q{k}", 0.0, 100.0 + 7 * k, 0.0, 0.0) for k in range(3)]  # ahead, same way
    cars += [("back", 0.0, 300.0, 0.0, 180.0), ("side", 60.0, 100.0, 0.0, 0.0)]
    cars += [("far", 0.0, 460.0, 0.0, 0.0), ("behind", 0.0, -50.0, 0.0, 0.0)]
    n = len(cars)
    snap = snapshot(1.0, [(*c, 0, "E_0", "car") for c in cars])
    assert _straight_ahead(snap, 0, list(range(1, n))) == 3
    assert _straight_ahead(snap, 0, []) == 0


def test_a_car_standing_in_a_junction_box_queues_before_the_edge_it_enters() -> None:
    from types import SimpleNamespace

    asked: list[str] = []

    def links(lane: str) -> list[tuple[str, ...]]:
        asked.append(lane)
        return [("CE_1", "", "")] if lane == ":C_3_0" else []

    traci = SimpleNamespace(lane=SimpleNamespace(getLinks=links))
    truth = V2iTruth(
        traci=traci, events={}, tls_of_node={}, is_connected=lambda v: True, step_s=0.1
    )
    assert truth._into(":C_3_0") == "CE" and truth._into(":C_9_0") == ""
    assert truth._into(":C_3_0") == "CE" and asked == [":C_3_0", ":C_9_0"]  # cached


def test_glosa_truth_takes_the_signal_on_the_route_when_sumo_names_none() -> None:
    """A vehicle on a lane that does not lead its way yet gets no ``getNextTLS`` from SUMO
    although its route crosses a signal: the route's link (its own lane's if one) stands in."""
    from types import SimpleNamespace

    links = [[("WC_1", "CE_1", ":C_0_0")], [("WC_2", "CN_1", ":C_1_0")], [("NC_1", "CE_1", "")]]
    traci = SimpleNamespace(
        vehicle=SimpleNamespace(
            getLaneID=lambda v: "WC_2",
            getRoute=lambda v: ("WC", "CE") if v == "on" else ("WC",),
            getRouteIndex=lambda v: 0,
            getLanePosition=lambda v: 60.0,
        ),
        trafficlight=SimpleNamespace(getIDList=lambda: ["C"], getControlledLinks=lambda t: links),
        lane=SimpleNamespace(getLength=lambda lane: 200.0),
    )
    truth = V2iTruth(
        traci=traci, events={}, tls_of_node={}, is_connected=lambda v: True, step_s=0.1
    )
    assert truth._signal_on_route("on") == [("C", 0, 140.0, "")]
    assert truth._signal_on_route("ends") == []
