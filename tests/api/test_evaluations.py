"""Evaluation runs in the console: ``evaluate --report DIR/<run>`` runs listed newest first
and opened as written; bad names, broken and missing runs answered with what is wrong."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi.testclient import TestClient

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.sim.report import write_report
from v2xcloud.sim.result import RunConfig, ScenarioResult
from v2xcloud.sim.scorer import AppScore
from v2xcloud.store import DuckDbStore

from .conftest import T0


def _run(root: Path, name: str, mtime: float, *, seeds: int = 1) -> None:
    results = [
        ScenarioResult(
            name="fcw_rear_end" + (f"~s{k}" if k else ""),
            apps=["FCW"],
            config=RunConfig(),
            scores={"FCW": AppScore(app="FCW", episodes=2, detected=k, lead_times_s=[2.5])},
            implemented_apps=["FCW"],
            warnings=[("FCW", "veh-1", "veh-2", 3.0, 5.5)],
        )
        for k in range(seeds)
    ]
    scores = {"FCW": AppScore(app="FCW", episodes=2 * seeds, detected=seeds, lead_times_s=[2.5])}
    write_report(results, scores, root / name, title=f"run {name}")
    os.utime(root / name / "report.json", (mtime, mtime))


def _client(root: Path | None) -> TestClient:
    settings = ApiSettings(evaluations_dir=root, alarm_poll_s=3600.0)
    app = create_app(
        live=ScriptedLive(start_ms=T0), store=DuckDbStore(data_dir=None), settings=settings
    )
    return TestClient(app)


def test_runs_listed_newest_first_and_opened_as_written(tmp_path: Path) -> None:
    _run(tmp_path, "old", 1_000_000)
    _run(tmp_path, "new", 2_000_000, seeds=3)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "report.json").write_text("{not json")
    os.utime(tmp_path / "broken" / "report.json", (500_000, 500_000))
    (tmp_path / "empty").mkdir()  # no report.json: not a run
    with _client(tmp_path) as client:
        runs = client.get("/api/evaluations").json()["runs"]
        opened = client.get("/api/evaluations/new")
        bad = [
            client.get(f"/api/evaluations/{name}").status_code
            for name in ("broken", "empty", "..%2F..", ".hidden")
        ]
    assert [r["run"] for r in runs] == ["new", "old", "broken"]
    new = runs[0]
    assert new["title"] == "run new" and new["written_ms"] == 2_000_000_000
    assert new["apps"] == ["FCW"] and new["replicates"] == 3 and len(new["scenarios"]) == 3
    assert "unreadable" in runs[2]["error"]
    doc = opened.json()
    assert doc == json.loads((tmp_path / "new" / "report.json").read_text())
    recall = doc["intervals"]["FCW"]["recall"]  # the mean and 95 % interval over 3 seeds
    assert recall["n"] == 3 and recall["mean"] == 0.5 and recall["half_width"] > 0
    assert doc["scenarios"][0]["warnings"] == [["FCW", "veh-1", "veh-2", 3.0, 5.5]]
    assert bad == [422, 404, 404, 404]


def test_without_a_directory_the_routes_say_how_to_get_one(tmp_path: Path) -> None:
    with _client(None) as client:
        answer = client.get("/api/evaluations")
    assert answer.status_code == 404 and "--evaluations DIR" in answer.text
