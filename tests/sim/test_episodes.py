"""Ground truth: SUMO SSM output → episodes, and the per-step episode tracker."""

from __future__ import annotations

from pathlib import Path

import pytest

from v2xcloud.errors import SimulationError
from v2xcloud.sim.episodes import EpisodeTracker, ssm_episodes


def _conflict(
    ego: str, foe: str, types: str, ttc: str, ego_v: str, foe_v: str, drac: str | None = None
) -> str:
    n = len(ttc.split())
    times = " ".join(f"{10 + 0.1 * k:.2f}" for k in range(n))
    dracs = f'<DRACSpan values="{drac}"/>' if drac is not None else ""
    return (
        f'<conflict begin="10.00" end="11.00" ego="{ego}" foe="{foe}">'
        f'<timeSpan values="{times}"/><typeSpan values="{types}"/>'
        f'<egoVelocity values="{ego_v}"/><foeVelocity values="{foe_v}"/>'
        f'<TTCSpan values="{ttc}"/>{dracs}</conflict>'
    )


def _ssm(tmp_path: Path, *conflicts: str) -> Path:
    path = tmp_path / "ssm.xml"
    path.write_text("<SSMLog>" + "".join(conflicts) + "</SSMLog>", encoding="utf-8")
    return path


def test_following_conflict_is_fcw_with_required_flag(tmp_path: Path) -> None:
    near = _conflict("f", "l", "2 2 2 2", "3.5 2.9 2.5 2.8", *["10,0 10,0 10,0 10,0"] * 2)
    mild = _conflict("g", "l", "2 2 2", "3.2 2.9 2.8", *["10,0 10,0 10,0"] * 2)
    leader_view = _conflict("l", "f", "3 3 3", "3.5 2.9 2.5", *["10,0 10,0 10,0"] * 2)
    eps = ssm_episodes(_ssm(tmp_path, near, mild, leader_view), {})
    by_ego = {e.ego: e for e in eps}
    assert set(by_ego) == {"f", "g"}  # the leader's perspective is no FCW episode
    f = by_ego["f"]
    assert (f.app, f.other, f.start_s, f.end_s, f.min_ttc_s) == ("FCW", "l", 10.1, 10.3, 2.5)
    assert f.critical_s == pytest.approx(10.2 + 2.5) and f.is_required
    assert not by_ego["g"].is_required  # 2.8 s never reached the 2.7 s warning threshold
    assert f.ttc_at(10.15) in (2.9, 2.5) and f.ttc_at(9.1) == pytest.approx(3.9)


def test_crossing_is_icw_or_lta_by_approach_angle(tmp_path: Path) -> None:
    icw = _conflict("a", "b", "9 9", "1.5 1.2", "10,0 10,0", "0,10 0,10")
    lta = _conflict("t", "o", "9 9", "1.5 1.2", "10,0 0,10", "-10,0 -10,0")
    lta_straight = _conflict("o", "t", "9 9", "1.5 1.2", "-10,0 -10,0", "10,0 0,10")
    eps = {
        e.ego: e
        for e in ssm_episodes(_ssm(tmp_path, icw, lta, lta_straight), {frozenset(("a", "b")): 10.5})
    }
    assert eps["a"].app == "ICW" and eps["a"].is_collision and eps["a"].critical_s == 10.5
    assert eps["t"].app == "LTA" and eps["t"].is_required
    assert eps["o"].app == "LTA" and not eps["o"].is_required  # only the turner must be warned


