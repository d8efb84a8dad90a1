"""The Day-2 part of the evaluation report: the cooperation table and its plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from v2xcloud.sim.cooperation import CooperationScore, Figure
from v2xcloud.sim.report import format_cooperation, write_report
from v2xcloud.sim.result import RunConfig, ScenarioResult


def _result(name: str, *scores: CooperationScore) -> ScenarioResult:
    return ScenarioResult(name=name, apps=[], config=RunConfig(), cooperation=list(scores))


def _sds(scenario: str, awareness: float, baseline: float) -> CooperationScore:
    return CooperationScore(
        app="SDS",
        scenario=scenario,
        outcome="learned of the stopped car 6 s earlier",
        figures=(
            Figure(
                name="hazards learned earlier",
                unit="%",
                value=awareness,
                baseline=baseline,
                is_lower_better=False,
            ),
            Figure(name="bytes per vehicle-second", unit="B", value=120.0),
        ),
        messages_sent={"SSM": 40},
        messages_checked=40,
    )


def test_the_table_has_a_row_per_figure_and_a_line_per_app() -> None:
    results = [
        _result("sds_hidden", _sds("sds_hidden", 100.0, 0.0)),
        _result("background", _sds("background", 0.0, 0.0)),
        _result("fcw_rear_end"),
    ]
    table = format_cooperation(results)
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["app", "scenario", "figure"]
    row = next(line for line in lines if "sds_hidden" in line and "earlier" in line)
    assert "100" in row and "+100 (+)" in row  # more is better: an improvement
    assert any(line.startswith("SDS: 2 scenarios, collisions 0, min TTC -, sent SSM 80 (80 checked")
               for line in lines)  # fmt: skip
    assert "  sds_hidden: learned of the stopped car 6 s earlier" in lines


def test_idle_runs_are_summarised_not_tabled() -> None:
    idle = CooperationScore(app="SDS", scenario="quiet", outcome="no action: nothing to share",
                            figures=(Figure(name="x", unit="", value=None),))  # fmt: skip
    results = [_result("sds_hidden", _sds("sds_hidden", 100.0, 0.0)), _result("quiet", idle)]
    lines = format_cooperation(results).splitlines()
    assert not any(line.startswith("SDS  quiet") for line in lines)
    assert "  no action in 1: quiet" in lines


def test_no_day2_app_no_table() -> None:
    assert format_cooperation([_result("fcw_rear_end")]) == ""


def test_the_html_report_plots_with_and_without(tmp_path: Path) -> None:
    results = [_result("sds_hidden", _sds("sds_hidden", 100.0, 0.0))]
    page = write_report(results, {}, tmp_path, title="t")
    html = page.read_text(encoding="utf-8")
    assert "Cooperative (Day-2) applications" in html
    assert (tmp_path / "cooperation_SDS.png").stat().st_size > 1000
    assert 'src="cooperation_SDS.png"' in html


def test_one_group_of_scenarios_does_not_repeat_the_per_app_table(tmp_path: Path) -> None:
    from v2xcloud.sim.scorer import AppScore

    scripted = ScenarioResult(name="fcw_rear_end", apps=["FCW"], config=RunConfig())
    background = ScenarioResult(name="background", apps=[], config=RunConfig())
    scores = {"FCW": AppScore(app="FCW")}
    one = write_report([scripted], scores, tmp_path / "one", title="t").read_text()
    assert one.count("<h2>Per application</h2>") == 1 and "<h3>scripted hazards</h3>" not in one
    two = write_report([scripted, background], scores, tmp_path / "two", title="t").read_text()
    assert "<h3>scripted hazards</h3>" in two and "<h3>busy traffic" in two


def test_the_lead_time_plot_labels_its_reference_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from v2xcloud.sim import _plots
    from v2xcloud.sim.scorer import AppScore

    score = AppScore(app="FCW", lead_times_s=[1.5, 2.5, 3.0])
    legends: list[list[str]] = []
    close = _plots.plt.close

    def read_legends_then_close(fig: Any) -> None:  # the figure as saved
        legends.extend(
            [t.get_text() for t in ax.get_legend().get_texts()]
            for ax in fig.axes
            if ax.get_legend() is not None
        )
        close(fig)

    monkeypatch.setattr(_plots.plt, "close", read_legends_then_close)
    assert _plots.lead_times({"FCW": score}, tmp_path / "lead.png") is not None
    assert legends == [["2 s reference"]]
