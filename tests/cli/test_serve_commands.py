"""``v2xcloud serve`` as a real process: API, dashboard and history recording."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from v2xcloud.api.server import free_port
from v2xcloud.cli.main import main


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else b""
        try:
            if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("serve did not become healthy within 30 s")


def test_serve_scripted_platform_records_history(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "V2XCLOUD_ADMIN_TOKEN": "t" * 24}
    args = ["--scripted", "--port", str(port), "--data-dir", str(tmp_path)]
    args += ["--participant-interval-ms", "0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "v2xcloud", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_healthy(url, process)
        time.sleep(1.5)  # a few ticks, and the writer's flush interval
        assert len(httpx.get(url + "/api/participants").json()) >= 9
        track = httpx.get(url + "/api/participants/veh-01/trajectory").json()
        assert len(track) >= 5
        history = httpx.get(url + "/api/stats").json()["history"]
        assert history["written"]["participants"] >= 45 and history["dropped_full"] == 0
        auth = {"Authorization": "Bearer " + "t" * 24}
        assert httpx.post(url + "/api/admin/retention", headers=auth).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert (tmp_path / "history.duckdb").is_file()


def test_bad_arguments_are_config_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--hz", "0"]) == 2
    assert "--hz must be positive" in capsys.readouterr().err
    assert main(["serve", "--live", "runtime", "--origin", "north"]) == 2
    assert "expected 'lat,lon'" in capsys.readouterr().err
