"""``v2xcloud serve --mqtt-tls DIR --mqtt-broker``, a real process: it starts the authenticated
Mosquitto itself; certificate and password devices publish; a device removed over REST is cut
off and its certificate revoked; stopping serve stops the broker."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from v2xcloud.api.server import free_port
from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.gateways.access import hash_password
from v2xcloud.security.tls import is_revoked, write_tls_pki
from v2xcloud.twin.testing import bsm_at

from .conftest import _require_mosquitto
from .test_mqtt_auth import Client
from .test_serve_process import _until_json

ADMIN = "b" * 24


def _bsm(pid: str) -> bytes:
    now = int(time.time() * 1000)
    model = bsm_at(pid, x_m=1.0, y_m=0.0, t_ms=now, speed_mps=5.0)
    return encode_model(model, message_set=MessageSet.CSAE2020)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_serve_starts_the_authenticated_broker_and_revokes_a_removed_device(
    tmp_path: Path,
) -> None:
    _require_mosquitto()
    pki = write_tls_pki(tmp_path / "pki", ["car-1"])
    devices = tmp_path / "devices.json"
    hashed = hash_password("car-pw-secret", iterations=1000)
    devices.write_text(
        json.dumps(
            [
                {"device_id": "car-1", "kind": "obu"},
                {"device_id": "car-pw", "kind": "obu", "password_hash": hashed},
            ]
        )
    )
    http, tls_port, pw_port = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{http}"
    argv = [
        sys.executable, "-m", "v2xcloud", "serve",
        "--mqtt", f"mqtts://127.0.0.1:{tls_port}", "--mqtt-tls", str(tmp_path / "pki"),
        "--mqtt-broker", "--mqtt-password-port", str(pw_port),
        "--http", f"127.0.0.1:{http}", "--store", "memory", "--devices", str(devices),
        "--data-dir", str(tmp_path / "data"), "--origin", "28.19,112.97",
    ]  # fmt: skip
    env = dict(os.environ, V2XCLOUD_ADMIN_TOKEN=ADMIN)
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    clients: list[Client] = []
    try:
        _until_json(url + "/api/health", lambda d: d.get("status") == "ok", 120)
        car = Client("car-1-client")
        clients.append(car)
        car.client.tls_set(
            ca_certs=str(pki.ca_cert),
            certfile=str(pki.device_cert("car-1")),
            keyfile=str(pki.device_key("car-1")),
        )
        assert car.connect("127.0.0.1", tls_port), car.reason
        car_pw = Client("car-pw-client")
        clients.append(car_pw)
        car_pw.client.username_pw_set("car-pw", "car-pw-secret")
        assert car_pw.connect("127.0.0.1", pw_port), car_pw.reason
        anonymous = Client("anonymous")
        clients.append(anonymous)
        assert not anonymous.connect("127.0.0.1", pw_port)
        car.publish("V2X/OBU/car-1/BSM/UP", _bsm("0000000000000c01"))
        car_pw.publish("V2X/OBU/car-pw/BSM/UP", _bsm("0000000000000c02"))
        car.publish("V2X/OBU/car-pw/BSM/UP", _bsm("0000000000000c03"))  # forged: not delivered
        wanted = {"0000000000000c01", "0000000000000c02"}
        found = _until_json(url + "/api/participants", lambda ps: wanted <= {p["id"] for p in ps})
        assert "0000000000000c03" not in {p["id"] for p in found}
        headers = {"Authorization": f"Bearer {ADMIN}"}
        response = httpx.delete(url + "/api/devices/car-1", headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        deadline = time.monotonic() + 10
        while car.disconnected_at is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert car.disconnected_at is not None, "the removed device's connection stayed"
        assert is_revoked(pki, "car-1")
        stats = _until_json(
            url + "/api/stats", lambda s: s["gateways"].get("broker_access", {}).get("applied")
        )
        assert stats["gateways"]["mqtt"]["connected"] == 1
    finally:
        for client in clients:
            client.close()
        process.terminate()
        out, err = process.communicate(timeout=60)
    assert b"Traceback" not in err, err.decode()[-2000:]
    assert f"password listener mqtt://127.0.0.1:{pw_port}".encode() in out
    assert not _accepts(tls_port) and not _accepts(pw_port), "the broker outlived serve"
