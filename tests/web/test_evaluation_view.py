"""The evaluation view in headless Chromium: runs written by ``evaluate --report``'s own writer
listed newest first; one opened: the per-app table with the interval over seed replicates, the
lead-time chart with its labelled 2 s reference, a scenario's timeline; every label in
Chinese."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.server import ServerThread
from v2xcloud.api.settings import default_web_dir
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.sim.episodes import Episode
from v2xcloud.sim.report import write_report
from v2xcloud.sim.result import RunConfig, ScenarioResult
from v2xcloud.sim.scorer import AppScore
from v2xcloud.store import DuckDbStore

from .console import open_console, show_route, untranslated


def _write(root: Path, run: str, seeds: int, mtime: float) -> None:
    results = [
        ScenarioResult(
            name="fcw_rear_end" + (f"~s{k}" if k else ""),
            apps=["FCW"],
            config=RunConfig(),
            implemented_apps=["FCW"],
            scores={
                "FCW": AppScore(
                    app="FCW",
                    episodes=2,
                    detected=1 + k % 2,
                    warnings=2,
                    matched_warnings=2,
                    lead_times_s=[1.2, 2.6 + k / 10],
                )
            },
            episodes=[Episode(app="FCW", ego="veh-1", other="veh-2", start_s=4.0, end_s=7.0)],
            warnings=[("FCW", "veh-1", "veh-2", 3.5, 6.0)],
        )
        for k in range(seeds)
    ]
    total = AppScore(app="FCW", episodes=2 * seeds, detected=seeds, warnings=2 * seeds,
                     matched_warnings=2 * seeds, lead_times_s=[1.2, 2.6])  # fmt: skip
    write_report(results, {"FCW": total}, root / run, title=f"bench {run}")
    os.utime(root / run / "report.json", (mtime, mtime))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    web_dir = default_web_dir()
    if not (web_dir / "index.html").is_file():
        pytest.skip(f"dashboard not built at {web_dir}: run `make web` (make test does)")
    runs = tmp_path_factory.mktemp("evaluations")
    _write(runs, "older", 1, time.time() - 3600)
    _write(runs, "newer", 3, time.time() - 60)
    settings = ApiSettings(web_dir=web_dir, evaluations_dir=runs)
    app = create_app(
        live=ScriptedLive(start_ms=int(time.time() * 1000)),
        store=DuckDbStore(data_dir=None),
        settings=settings,
    )
    with ServerThread(app) as srv:
        yield srv


def test_runs_listed_and_one_opened(server: ServerThread, browser: Any, artifacts: Path) -> None:
    page = open_console(
        browser, server.url + "/#/evaluation", "zh-CN", viewport={"width": 1500, "height": 900}
    )
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    show_route(page, "evaluation", settle_ms=0)
    page.wait_for_selector("#eval-apps tr[data-app=FCW]")
    runs = page.evaluate(
        "() => [...document.querySelectorAll('#eval-runs tr')].map(r => r.dataset.run)"
    )
    assert runs == ["newer", "older"]
    cells = page.evaluate(
        "() => [...document.querySelector('#eval-apps tr').cells].map(c => c.textContent)"
    )
    assert cells[:4] == ["FCW", "6", "3", "6"]
    assert " ± " in cells[4]  # recall: mean ± 95 % interval over the 3 seeds
    assert "3 个种子重复" in page.inner_text("#eval-interval")
    lead = page.evaluate(
        "() => { const c = window.v2x.views.evaluation; const o = c.charts().lead.getOption();"
        " return {apps: o.series.map(s => s.name), line: o.series[0].markLine.label.formatter}; }"
    )
    assert lead == {"apps": ["FCW"], "line": "2 s 参考线"}
    timeline = page.evaluate(
        "() => window.v2x.views.evaluation.charts().timeline.getOption().series.map(s => s.data.length)"
    )
    assert timeline == [3, 0, 3]  # one episode and one warning, each a segment
    assert untranslated(page, "zh") == []
    page.screenshot(path=str(artifacts / "evaluation-zh.png"))  # docs/console/evaluation.png
    page.click("#eval-runs tr[data-run=older]")
    page.wait_for_function("() => document.getElementById('eval-interval').textContent === ''")
    assert errors == []
    page.context.close()
