"""CIP through the whole bench (SUMO → VIR/BSM/MAP → platform → RSC slots checked with the
reference schema → down-link → traci → SUMO), each scenario run with the app and again
without it (SUMO's own priority rules at the unsignalised crossing).

What it shows, and what it does not: with the slots no two approaches' cars meet in the
junction (SUMO's SSM crossing conflicts fall to zero) and nobody stops, and nothing collides;
the conservative whole-box slots cost delay against SUMO's gap acceptance (the figures say by
how much; no assertion claims a delay gain). With two cars seconds apart it changes nothing
that matters."""

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
    scenarios = load_library("cip_crossing") + load_library("cip_background")
    config = RunConfig(
        latency_ms=20.0, reference_asn1_dir=str(reference_dir / "asn1" / "csae53-2020-day2")
    )
    return {r.name: r for r in evaluate(scenarios, config=config, jobs=2)}


def _cip(
    result: ScenarioResult,
) -> tuple[CooperationScore, dict[str, tuple[float | None, float | None]]]:
    (score,) = [c for c in result.cooperation if c.app == "CIP"]
    assert score.collisions == 0, score.outcome
    sent = score.messages_sent.get("RSC", 0)
    assert sent > 0 and score.messages_checked == sent, score
    assert "not delivered" not in score.outcome
    assert not result.dead_letters and not result.encode_errors
    return score, {f.name: (f.value, f.baseline) for f in score.figures}


def test_slots_remove_every_crossing_conflict(runs: dict[str, ScenarioResult]) -> None:
    _, fig = _cip(runs["cip_crossing"])
    conflicts, base = fig["crossing conflicts"]
    assert conflicts == 0.0 and base is not None and base > 0.0, fig
    assert fig["serious conflicts"][0] == 0.0
    stops, stops_base = fig["stops"]
    assert stops == 0.0 and stops_base is not None and stops_base > 0.0, fig
    through, _ = fig["through the junction"]
    assert through is not None and through >= 8.0, fig
    delay, delay_base = fig["mean delay"]
    assert delay is not None and delay_base is not None  # reported, both ways


def test_two_cars_apart_nothing_changes(runs: dict[str, ScenarioResult]) -> None:
    _, fig = _cip(runs["cip_background"])
    assert fig["crossing conflicts"] == (0.0, 0.0)
    assert fig["through the junction"] == (2.0, 2.0)
    assert fig["stops"] == (0.0, 0.0)
    delay, delay_base = fig["mean delay"]
    assert delay is not None and delay_base is not None and delay <= delay_base + 0.5, fig


def test_runs_are_clean_and_every_day2_message_passes_the_reference(
    runs: dict[str, ScenarioResult],
) -> None:
    """The checks ``test_bench`` makes of its own runs, on these (it no longer runs them)."""
    check_wire(runs.values())
    assert check_day2_reference(runs.values()) > 0
    check_no_cooperative_collision(runs.values())