def test_the_lta_turner_is_the_one_whose_route_turns_left_at_the_junction(
    tmp_path: Path,
) -> None:
    """Over an SSM encounter "o" goes straight through the junction and turns at the next
    one (its velocity turns by 90° in the encounter), while the left turner "t" waits in the
    box (its last velocity 0): by velocity the through car was the turner and the turner
    not (demo_district, seed 0). By their routes (``turns_left``) the turner is the one that
    must be warned; a vehicle whose route is not known is judged by its velocity."""
    through = _conflict("o", "t", "9 9 9", "2.5 1.8 1.5", "10,0 10,0 0,-10", "-5,0 -3,0 0,0")
    turner = _conflict("t", "o", "9 9 9", "2.5 1.8 1.5", "-5,0 -3,0 0,0", "10,0 10,0 0,-10")
    path = _ssm(tmp_path, through, turner)

    def required(turns_left: object) -> dict[str, bool]:
        eps = ssm_episodes(path, {}, turns_left=turns_left)  # type: ignore[arg-type]
        return {e.ego: e.is_required for e in eps if e.app == "LTA"}

    assert required(None) == {"o": True, "t": False}  # by velocity over the encounter
    routes = {"o": False, "t": True}
    assert required(lambda vid, t: routes[vid]) == {"o": False, "t": True}
    assert required(lambda vid, t: None) == {"o": True, "t": False}  # routes not known


def test_unreadable_ssm_output(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="SSM output"):
        ssm_episodes(tmp_path / "missing.xml", {})


def test_tracker_merges_gaps_and_drops_blips() -> None:
    tr = EpisodeTracker(gap_s=0.5, min_duration_s=0.2)
    for t in (1.0, 1.1, 1.2, 1.5, 1.6):  # one episode across a 0.3 s gap
        tr.observe("EBW", "a", "b", t, ttc_s=2.0)
    tr.observe("EBW", "a", "b", 5.0)  # a lone blip: dropped
    eps = tr.finish()
    assert [(e.start_s, e.end_s) for e in eps] == [(1.0, 1.6)]
    assert eps[0].min_ttc_s == 2.0


def test_crossing_without_ttc_counts_by_post_encroachment_time(tmp_path: Path) -> None:
    def pet_only(ego: str, value: str) -> str:
        return (
            f'<conflict begin="10.00" end="12.00" ego="{ego}" foe="x">'
            '<timeSpan values="10.0 10.1"/><typeSpan values="9 17"/>'
            '<egoVelocity values="10,0 10,0"/><foeVelocity values="0,10 0,10"/>'
            f'<TTCSpan values="NA NA"/><PET time="11.50" value="{value}"/></conflict>'
        )

    eps = {
        e.ego: e
        for e in ssm_episodes(
            _ssm(tmp_path, pet_only("near", "0.3"), pet_only("ok", "1.5"), pet_only("far", "2.5")),
            {},
        )
    }
    assert set(eps) == {"near", "ok"}
    near = eps["near"]
    assert (near.app, near.start_s, near.end_s, near.critical_s) == ("ICW", 8.5, 11.5, 11.5)
    assert near.is_required and not eps["ok"].is_required


def test_a_collision_at_another_time_is_not_this_conflicts_outcome(tmp_path: Path) -> None:
    conflict = _conflict("f", "l", "2 2 2", "2.9 2.5 2.6", *["10,0 10,0 10,0"] * 2)
    (ep,) = ssm_episodes(_ssm(tmp_path, conflict), {frozenset(("f", "l")): 80.0})
    assert not ep.is_collision and ep.critical_s == pytest.approx(10.1 + 2.5)


def test_a_long_encounter_with_two_dangerous_moments_is_two_episodes(tmp_path: Path) -> None:
    ttc = " ".join(["2.5"] * 3 + ["9.0"] * 20 + ["2.0"] * 3)  # 2 s of safe gap between
    n = len(ttc.split())
    conflict = _conflict("f", "l", " ".join(["2"] * n), ttc, *[" ".join(["10,0"] * n)] * 2)
    first, second = ssm_episodes(_ssm(tmp_path, conflict), {})
    assert (first.start_s, first.end_s, first.min_ttc_s) == (10.0, pytest.approx(10.2), 2.5)
    assert second.start_s == pytest.approx(12.3) and second.min_ttc_s == 2.0


