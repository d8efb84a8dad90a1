"""``benchmarks/cluster.py --shard-zoom Z`` (one stream vs shards, same run) on a tiny road:
both layouts store the whole backlog, two workers drain it and answer every paced tick, and
the sharded run's frame streams are led evenly by the three servers (the one stream by one).
A bench that silently dropped the sharded markers, or measured an unspread cluster, would
report figures of nothing; this catches it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(600)
ROOT = Path(__file__).resolve().parents[2]


def test_the_shard_comparison_measures_both_layouts_whole(tmp_path: Path) -> None:
    out = tmp_path / "shards.json"
    argv = [sys.executable, str(ROOT / "benchmarks" / "cluster.py"), "--shard-zoom", "14"]
    argv += ["--vehicles", "150", "--seconds", "1", "--paced-vehicles", "100", "--paced-s", "1"]
    argv += ["--results", str(out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run(argv, capture_output=True, text=True, timeout=540, env=env, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    rows = {row["layout"]: row for row in json.loads(out.read_text())}
    assert set(rows) == {"one stream", "shards z14"}
    for row in rows.values():
        thr, paced = row["throughput"], row["paced"]
        assert thr["complete"] and thr["stored"] == thr["expected"]
        assert paced["ticks"] == paced["of"] == 10
        assert set(thr["store_cpu_each_s"]) == {"n0", "n1", "n2"}
    assert sum(rows["one stream"]["throughput"]["leads"].values()) == 1
    assert rows["shards z14"]["throughput"]["streams"] > 1
    leads = rows["shards z14"]["throughput"]["leads"]
    assert set(leads) == {"n0", "n1", "n2"}
    assert max(leads.values()) - min(leads.values()) <= 1
