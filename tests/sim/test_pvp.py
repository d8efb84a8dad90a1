"""PVP through the whole bench (SUMO → BSM/SPAT/MAP → platform → timing change → SUMO's
programme; RSC down-link checked with the reference schema), each scenario run with the app
and again without it: the ambulance's delay falls, the others' rise stays within the
maximum extension, no phase breaks a limit, nothing collides; with no priority vehicle the
app changes nothing."""

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
    names = ("pvp_emergency", "pvp_bus", "pvp_background")
    scenarios = [s for name in names for s in load_library(name)]
    config = RunConfig(reference_asn1_dir=str(reference_dir / "asn1" / "csae53-2020-day2"))
    return {r.name: r for r in evaluate(scenarios, config=config, jobs=2)}


def _pvp(
    result: ScenarioResult,
) -> tuple[CooperationScore, dict[str, tuple[float | None, float | None]]]:
    (score,) = [c for c in result.cooperation if c.app == "PVP"]
    return score, {f.name: (f.value, f.baseline) for f in score.figures}


def test_priority_cuts_the_ambulance_delay_safely(runs: dict[str, ScenarioResult]) -> None:
    score, fig = _pvp(runs["pvp_emergency"])
    assert fig["timing changes"] == (1.0, 0.0), score.outcome
    delay, base = fig["priority vehicle delay"]
    assert delay is not None and base is not None and delay < base - 5.0, fig
    others, others_base = fig["others' mean delay"]
    assert others is not None and others_base is not None
    assert others - others_base < 15.0  # never more than the maximum extension each
    assert fig["phase limit violations"] == (0.0, 0.0)
    assert score.collisions == 0
    assert score.min_ttc_s is not None and score.min_ttc_s > 0.0
    assert fig["priority vehicle min TTC"][0] == fig["priority vehicle min TTC"][1]
    assert score.messages_sent == {"RSC": 1} and score.messages_checked == 1, score.outcome
    assert "not delivered" not in score.outcome
    assert not runs["pvp_emergency"].dead_letters and not runs["pvp_emergency"].encode_errors


def test_a_bus_asking_by_vir_gets_its_green(runs: dict[str, ScenarioResult]) -> None:
    result = runs["pvp_bus"]
    score, fig = _pvp(result)
    assert result.frames["VIR"] > 0  # the bus asks: Req-SignalPriority, reqPriority 5
    assert fig["timing changes"] == (1.0, 0.0), score.outcome
    delay, base = fig["priority vehicle delay"]
    assert delay is not None and base is not None and delay < base - 5.0, fig
    assert fig["phase limit violations"] == (0.0, 0.0) and score.collisions == 0
    assert score.messages_sent == {"RSC": 1} and score.messages_checked == 1, score.outcome


def test_no_priority_vehicle_no_change(runs: dict[str, ScenarioResult]) -> None:
    score, fig = _pvp(runs["pvp_background"])
    assert score.outcome == "no action" and score.messages_sent == {}
    assert fig["timing changes"] == (0.0, 0.0)
    assert fig["others' total delay"][0] == fig["others' total delay"][1]  # the same run
    assert fig["phase limit violations"] == (0.0, 0.0) and score.collisions == 0


def test_runs_are_clean_and_every_day2_message_passes_the_reference(
    runs: dict[str, ScenarioResult],
) -> None:
    """The checks ``test_bench`` makes of its own runs, on these (it no longer runs them)."""
    check_wire(runs.values())
    assert check_day2_reference(runs.values()) > 0
    check_no_cooperative_collision(runs.values())