def test_a_follower_already_braking_as_the_conflict_requires_is_a_grey_zone(
    tmp_path: Path,
) -> None:
    """Braking to a stop behind a queue at ~2.5 m/s² where SSM's DRAC is 2.0: TTC dips under
    2.7 s, but no warning is owed (DRAC within 3.0 and met). Braking too softly, a DRAC
    beyond 3.0, or a TTC under 2.7 s before the braking starts: required."""
    n = 6
    types, ttc = " ".join(["2"] * n), "2.9 2.6 2.5 2.4 2.4 2.6"
    stopped = " ".join(["0,0"] * n)

    def ego(decel: float, from_k: int = 0) -> str:
        v, out = 10.0, []
        for k in range(n):
            out.append(f"{v:.3f},0")
            v -= decel * 0.1 if k >= from_k else 0.0
        return " ".join(out)

    cases = {
        "controlled": (ego(2.5), "2.0 " * n),
        "too_soft": (ego(1.0), "2.0 " * n),
        "beyond_drac": (ego(3.6), "3.4 " * n),
        "late": (ego(2.5, from_k=3), "2.0 " * n),
        "no_drac": (ego(2.5), None),
    }
    conflicts = [
        _conflict(name, "l", types, ttc, v, stopped, d.strip() if d else None)
        for name, (v, d) in cases.items()
    ]
    required = {e.ego: e.is_required for e in ssm_episodes(_ssm(tmp_path, *conflicts), {})}
    assert required == {
        "controlled": False,
        "too_soft": True,
        "beyond_drac": True,
        "late": True,
        "no_drac": True,
    }


def test_a_follower_creeping_up_behind_a_standing_car_is_a_grey_zone(tmp_path: Path) -> None:
    """1.5 m/s, 3 m behind a standing car: TTC 2.0 s, but at walking pace the driver is in
    control (no collision warning speaks below 2.0 m/s); at 2.5 m/s it is required."""
    types, ttc = "2 2 2", "2.9 2.2 2.0"
    stopped = "0,0 0,0 0,0"
    creeping = _conflict("creep", "l", types, ttc, "1.5,0 1.5,0 1.5,0", stopped)
    rolling = _conflict("roll", "l", types, ttc, "2.5,0 2.5,0 2.5,0", stopped)
    required = {e.ego: e.is_required for e in ssm_episodes(_ssm(tmp_path, creeping, rolling), {})}
    assert required == {"creep": False, "roll": True}


def _passed(ego: str, foe_y: str, foe_x: float = 0.7) -> str:
    """A follower at 6 m/s northbound behind a turner standing in the junction box; SSM types
    the samples FOLLOWING (2) with no TTC below 3 s, then FOLLOWING_PASSED (18) with none."""
    n = 6
    times = " ".join(f"{10 + 0.1 * k:.2f}" for k in range(n))
    ego_p = " ".join(f"0,{0.6 * k:.2f}" for k in range(n))
    foe_p = " ".join(f"{foe_x},{y}" for y in foe_y.split())
    return (
        f'<conflict begin="10.00" end="10.50" ego="{ego}" foe="t">'
        f'<timeSpan values="{times}"/><typeSpan values="2 2 18 18 18 18"/>'
        f'<egoPosition values="{ego_p}"/><foePosition values="{foe_p}"/>'
        f'<egoVelocity values="{" ".join(["0,6"] * n)}"/>'
        f'<foeVelocity values="{" ".join(["0,0"] * n)}"/>'
        f'<TTCSpan values="4.0 3.5 NA NA NA NA"/></conflict>'
    )


def test_ssm_blind_after_following_passed_is_a_grey_fcw_episode(tmp_path: Path) -> None:
    """SSM stops measuring TTC once the leader turns onto another junction lane
    (FOLLOWING_PASSED), though it still stands in the follower's way (background_district:
    a follower braking to a stop 0.4 m behind a turner standing 8° into its turn had no
    episode, so its FCW warning was false). Grey: a warning there is not false."""
    close = _passed("f", "20 20 20 20 20 20")  # front 20 m ahead, 0.7 m across: TTC 2.5 s
    beside = _passed("b", "20 20 20 20 20 20", foe_x=2.5)  # 2.5 m across: no overlap
    far = _passed("g", "40 40 40 40 40 40")  # TTC beyond 3 s: nothing
    eps = ssm_episodes(_ssm(tmp_path, close, beside, far), {})
    assert [(e.ego, e.app, e.is_required) for e in eps] == [("f", "FCW", False)]
    assert eps[0].start_s == 10.2 and eps[0].min_ttc_s == pytest.approx((20 - 3.0 - 5) / 6)
