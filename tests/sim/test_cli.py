"""``v2xcloud evaluate`` and ``v2xcloud demo`` from the command line."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from v2xcloud.cli.main import main

pytestmark = pytest.mark.slow


def test_evaluate_writes_table_json_html_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--scenario", "icw_crossing", "--report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ICW" in out and "recall" in out and "report:" in out
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["apps"]["ICW"]["recall"] == 1.0
    assert doc["scenarios"][0]["name"] == "icw_crossing"
    assert "<img" in (tmp_path / "index.html").read_text()
    assert (tmp_path / "timeline_icw_crossing.png").stat().st_size > 1000
    assert (tmp_path / "lead_times.png").stat().st_size > 1000


def test_evaluate_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--scenario", "nope"]) == 1
    assert "unknown scenario" in capsys.readouterr().err
    assert main(["evaluate", "--loss", "1.5"]) == 2


def _demo(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "v2xcloud", "demo", "--headless", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_demo_headless_prints_live_lines_and_final_table() -> None:
    proc = _demo("--duration", "6", "--speed", "0")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    lines = [ln for ln in out.splitlines() if ln.startswith("t=")]
    assert len(lines) >= 5 and "road users=" in lines[-1]
    assert "recall" in out and "dead letters" in out
    # misbehaviour detection runs in the demo as in serve, and flags no honest sender of the
    # district (its RSUs report only unconnected road users: their silence is no evidence)
    screened = re.search(r"^misbehaviour: (\d+) reports checked, (\d+) senders reported", out, re.M)
    assert screened is not None, out[-2000:]
    assert int(screened[1]) > 1000 and int(screened[2]) == 0


def test_demo_stops_cleanly_on_ctrl_c() -> None:
    proc = _demo("--duration", "300", "--speed", "1")
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:  # wait for the first live line
        if proc.stdout.readline().startswith("t="):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "interrupted" in out and "recall" in out
