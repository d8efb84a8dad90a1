"""SIGTERM unwinds a long-running command like Ctrl-C: what it started is stopped by pid."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def _children(pid: int) -> dict[int, str]:
    """Direct children of ``pid``: {pid: command name}."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == pid:
            found[int(entry.name)] = name
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.mark.skipif(
    not os.path.exists(MOSQUITTO) and os.environ.get("CI") != "true",
    reason="mosquitto is not installed (tools/system-deps.sh installs it)",
)
def test_sigterm_stops_the_broker_the_demo_started() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "v2xcloud.cli.main", "demo", "--via", "mqtt", "--headless"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        broker = None
        deadline = time.monotonic() + 120
        while broker is None and time.monotonic() < deadline and demo.poll() is None:
            broker = next(
                (p for p, name in _children(demo.pid).items() if name == "mosquitto"), None
            )
            time.sleep(0.2)
        assert broker is not None, "the demo never started its Mosquitto"
        time.sleep(1.0)  # let the run get going
        demo.send_signal(signal.SIGTERM)
        code = demo.wait(timeout=60)
        assert code == 128 + signal.SIGTERM, (
            demo.stderr.read().decode()[-2000:] if demo.stderr else ""
        )
        deadline = time.monotonic() + 10
        while _alive(broker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(broker), f"mosquitto pid {broker} outlived the demo"
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
