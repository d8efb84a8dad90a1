"""``benchmarks/false_alarms.py --replicate K`` runs the seed ``evaluate`` gives its replicate K
(``NAME~sK``), so its false alarms are the ones that report counts: ``--seed 1`` is another
run (background_district: "8 false of 9" LTA warnings against the report's 7, 3 right)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from v2xcloud.sim.replicates import with_seeds
from v2xcloud.sim.scenario import load_library

ROOT = Path(__file__).resolve().parents[2]


def _false_alarms() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "false_alarms", ROOT / "benchmarks" / "false_alarms.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_replicate_runs_the_seed_evaluate_gives_it() -> None:
    fa = _false_alarms()
    library = load_library("background_district")[0]
    replicates = with_seeds([library], 3)
    for k, expected in enumerate(replicates):
        assert fa.scenario_for("background_district", replicate=k).seed == expected.seed
    assert fa.scenario_for("background_district").seed == library.seed
    assert fa.scenario_for("background_district", seed=1).seed == 1
    assert replicates[1].seed != 1  # "--seed 1" is not "~s1"
