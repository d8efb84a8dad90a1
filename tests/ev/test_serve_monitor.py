"""``v2xcloud serve --gb32960`` as a real process: simulated terminals and a real captured
frame over TCP reach ``/api/ev`` live (fleet, online state, a level-3 alarm, the detail series,
charging) and the history store (older windows read back from it)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from _polling import until_json
from v2xcloud.ev.codec import Message, encode
from v2xcloud.ev.commands import VehicleLogin
from v2xcloud.ev.fleet import FleetResult, run_fleet, vin_for
from v2xcloud.ev.frame import Command, Response
from v2xcloud.ev.scanner import FrameScanner
from v2xcloud.ev.vehicle_sim import FaultPlan
from v2xcloud.processes import free_port, log_tail, stop

REAL_VIN = "LSJE24066JG229589"  # the first real frame's vehicle (reference frames.json)
VEHICLES = 3


KEYS = {vin_for(i): bytes([i + 1]) * 16 for i in range(VEHICLES)}  # login secrets (AES-128)


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The registry (the simulated terminals log in with secrets, the real frame's vehicle by
    its address), their secrets, and one charger."""
    devices = tmp_path / "devices.json"
    registered = [{"device_id": v, "kind": "ev-terminal"} for v in KEYS]
    registered.append({"device_id": REAL_VIN, "kind": "ev-terminal", "addresses": ["127.0.0.1"]})
    devices.write_text(json.dumps({"devices": registered}))
    secrets = tmp_path / "ev-secrets.json"
    secrets.write_text(json.dumps({"terminals": {v: k.hex() for v, k in KEYS.items()}}))
    secrets.chmod(0o600)
    chargers = tmp_path / "chargers.json"
    chargers.write_text(
        json.dumps([{"id": "depot", "lat_deg": 31.3, "lon_deg": 121.5, "power_kw": 60, "ports": 2}])
    )
    return devices, secrets, chargers


def _send_real_frame(port: int, frame: bytes) -> bytes:
    """Log the real frame's vehicle in, send the captured real-time frame, return its ack."""
    login = Message(
        command=Command.LOGIN,
        vin=REAL_VIN,
        body=VehicleLogin(at_ms=int(time.time() * 1000), serial=1, iccid="8986" + "0" * 16),
    )
    scanner = FrameScanner()
    acks: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for out in (encode(login), frame):
            sock.sendall(out)
            while len(acks) < (1 if out is not frame else 2):
                acks += [f for f in scanner.feed(sock.recv(4096)) if isinstance(f, bytes)]
    return acks[1]


def test_serve_feeds_the_ev_routes_live(tmp_path: Path, frames_2016: list[bytes]) -> None:
    devices, secrets, chargers = _files(tmp_path)
    http, gb = free_port(), free_port()
    url = f"http://127.0.0.1:{http}/api"
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "v2xcloud",
            "serve",
            "--http",
            f"127.0.0.1:{http}",
            "--store",
            "memory",
            "--devices",
            str(devices),
            "--gb32960",
            f"127.0.0.1:{gb}",
            "--ev-chargers",
            str(chargers),
            "--ev-secrets",
            str(secrets),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def _until(path: str, check: Callable[[Any], bool], timeout_s: float = 30.0) -> Any:
        return until_json(url + path, check, timeout_s, process=process)

    result: list[FleetResult] = []
    try:
        _until("/health", lambda d: d.get("status") == "ok", 120)
        # three terminals, 40 reports each, 4 a second; the first runs away thermally at 8 s
        fleet = threading.Thread(
            target=lambda: result.append(
                asyncio.run(
                    run_fleet(
                        port=gb,
                        vehicles=VEHICLES,
                        duration_s=40,
                        period_s=0.25,
                        faults={0: FaultPlan(thermal_runaway_at_s=8)},
                        secrets=KEYS,
                    )
                )
            )
        )
        fleet.start()
        hot = vin_for(0)
        live = _until(
            "/ev/vehicles",
            lambda d: d["online"] == VEHICLES and d["alarmed"] == 1,
        )
        assert [v["vin"] for v in live["vehicles"]] == [vin_for(i) for i in range(VEHICLES)]
        assert {v["vin"]: v["alarm_level"] for v in live["vehicles"]}[hot] == 3
        urgent = _until("/ev/vehicles?min_level=3", lambda d: len(d["vehicles"]) == 1)
        assert urgent["vehicles"][0]["vin"] == hot
        alarms = _until("/ev/alarms?min_level=3", lambda a: len(a) > 0)
        assert {a["alarm"]["vin"] for a in alarms} == {hot}
        assert any(
            a["alarm"]["kind"] == "vehicle_alarm"
            and "battery_high_temperature" in a["alarm"]["reason"]
            for a in alarms
        )
        # ... and in the console-wide alarm list, for an operator to acknowledge
        book = _until("/alarms", lambda d: any(a["source"] == "ev" for a in d["alarms"]))
        ev_alarms = [a for a in book["alarms"] if a["source"] == "ev"]
        assert {a["subject"] for a in ev_alarms} == {hot}
        assert {a["severity"] for a in ev_alarms} == {"critical"}
        assert {a["kind"] for a in ev_alarms} == {a["alarm"]["kind"] for a in alarms}
        detail = _until(f"/ev/vehicles/{hot}", lambda d: len(d["series"]["t_ms"]) >= 12)
        series = detail["series"]
        assert series["source"] == "memory"
        assert detail["cell_spread_limit_v"] == 0.3  # the battery checks' setting
        assert all(v is not None and v > 250 for v in series["pack_voltage_v"])
        assert series["temp_max_c"][-1] > series["temp_max_c"][0] + 10
        assert any(a["alarm"]["kind"].startswith("anomaly:") for a in detail["alarms"])
        charging = httpx.get(url + "/ev/charging").json()
        assert charging["is_enabled"] and charging["chargers"][0]["id"] == "depot"
        fleet.join(timeout=60)
        assert result and result[0].errors == 0 and result[0].acked == VEHICLES * 40
        # the terminals logged out: offline, their last state kept
        after = _until("/ev/vehicles", lambda d: d["online"] == 0 and d["total"] == 3)
        assert all(v["reports"] == 40 for v in after["vehicles"])
        # the real captured frame: decoded once, seen in the fleet with its values
        ack = _send_real_frame(gb, frames_2016[0])
        assert ack[2] == Command.REALTIME and ack[3] == Response.SUCCESS
        real = _until(f"/ev/vehicles/{REAL_VIN}", lambda d: d["status"]["reports"] == 1)
        status = real["status"]
        assert (status["soc_pct"], status["pack_voltage_v"], status["pack_current_a"]) == (
            69,
            371.2,
            -8.5,
        )
        assert status["lat_deg"] == 30.985356 and status["lon_deg"] == 121.118471
        assert (status["cell_max_v"], status["cell_min_v"], status["temp_max_c"]) == (
            3.872,
            3.863,
            38.0,
        )
        # windows older than the monitor keeps come from the history store
        stored = _until(
            f"/ev/vehicles/{hot}?since_ms=0",
            lambda d: d["series"]["source"] == "store" and len(d["series"]["t_ms"]) == 40,
        )
        assert stored["series"]["t_ms"] == sorted(stored["series"]["t_ms"])
    except AssertionError as failed:
        failed.add_note(log_tail(tmp_path / "serve.log", 3000))
        raise
    finally:
        code = stop(process, name="serve")
        log.close()
    text = log_tail(tmp_path / "serve.log", 200_000)
    assert "Traceback" not in text, text[-3000:]
    assert code in (0, 143), text[-3000:]  # 143: ended by the SIGTERM, unwound cleanly
