"""``v2xcloud serve`` as the platform service, a real process: devices over a real Mosquitto,
EV terminals over GB/T 32960, both visible in the API."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from _polling import until_json as _until_json
from v2xcloud.api.server import free_port
from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.ev.fleet import run_fleet, vin_for
from v2xcloud.gateways.broker import Mosquitto
from v2xcloud.twin.testing import bsm_at

from ._devices import Device


def test_serve_runs_the_platform_on_its_gateways(mosquitto: Mosquitto, tmp_path: Path) -> None:
    devices = tmp_path / "devices.json"
    devices.write_text(
        json.dumps(
            {
                "devices": [
                    {"device_id": "car-1", "kind": "obu"},
                    {"device_id": "R1", "kind": "rsu", "lat_deg": 28.19, "lon_deg": 112.97},
                    {"device_id": vin_for(0), "kind": "ev-terminal"},
                    {"device_id": vin_for(1), "kind": "ev-terminal"},
                ]
            }
        )
    )
    ev_keys = {vin_for(i): bytes([i + 1]) * 16 for i in range(2)}
    ev_secrets = tmp_path / "ev-secrets.json"
    ev_secrets.write_text(json.dumps({"terminals": {v: k.hex() for v, k in ev_keys.items()}}))
    http, gb = free_port(), free_port()
    url = f"http://127.0.0.1:{http}"
    argv = [
        sys.executable,
        "-m",
        "v2xcloud",
        "serve",
        "--mqtt",
        mosquitto.url,
        "--http",
        f"127.0.0.1:{http}",
        "--store",
        "memory",
        "--devices",
        str(devices),
        "--gb32960",
        f"127.0.0.1:{gb}",
        "--ev-secrets",
        str(ev_secrets),
        "--data-dir",
        str(tmp_path / "data"),
        "--origin",
        "28.19,112.97",
        "--mqtt-client-id",
        "serve-test",
    ]
    process = subprocess.Popen(
        argv, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    car = stranger = None
    try:
        _until_json(url + "/api/health", lambda d: d.get("status") == "ok", 120)
        car, stranger = Device(mosquitto, "obu-car-1"), Device(mosquitto, "obu-x")
        pid = "0000000000000c01"
        for i in range(5):
            now = int(time.time() * 1000)
            bsm = encode_model(
                bsm_at(pid, x_m=float(i), y_m=0.0, t_ms=now, speed_mps=5.0),
                message_set=MessageSet.CSAE2020,
            )
            car.publish("V2X/OBU/car-1/BSM/UP", bsm)
            stranger.publish("V2X/OBU/x/BSM/UP", bsm)
            time.sleep(0.1)
        _until_json(url + "/api/participants", lambda ps: any(p["id"] == pid for p in ps))
        car1 = _until_json(
            url + "/api/devices/car-1", lambda d: d["health"]["messages"].get("BSM") == 5
        )
        assert car1["health"]["online"] and car1["kind"] == "obu"
        stats = _until_json(
            url + "/api/stats", lambda s: s["gateways"]["ingest"].get("dropped.unknown_device") == 5
        )
        assert stats["gateways"]["mqtt"]["connected"] == 1
        listed = [d["device_id"] for d in httpx.get(url + "/api/devices").json()]
        assert listed == [vin_for(0), vin_for(1), "R1", "car-1"]
        fleet = asyncio.run(
            run_fleet(port=gb, vehicles=2, duration_s=2, period_s=0.2, secrets=ev_keys)
        )
        assert fleet.errors == 0
        # an unregistered VIN is refused (and audited, below)
        # (the same terminals log in again: a later login time, as a real one's would be; the
        # same second and serial would be refused as a replayed login)
        stray = asyncio.run(
            run_fleet(
                port=gb,
                vehicles=3,
                duration_s=1,
                period_s=0.2,
                secrets=ev_keys,
                start_ms=int(time.time() * 1000) + 5000,
            )
        )
        assert stray.errors == 1 and vin_for(2) not in stray.collected_at_ms
        vins = set(fleet.collected_at_ms)
        reports = _until_json(url + "/api/ev/reports", lambda r: {x["vin"] for x in r} == vins)
        assert len(vins) == 2 and len(reports) >= 2
    finally:
        for d in (car, stranger):
            if d is not None:
                d.close()
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert b"Traceback" not in err, err.decode()[-2000:]
    assert b"4 devices registered; gateways: mqtt" in out
    # the refusal was audited: the trail's head (anchored beside the data) moved
    head = json.loads((tmp_path / "data" / "audit-head.json").read_text())
    assert head["seq"] >= 1
