"""``evaluate --seeds N`` and ``--scenario PATH.toml``: replicates, intervals, scenario files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from v2xcloud.cli.evaluate_commands import resolve_scenarios
from v2xcloud.errors import ConfigError, SimulationError
from v2xcloud.sim.replicates import (
    derived_seed,
    format_interval_table,
    intervals,
    replicate_index,
    split_replicates,
    with_seeds,
)
from v2xcloud.sim.result import RunConfig, ScenarioResult
from v2xcloud.sim.scenario import _library_dir, load_library
from v2xcloud.sim.scorer import AppScore


def test_replicates_keep_the_first_seed_and_derive_distinct_ones() -> None:
    base = load_library("icw_crossing") + load_library("fcw_rear_end")
    runs = with_seeds(base, 3)
    assert [r.name for r in runs] == [
        "icw_crossing", "fcw_rear_end", "icw_crossing~s1", "fcw_rear_end~s1",
        "icw_crossing~s2", "fcw_rear_end~s2",
    ]  # fmt: skip
    assert runs[0] == base[0] and runs[1] == base[1]
    seeds = {r.seed for r in runs}
    assert len(seeds) == 6 and all(0 <= s < 2**31 for s in seeds)
    assert derived_seed(base[0].seed, 1) == runs[2].seed  # stable: the same seed every time
    assert [replicate_index(r.name) for r in runs] == [0, 0, 1, 1, 2, 2]
    assert replicate_index("odd~sname") == 0
    with pytest.raises(ConfigError, match="at least 1"):
        with_seeds(base, 0)
    with pytest.raises(ConfigError, match="distinct"):
        with_seeds(base + base[:1], 2)


def _result(name: str, **scores: tuple[int, int, int, int]) -> ScenarioResult:
    """``app=(episodes, detected, warnings, matched)`` over one vehicle-hour."""
    return ScenarioResult(
        name=name,
        apps=[],
        config=RunConfig(),
        vehicle_hours=1.0,
        implemented_apps=list(scores),
        scores={
            app: AppScore(
                app=app, episodes=e, detected=d, warnings=w, matched_warnings=m, vehicle_hours=1.0
            )
            for app, (e, d, w, m) in scores.items()
        },
    )


def test_interval_is_the_student_t_interval_over_replicates() -> None:
    results = [
        _result("a", ICW=(2, 2, 4, 2)),  # precision 0.50, 2 FA/veh-h
        _result("a~s1", ICW=(2, 1, 2, 2)),  # precision 1.00, recall 0.5
        _result("a~s2", ICW=(2, 2, 4, 3)),  # precision 0.75
        _result("b~s2", ICW=(0, 0, 0, 0)),  # adds an hour to replicate 2
    ]
    reps = split_replicates(results)
    assert [len(r) for r in reps] == [1, 1, 2]
    from v2xcloud.sim.evaluate import aggregate

    spans = intervals([aggregate(r) for r in reps])["ICW"]
    precision = spans["precision"]
    assert precision is not None and precision.n == 3
    assert precision.mean == pytest.approx(0.75)
    # s = 0.25, t(0.975, 2) = 4.303: half-width 4.303 * 0.25 / sqrt(3)
    assert precision.half_width == pytest.approx(4.303 * 0.25 / math.sqrt(3))
    fa = spans["false_alarms_per_vehicle_hour"]  # 2/1, 0/1, 1/2 per vehicle-hour
    assert fa is not None and fa.mean == pytest.approx((2 + 0 + 0.5) / 3)
    assert spans["lead_time_median_s"] is None  # no replicate has a lead time
    table = format_interval_table(results, implemented={"ICW"}, title="t")
    row = next(ln for ln in table.splitlines() if ln.startswith("ICW"))
    assert row.split()[:4] == ["ICW", "6", "5", "10"]  # counts pooled
    assert "0.75±0.62" in row and "0.83±" in row  # precision; recall (1 + 0.5 + 1) / 3
    assert "3 seed replicates" in table


def test_a_single_replicate_has_no_half_width() -> None:
    spans = intervals([{"FCW": AppScore(app="FCW", episodes=1, detected=1, vehicle_hours=1.0)}])
    recall = spans["FCW"]["recall"]
    assert recall is not None and recall.half_width is None and recall.format("{:.2f}") == "1.00"


def test_scenario_files_outside_the_library(tmp_path: Path) -> None:
    text = (_library_dir() / "icw_crossing.toml").read_text()
    mine = tmp_path / "my_crossing.toml"
    mine.write_text(text.replace('name = "icw_crossing"', 'name = "my_crossing"'))
    found = resolve_scenarios(["icw_crossing", str(mine), "icw_crossing"])
    assert [s.name for s in found] == ["icw_crossing", "my_crossing"]
    clash = tmp_path / "clash.toml"
    clash.write_text(text.replace("seed = 31", "seed = 931"))
    with pytest.raises(ConfigError, match="already named 'icw_crossing'"):
        resolve_scenarios(["icw_crossing", str(clash)])
    with pytest.raises(ConfigError, match="no such scenario file"):
        resolve_scenarios([str(tmp_path / "missing.toml")])
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace('kind = "cross"', 'kind = "roundabout"'))
    with pytest.raises(SimulationError, match=r"broken\.toml"):
        resolve_scenarios([str(broken)])
