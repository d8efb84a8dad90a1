"""CLC and CVM through the whole bench, closed loop (SUMO → VIR/BSM → platform → RSC
checked with the reference schema → down-link → traci → SUMO), each scenario run with the
app and again without it: where the target lane's drivers do not yield on their own, the
coordinated lane changes and merges complete (sooner, or at all) and the smallest TTC during
the manoeuvres rises; nothing collides; with ample gaps the app changes no outcome."""

from __future__ import annotations

from pathlib import Path

import pytest
from _bench_checks import check_day2_reference, check_no_cooperative_collision, check_wire

from v2xcloud.sim.cooperation import CooperationScore
from v2xcloud.sim.evaluate import evaluate
from v2xcloud.sim.result import RunConfig, ScenarioResult
from v2xcloud.sim.scenario import load_library

pytestmark = pytest.mark.slow

NAMES = ("clc_lane_drop", "cvm_on_ramp", "cvm_background")


@pytest.fixture(scope="module")
def runs(reference_dir: Path) -> dict[str, ScenarioResult]:
    scenarios = [s for name in NAMES for s in load_library(name)]
    config = RunConfig(
        latency_ms=20.0,
        loss=0.01,
        reference_asn1_dir=str(reference_dir / "asn1" / "csae53-2020-day2"),
    )
    return {r.name: r for r in evaluate(scenarios, config=config, jobs=2)}


def _score(
    result: ScenarioResult, app: str
) -> tuple[CooperationScore, dict[str, tuple[float | None, float | None]]]:
    (score,) = [c for c in result.cooperation if c.app == app]
    return score, {f.name: (f.value, f.baseline) for f in score.figures}


def _checked(result: ScenarioResult, score: CooperationScore, *, is_closing: bool = True) -> None:
    """Safety and wire: no collision, a positive TTC (``is_closing``: some vehicle closed in
    on a manoeuvring one; without, no TTC at all), every RSC sent was decoded by the
    reference schema."""
    assert score.collisions == 0, score.outcome
    if is_closing:
        assert score.min_ttc_s is not None and score.min_ttc_s > 0.0
    else:
        assert score.min_ttc_s is None
    sent = score.messages_sent.get("RSC", 0)
    assert sent > 0 and score.messages_checked == sent, score
    assert "not delivered" not in score.outcome, score.outcome
    assert result.frames.get("VIR", 0) > 0
    assert not result.dead_letters and not result.encode_errors


def test_cooperative_lane_change_completes_sooner_and_safer(
    runs: dict[str, ScenarioResult],
) -> None:
    result = runs["clc_lane_drop"]
    score, fig = _score(result, "CLC")
    _checked(result, score)
    assert fig["vehicles to change"] == (3.0, 3.0)
    assert fig["success"] == (100.0, 100.0)
    time, time_base = fig["time to complete"]
    assert time is not None and time_base is not None and time < time_base, fig
    ttc, ttc_base = fig["min TTC"]
    assert ttc is not None and ttc_base is not None and ttc > ttc_base, fig


def test_cooperative_merge_lets_every_ramp_car_in(runs: dict[str, ScenarioResult]) -> None:
    result = runs["cvm_on_ramp"]
    score, fig = _score(result, "CVM")
    _checked(result, score)
    success, success_base = fig["success"]
    assert success == 100.0 and success_base is not None and success_base < 100.0, fig
    stopped, stopped_base = fig["stopped in ending lane"]
    assert stopped == 0.0 and stopped_base is not None and stopped_base > 0.0, fig
    ttc, ttc_base = fig["min TTC"]
    assert ttc is not None and ttc_base is not None and ttc > ttc_base, fig


def test_ample_gaps_nothing_changes(runs: dict[str, ScenarioResult]) -> None:
    result = runs["cvm_background"]
    score, fig = _score(result, "CVM")
    _checked(result, score, is_closing=False)
    assert ", 0 of them asked to slow down" in score.outcome, score.outcome  # gaps were open
    for name in ("success", "time to complete", "min gap at change", "others' hard braking"):
        assert fig[name][0] == fig[name][1], (name, fig)
    speed, speed_base = fig["others' mean speed"]
    assert speed is not None and speed_base is not None and speed >= speed_base - 0.1


def test_runs_are_clean_and_every_day2_message_passes_the_reference(
    runs: dict[str, ScenarioResult],
) -> None:
    """The checks ``test_bench`` makes of its own runs, on these (it no longer runs them)."""
    check_wire(runs.values())
    assert check_day2_reference(runs.values()) > 0
    check_no_cooperative_collision(runs.values())
