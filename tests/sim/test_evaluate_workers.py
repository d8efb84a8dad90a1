"""``evaluate`` runs several scenarios per worker process and several workers at once: a
run's outcome must not depend on the runs its process made before, nor on the job count."""

from __future__ import annotations

import msgspec
import pytest

from v2xcloud.errors import ConfigError
from v2xcloud.sim.evaluate import evaluate, run_cost
from v2xcloud.sim.result import RunConfig, ScenarioResult
from v2xcloud.sim.scenario import load_library

pytestmark = pytest.mark.slow


def _outcome(r: ScenarioResult) -> tuple[object, ...]:
    """Everything but wall-clock figures (stage times, latencies that include a tick's time)."""
    scores = {a: (s.episodes, s.detected, s.warnings, s.matched_warnings, s.lead_times_s)
              for a, s in r.scores.items()}  # fmt: skip
    return (scores, r.episodes, r.warnings, r.frames, r.vehicle_hours, r.channel)


def test_shared_worker_processes_and_jobs_change_no_result() -> None:
    (icw,) = load_library("icw_crossing")
    (vru,) = load_library("vrucw_pedestrian")
    icw = msgspec.structs.replace(icw, duration_s=15.0)  # the crossing conflict is at ~12 s
    again = msgspec.structs.replace(icw, name="icw_again")
    config = RunConfig()
    (fresh,) = evaluate([icw], config=config, runs_per_process=1)
    # two workers of up to three runs each: whichever takes "icw_again" has run one before
    shared = evaluate([icw, vru, again], config=config, jobs=2, runs_per_process=3)
    assert [r.name for r in shared] == ["icw_crossing", "vrucw_pedestrian", "icw_again"]
    assert fresh.scores["ICW"].detected >= 1  # the scripted conflict, warned
    assert _outcome(shared[0]) == _outcome(fresh)
    assert _outcome(shared[2]) == _outcome(fresh)
    assert shared[1].scores["VRUCW"].episodes >= 1


def test_costliest_first_and_bad_runs_per_process() -> None:
    library = {s.name: s for s in load_library("all")}
    assert run_cost(library["background_district"]) > run_cost(library["fcw_rear_end"])
    with pytest.raises(ConfigError, match="runs_per_process"):
        evaluate([library["fcw_rear_end"]], config=RunConfig(), runs_per_process=0)
