"""``v2xcloud devices`` and ``demo --via mqtt`` from the command line, against a real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

import paho.mqtt.client as mqtt
import pytest

from v2xcloud.cli.main import main
from v2xcloud.gateways.broker import Mosquitto

pytestmark = pytest.mark.slow


def _cli(*args: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "-m", "v2xcloud", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout_s,
        check=False,
    )


def test_devices_publish_a_scenario_each_on_its_own_topics(broker: Mosquitto) -> None:
    got: list[tuple[str, bytes]] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher")
    sub.on_message = lambda _c, _u, m: got.append((m.topic, bytes(m.payload)))
    sub.connect(broker.host, broker.port)
    sub.subscribe("V2X/#", qos=1)
    sub.loop_start()
    time.sleep(0.2)
    try:
        proc = _cli(
            "devices", "--mqtt", broker.url, "--scenario", "vrucw_pedestrian",
            "--duration", "8", "--speed", "0", "--payload", "hex",
        )  # fmt: skip
        time.sleep(0.5)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert proc.returncode == 0, proc.stderr
    assert "published" in proc.stdout and "refused 0" in proc.stdout
    kinds = Counter("/".join(t.split("/")[i] for i in (1, 3)) for t, _ in got)
    # one vehicle at 10 Hz over cellular, the RSU's RSM at 10 Hz, MAP and heartbeat at 1 Hz
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("published"))
    sent = dict(kv.split("=") for kv in line.split("(")[1].split(")")[0].split(", "))
    # every frame the run says it published arrived, on the topic of its device and type
    assert {k: int(v) for k, v in sent.items()} == {
        "BSM": kinds["OBU/BSM"],
        "MAP": kinds["RSU/MAP"],
        "RSM": kinds["RSU/RSM"],
    }
    # the RSU's RSM at 10 Hz for the 6 s, its MAP and its heartbeat once a second
    assert kinds["RSU/RSM"] == 80 and kinds["RSU/MAP"] == 8 and kinds["RSU/HB"] == 8
    assert kinds["OBU/BSM"] > 0  # the car departs later; 10 Hz once it is on the road
    assert set(kinds) == {"OBU/BSM", "RSU/RSM", "RSU/MAP", "RSU/HB"}
    rsus = {t.split("/")[2] for t, _ in got if t.startswith("V2X/RSU/")}
    assert len(rsus) == 1  # the RSU at the crossing sends its MAP, RSM and heartbeat
    for topic, payload in got:
        if not topic.endswith("/HB/UP"):
            bytes.fromhex(payload.decode())  # --payload hex: hex text of the UPER frame
    assert f"published {len(got) - kinds['RSU/HB']} frames" in line


def test_devices_needs_a_reachable_broker(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["devices", "--mqtt", "mqtt://127.0.0.1:1", "--scenario", "fcw_rear_end"])
    assert code == 1
    assert "unreachable" in capsys.readouterr().err


def test_demo_via_mqtt_runs_headless_and_scores() -> None:
    proc = _cli("demo", "--headless", "--duration", "5", "--speed", "0", "--via", "mqtt")
    assert proc.returncode == 0, proc.stderr
    assert "recall" in proc.stdout
    via = next(ln for ln in proc.stdout.splitlines() if ln.startswith("via MQTT"))
    assert "'unexpected': 0" in via and "'received': " in via
