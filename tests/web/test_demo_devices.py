"""``v2xcloud demo --via mqtt`` exposes the devices its bench publishes as in ``/api/devices``.

The demo runs as a subprocess (it starts and stops its own Mosquitto on 127.0.0.1); the test
polls its API while the scenario runs, with a viewer token so the token path is exercised too,
and stops the process by pid with SIGINT (Ctrl-C), which stops its broker too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from v2xcloud.api.server import free_port
from v2xcloud.gateways.broker import find_mosquitto

ROOT = Path(__file__).resolve().parents[2]
VIEWER = "viewer-secret-for-demo-test"


def _get(url: str, token: str | None) -> Any:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_demo_via_mqtt_serves_its_devices_with_health(tmp_path: Path) -> None:
    if find_mosquitto() is None:
        pytest.skip("mosquitto not installed (/usr/sbin/mosquitto); tools/system-deps.sh")
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["V2XCLOUD_VIEWER_TOKEN"] = VIEWER
    env["V2XCLOUD_ADMIN_TOKEN"] = "admin-secret-for-demo-test"
    log = (tmp_path / "demo.log").open("w")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "v2xcloud", "demo"),
            *("--via", "mqtt", "--duration", "40", "--port", str(port)),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/api"
    devices: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                devices = _get(f"{base}/devices", VIEWER)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                devices = []
            online = [d for d in devices if d["health"]["online"] and d["health"]["rates_per_s"]]
            if {d["kind"] for d in online} >= {"rsu", "obu"}:
                break
            time.sleep(0.5)
        # without the viewer token the same route is refused
        with pytest.raises(urllib.error.HTTPError) as refused:
            _get(f"{base}/devices", None)
        assert refused.value.code == 401
        stats = _get(f"{base}/stats", VIEWER)
    finally:
        # Ctrl-C: the demo stops cleanly, stopping its Mosquitto (SIGTERM would orphan it)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
    output = (tmp_path / "demo.log").read_text()
    assert devices, f"/api/devices stayed empty; demo output:\n{output[-3000:]}"
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for d in devices:
        by_kind.setdefault(d["kind"], []).append(d)
    assert {"rsu", "obu"} <= set(by_kind), sorted(by_kind)
    for device in devices:
        assert device["tenant"] == "bench"
        health = device["health"]
        assert set(health) >= {"online", "last_seen_ms", "rates_per_s", "dead_letters"}
        assert set(health["downlink"]) >= {"ack_rate", "link_abnormal"}
    rsu_rates = [d["health"]["rates_per_s"] for d in by_kind["rsu"] if d["health"]["online"]]
    assert any(r.get("HB", 0) > 0 or sum(r.values()) > 0 for r in rsu_rates), rsu_rates
    obu = [d for d in by_kind["obu"] if d["health"]["online"]]
    assert any(d["health"]["rates_per_s"].get("BSM", 0) > 0 for d in obu), obu[:3]
    assert stats["gateways"]["devices"] >= len(devices)  # registered as they first speak
