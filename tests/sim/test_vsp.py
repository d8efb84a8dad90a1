"""VSP through the whole bench, with the closed loop (PSM up, RSC down, the car follows it
through traci): a car that does not yield to a person on the crossing is held by the
platform, so the conflict of the run without the app is gone; a person walking away from the
road holds nobody. Each scenario runs with the app and again without it."""

from __future__ import annotations

from pathlib import Path

import pytest
from _bench_checks import check_day2_reference, check_no_cooperative_collision, check_wire

from v2xcloud.sim.cooperation import CooperationScore
from v2xcloud.sim.evaluate import evaluate
from v2xcloud.sim.result import RunConfig, ScenarioResult
from v2xcloud.sim.scenario import load_library

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(reference_dir: Path) -> dict[str, ScenarioResult]:
    scenarios = load_library("vsp_crossing") + load_library("vsp_background")
    config = RunConfig(reference_asn1_dir=str(reference_dir / "asn1" / "csae53-2020-day2"))
    return {r.name: r for r in evaluate(scenarios, config=config, jobs=2)}


def _vsp(
    result: ScenarioResult,
) -> tuple[CooperationScore, dict[str, tuple[float | None, float | None]]]:
    (score,) = [c for c in result.cooperation if c.app == "VSP"]
    return score, {f.name: (f.value, f.baseline) for f in score.figures}


def test_the_car_is_held_and_the_conflict_is_gone(runs: dict[str, ScenarioResult]) -> None:
    result = runs["vsp_crossing"]
    score, fig = _vsp(result)
    assert fig["conflicts (TTC < 1.5 s)"] == (0.0, 1.0), score.outcome
    ttc, ttc_base = fig["min TTC vehicle→VRU"]
    assert ttc is not None and ttc_base is not None and ttc > 3.0 > 1.0 > ttc_base
    gap, gap_base = fig["min distance vehicle→VRU"]
    assert gap is not None and gap_base is not None and gap > gap_base + 3.0
    assert score.collisions == 0 and score.min_ttc_s == ttc
    assert score.messages_sent == {"RSC": 1} and score.messages_checked == 1, score.outcome
    assert result.frames["PSM"] > 0 and not result.dead_letters and not result.encode_errors


def test_nobody_in_the_way_nobody_held(runs: dict[str, ScenarioResult]) -> None:
    score, fig = _vsp(runs["vsp_background"])
    assert score.outcome == "no action" and score.messages_sent == {}
    assert fig["conflicts (TTC < 1.5 s)"] == (0.0, 0.0)
    assert fig["min distance vehicle→VRU"][0] == fig["min distance vehicle→VRU"][1]
    assert score.collisions == 0


def test_runs_are_clean_and_every_day2_message_passes_the_reference(
    runs: dict[str, ScenarioResult],
) -> None:
    """The checks ``test_bench`` makes of its own runs, on these (it no longer runs them)."""
    check_wire(runs.values())
    assert check_day2_reference(runs.values()) > 0
    check_no_cooperative_collision(runs.values())
