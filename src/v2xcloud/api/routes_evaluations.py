"""Runs of ``v2xcloud evaluate --report DIR`` opened in the console (viewer reads).

The evaluations directory (``ApiSettings.evaluations_dir``: ``serve --evaluations DIR``,
default ``<data-dir>/evaluations``) holds one run per sub-directory, each with the
``report.json`` that ``evaluate --report`` writes (a ``report.json`` directly in the directory
is the run ``.``). ``GET /api/evaluations`` lists the runs, newest first (at most
``MAX_RUNS``), with their title, time and what they cover; ``GET /api/evaluations/{run}``
answers one run's ``report.json`` as written: per-app figures (``apps``), replicate intervals
(``intervals``), per-scenario results with their episodes and warnings (the timelines) and
per-app lead times (``scenarios[].scores[app].lead_times_s``), the Day-2 cooperation figures.
A run name is one path component of the directory; anything else is 404.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from v2xcloud.api._common import json_response
from v2xcloud.api.auth import Caller

__all__ = ["MAX_REPORT_BYTES", "MAX_RUNS", "router"]

logger = logging.getLogger(__name__)

router = APIRouter()
MAX_RUNS = 500
"""Runs listed at most (the newest)."""
MAX_REPORT_BYTES = 64 * 1024 * 1024
"""A larger ``report.json`` is not served (413)."""
_REPORT = "report.json"


def _root(request: Request) -> Path:
    root: Path | None = request.app.state.settings.evaluations_dir
    if root is None or not root.is_dir():
        raise HTTPException(
            404, "no evaluations directory: start serve with --evaluations DIR "
            "(runs of `v2xcloud evaluate --report DIR/<run>`)"
        )  # fmt: skip
    return root


def _reports(root: Path) -> list[tuple[str, Path]]:
    found = [(".", root / _REPORT)] if (root / _REPORT).is_file() else []
    found += [
        (d.name, d / _REPORT)
        for d in root.iterdir()
        if d.is_dir() and not d.name.startswith(".") and (d / _REPORT).is_file()
    ]
    found.sort(key=lambda item: item[1].stat().st_mtime, reverse=True)
    return found[:MAX_RUNS]


def _summary(run: str, path: Path) -> dict[str, Any]:
    written_ms = int(path.stat().st_mtime * 1000)
    entry: dict[str, Any] = {"run": run, "written_ms": written_ms, "bytes": path.stat().st_size}
    if path.stat().st_size > MAX_REPORT_BYTES:
        return {**entry, "error": f"report.json larger than {MAX_REPORT_BYTES} bytes"}
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:  # one broken run must not hide the others
        logger.warning("evaluation run %s: unreadable %s: %s", run, path, exc)
        return {**entry, "error": f"unreadable report.json: {exc}"}
    scenarios = doc.get("scenarios") or []
    return {
        **entry,
        "title": doc.get("title"),
        "apps": sorted((doc.get("apps") or {}).keys()),
        "implemented_apps": doc.get("implemented_apps") or [],
        "scenarios": [s.get("name") for s in scenarios if isinstance(s, dict)],
        "replicates": doc.get("replicates", 1),
        "has_cooperation": bool(doc.get("cooperation")),
    }


@router.get("/evaluations", tags=["evaluation"])
def list_evaluations(request: Request, _caller: Caller) -> Response:
    """The evaluation runs in the evaluations directory, newest first."""
    root = _root(request)
    return json_response({"runs": [_summary(run, path) for run, path in _reports(root)]})


@router.get("/evaluations/{run}", tags=["evaluation"])
def get_evaluation(request: Request, _caller: Caller, run: str) -> Response:
    """One run's ``report.json`` as ``evaluate --report`` wrote it."""
    root = _root(request)
    if run != "." and (run in ("", "..") or "/" in run or "\\" in run or run.startswith(".")):
        raise HTTPException(404, f"no evaluation run {run!r}")
    path = root / _REPORT if run == "." else root / run / _REPORT
    if not path.is_file():
        raise HTTPException(404, f"no evaluation run {run!r} (no {run}/report.json)")
    if path.stat().st_size > MAX_REPORT_BYTES:
        raise HTTPException(
            413, f"run {run!r}: report.json is larger than {MAX_REPORT_BYTES} bytes"
        )
    try:
        body = path.read_bytes()
        json.loads(body)  # served only when it is JSON
    except (OSError, ValueError) as exc:
        raise HTTPException(422, f"run {run!r}: unreadable report.json: {exc}") from exc
    return Response(content=body, media_type="application/json")
