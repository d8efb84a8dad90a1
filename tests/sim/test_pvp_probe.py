"""PVP's probe: the priority vehicle's min TTC is a time to collision (its leader, SUMO's SSM
conflicts), never another app's "time to reach" that names it (the harness's EVW episodes)."""

from __future__ import annotations

from v2xcloud.geo.frame import LocalFrame
from v2xcloud.sim.day2.probe import ProbeSetup, RunFacts
from v2xcloud.sim.day2.pvp import PriorityProbe
from v2xcloud.sim.episodes import Episode
from v2xcloud.sim.identities import IdentityMap
from v2xcloud.sim.scenario import load_library


def _probe() -> PriorityProbe:
    (scenario,) = load_library("pvp_emergency")
    setup = ProbeSetup(
        scenario=scenario,
        ids=IdentityMap(seed=1, connected_share=1.0, forced={}),
        frame=LocalFrame(origin_lat_deg=28.2, origin_lon_deg=112.9),
        epoch_ms=0,
    )
    probe = PriorityProbe(setup)
    probe.priority.add("ambulance")
    probe.time_loss["ambulance"] = 1.0
    probe.min_ttc_s = 8.0  # its leader's, from the ground truth
    return probe


def _ttc(probe: PriorityProbe, episodes: list[Episode]) -> float | None:
    score = probe.score(RunFacts(episodes=episodes))
    (fig,) = [f for f in score.figures if f.name == "priority vehicle min TTC"]
    assert fig.value == score.min_ttc_s
    return fig.value


def test_an_ssm_conflict_of_the_priority_vehicle_is_its_min_ttc() -> None:
    conflict = Episode(
        app="ICW", ego="sn.1", other="ambulance", start_s=26.1, end_s=26.1, min_ttc_s=2.96
    )
    other_pair = Episode(app="FCW", ego="a", other="b", start_s=1.0, end_s=2.0, min_ttc_s=0.5)
    assert _ttc(_probe(), [conflict, other_pair]) == 2.96


def test_evw_time_to_reach_is_not_a_time_to_collision() -> None:
    # a car waiting at its red stop line while the ambulance passes on the extended green:
    # the ambulance reaches the car's heading line's crossing point 0.014 s later
    grey = Episode(
        app="EVW", ego="sn.1", other="ambulance", start_s=19.3, end_s=29.2,
        min_ttc_s=0.014, is_required=False,
    )  # fmt: skip
    ahead = Episode(
        app="EVW", ego="we.1", other="ambulance", start_s=14.0, end_s=21.8, min_ttc_s=0.81
    )
    assert _ttc(_probe(), [grey, ahead]) == 8.0
