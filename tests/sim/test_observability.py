"""An episode is observable when the platform can know both parties during it: the ego sends
BSMs, and the other sends BSMs (a pedestrian: PSMs) or a roadside sensor reports it at some
moment of the episode (docs/scoring.md)."""

from __future__ import annotations

import types

from v2xcloud.sim import runner
from v2xcloud.sim.episodes import Episode


class _Ids:
    def __init__(self, connected: set[str]) -> None:
        self.connected = connected

    def is_connected(self, sid: str) -> bool:
        return sid in self.connected


def _chain(connected: set[str], pedestrians: set[str], psm: set[str]) -> object:
    chain = types.SimpleNamespace(
        ids=_Ids(connected),
        pedestrians=pedestrians,
        psm_carriers=frozenset(psm),
        perceived_spans={},
        sc=types.SimpleNamespace(step_s=0.1),
    )
    chain.was_perceived = types.MethodType(runner._Chain.was_perceived, chain)
    chain._perceived_at = types.MethodType(runner._Chain._perceived_at, chain)
    return chain


def _ep(other: str, start: float, end: float) -> Episode:
    return Episode(app="VRUCW", ego="car", other=other, start_s=start, end_s=end)


def test_a_pedestrian_is_observable_only_in_episodes_a_sensor_saw_it_in() -> None:
    chain = _chain({"car"}, {"walker", "phone"}, {"phone"})
    for k in range(21):  # a sensor reports the walker from 10 s to 12 s, at 10 Hz
        chain._perceived_at(["walker"], 10.0 + 0.1 * k)  # type: ignore[attr-defined]
    seen = runner._observability(chain, _ep("walker", 11.0, 14.0))  # type: ignore[arg-type]
    assert seen.is_observable
    just_after = runner._observability(chain, _ep("walker", 12.8, 15.0))  # type: ignore[arg-type]
    assert just_after.is_observable  # reported 0.8 s before it began: still known
    later = runner._observability(chain, _ep("walker", 40.0, 43.0))  # type: ignore[arg-type]
    assert not later.is_observable  # out of every sensor's view by then
    phone = runner._observability(chain, _ep("phone", 40.0, 43.0))  # type: ignore[arg-type]
    assert phone.is_observable  # it sends PSMs itself
    unseen_ego = Episode(app="VRUCW", ego="old", other="walker", start_s=11.0, end_s=14.0)
    assert not runner._observability(chain, unseen_ego).is_observable  # type: ignore[arg-type]


def test_reports_less_than_a_second_apart_are_one_span() -> None:
    chain = _chain(set(), set(), set())
    for t in (1.0, 1.5, 2.4, 5.0, 5.1):
        chain._perceived_at(["x"], t)  # type: ignore[attr-defined]
    assert chain.perceived_spans == {"x": [[1.0, 2.4], [5.0, 5.1]]}  # type: ignore[attr-defined]
    assert not chain.was_perceived("x", 3.5, 3.9)  # type: ignore[attr-defined]


def test_a_self_reported_hazard_needs_the_vehicles_own_messages() -> None:
    """AVW's broken-down car seen only by a roadside sensor: its hazard lights are in no RSM;
    nor is an emergency vehicle's call (unseen_grid3_priority: an unconnected ambulance seen
    by the camera made three EVW misses nothing on the wire could have told)."""
    chain = _chain({"car", "connected"}, set(), set())
    for k in range(30):
        chain._perceived_at(["hidden", "connected"], 10.0 + 0.1 * k)  # type: ignore[attr-defined]
    for app, other, known in (("AVW", "hidden", False), ("AVW", "connected", True),
                              ("CLW", "hidden", False), ("EVW", "hidden", False),
                              ("EVW", "connected", True), ("FCW", "hidden", True)):  # fmt: skip
        e = Episode(app=app, ego="car", other=other, start_s=10.0, end_s=12.0)
        assert runner._observability(chain, e).is_observable is known, (app, other)  # type: ignore[arg-type]


def test_an_episode_under_way_when_the_run_begins_is_not_observable() -> None:
    """The run starts mid-traffic: a conflict in progress at its first step had no report
    (nor MAP) before it, and its warning horizon lies before the run; over within the first
    second, it had no chance."""
    chain = _chain({"car", "other"}, set(), set())
    at_start = Episode(app="ICW", ego="car", other="other", start_s=0.0, end_s=0.1)
    assert not runner._observability(chain, at_start).is_observable  # type: ignore[arg-type]
    first_step = Episode(app="SLW", ego="car", other=None, start_s=0.1, end_s=0.7)
    assert not runner._observability(chain, first_step).is_observable  # type: ignore[arg-type]
    later = Episode(app="ICW", ego="car", other="other", start_s=0.6, end_s=0.7)
    assert runner._observability(chain, later).is_observable  # type: ignore[arg-type]
    # a speeder from the start, over the limit for seconds, can be warned in its course
    lasting = Episode(app="SLW", ego="car", other=None, start_s=0.1, end_s=12.0)
    assert runner._observability(chain, lasting).is_observable  # type: ignore[arg-type]
