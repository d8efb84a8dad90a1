"""``benchmarks/cluster.py --filters`` on a tiny road: every filter list's consumer drains
what its filters select (the two lists of every frame, all of the stream; the worker's keys
no more than the per-tile collapse of them), so the server CPU per message delivered it
reports divides by what was delivered, not by a partial read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]


def test_the_filter_comparison_drains_each_consumer_whole(tmp_path: Path) -> None:
    out = tmp_path / "filters.json"
    argv = [sys.executable, str(ROOT / "benchmarks" / "cluster.py"), "--filters"]
    argv += ["--vehicles", "150", "--seconds", "1", "--results", str(out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240, env=env, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    rows = {row["filters"]: row for row in json.loads(out.read_text())}
    stored = 150 * 10 + 10  # the frames and one tick marker per 100 ms
    assert {r["stored"] for r in rows.values()} == {stored}
    assert rows["all, 1 filter"]["delivered"] == rows["all, 2 filters"]["delivered"] == stored
    assert rows["all, 1 filter"]["subjects"] == 1 and rows["all, 2 filters"]["subjects"] == 2
    keys, per_tile = rows["worker's keys"], rows["one per tile"]
    assert keys["subjects"] > per_tile["subjects"] > rows["owned tiles"]["subjects"] > 2
    assert 0 < keys["delivered"] <= per_tile["delivered"] < stored
    assert 0 < rows["one tile"]["delivered"] <= rows["two tiles"]["delivered"]
