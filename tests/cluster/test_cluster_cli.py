"""``v2xcloud cluster up`` as a real process, and the server version gate."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from v2xcloud.errors import ConfigError
from v2xcloud.gateways.nats_server import check_version, find_nats_server

pytestmark = pytest.mark.timeout(200)


def _fake_server(tmp_path: Path, says: str) -> str:
    script = tmp_path / "nats-server"
    script.write_text(f"#!/bin/sh\necho '{says}'\n")
    script.chmod(0o755)
    return str(script)


def test_a_server_older_than_2_10_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"2\.9\.10.*>= 2\.10"):
        check_version(_fake_server(tmp_path, "nats-server: v2.9.10"))
    with pytest.raises(ConfigError, match="no version"):
        check_version(_fake_server(tmp_path, "hello"))
    assert check_version(_fake_server(tmp_path, "nats-server: v2.10.0")) == (2, 10, 0)


def test_the_pinned_server_is_found_and_new_enough() -> None:
    binary = find_nats_server()
    assert binary is not None, "run `make venv` (requirements/nats-server.txt)"
    assert check_version(binary) >= (2, 10, 0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("workers", [0, 2])
def test_cluster_up_prints_urls_and_sigterm_stops_every_process(workers: int) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "v2xcloud",
            "cluster",
            "up",
            "--servers",
            "3",
            "--workers",
            str(workers),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            last = f"cluster: worker {workers - 1} pid" if workers else "cluster: --nats"
            if line.startswith(last) or not line:
                break
        pids = [int(m[1]) for m in (re.search(r"pid (\d+)", x) for x in lines) if m]
        assert len(pids) == 3 + workers, lines
        urls = [x for x in lines if x.startswith("cluster: --nats")]
        assert urls and urls[0].count("nats://127.0.0.1:") == 3, lines
        time.sleep(2.0 if workers else 0.0)  # the workers join
        assert all(_alive(p) for p in pids)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 143, out
    assert "cluster: stopped" in out
    assert not any(_alive(p) for p in pids)


def test_cluster_up_refuses_bad_sizes() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "v2xcloud", "cluster", "up", "--servers", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 2 and "--servers 0" in out.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--role", "gateway"], "--role gateway works on the backbone: give --nats"),
        (["--role", "centre"], "--role centre works on the backbone: give --nats"),
        (
            ["--role", "centre", "--nats", "nats://127.0.0.1:4222", "--mqtt", "mqtt://h:1883"],
            "devices connect to the gateway tier",
        ),
        (["--nats", "http://x:1"], "write nats://HOST:PORT"),
    ],
)
def test_serve_refuses_a_role_without_its_backbone(args: list[str], says: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "v2xcloud", "serve", "--store", "memory", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2 and says in out.stderr, out.stderr


def test_demo_runs_through_a_local_cluster_of_tile_workers() -> None:
    """``demo --workers 2``: the district's frames through JetStream to two tile workers that
    own the area's tiles, the live lines, the scored table and the workers' advisories (how
    they split between workers depends on where the traffic is: the same-answers test shows
    the split; here the district's busy tiles may all be in one worker's run)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "v2xcloud", "demo", "--headless", "--workers", "2",
           "--duration", "3", "--speed", "0"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        out, err = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)
    assert proc.returncode == 0, err[-3000:]
    assert re.search(
        r"demo: 2 tile workers on 1 JetStream server\(s\); \d+ tiles owned by w0, w1", out
    ), out[-2000:]
    assert len([ln for ln in out.splitlines() if ln.startswith("t=")]) >= 2
    assert "recall" in out
    per_worker = re.search(r"advisories per worker \{(.*)\}", out)
    assert per_worker is not None, out[-2000:]
    issued = [int(n) for n in re.findall(r"'w[01]': (\d+)", per_worker[1])]
    assert sum(issued) > 10, out[-2000:]  # the workers issued the advisories
    assert "duplicate_advisories" not in out
