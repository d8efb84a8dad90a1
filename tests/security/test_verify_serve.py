"""``v2xcloud serve --udp ... --pki DIR --security-policy require`` as a real process: a signed
BSM sent over UDP becomes a participant in the API, a tampered and an unsigned one are refused
with their reasons, and ``/api/security`` reports the counts."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _polling import until_json as _until_json
from v2xcloud.api.server import free_port
from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.security.pki import init_pki
from v2xcloud.security.signing import FrameSigner
from v2xcloud.security.types import SecurityProfile
from v2xcloud.twin.testing import bsm_at


def test_serve_verifies_signed_udp_frames(tmp_path: Path) -> None:
    pki = init_pki(tmp_path / "pki", profile=SecurityProfile.CN, devices=["obu-1"],
                   now_ms=int(time.time() * 1000), with_tls=False)  # fmt: skip
    devices = tmp_path / "devices.json"
    devices.write_text(
        json.dumps({"devices": [{"device_id": "obu-1", "kind": "obu", "addresses": ["127.0.0.1"]}]})
    )
    http, udp = free_port(), random.randrange(41_000, 59_000, 10)
    url = f"http://127.0.0.1:{http}"
    argv = [
        sys.executable, "-m", "v2xcloud", "serve", "--http", f"127.0.0.1:{http}",
        "--store", "memory", "--data-dir", str(tmp_path / "data"), "--devices", str(devices),
        "--udp", f"127.0.0.1:{udp}", "--origin", "28.19,112.97",
        "--pki", str(tmp_path / "pki"), "--security-policy", "require",
        "--security-window-ms", "60000",  # a loaded machine may hold a datagram for seconds
    ]  # fmt: skip
    process = subprocess.Popen(
        argv, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        _until_json(url + "/api/health", lambda d: d.get("status") == "ok", 120)
        signer = FrameSigner.for_device(pki, "obu-1")
        signer.sign(bytes(1), generation_time_ms=int(time.time() * 1000), aid=32)  # warm up
        pid = "0000000000000d01"
        start_ms = int(time.time() * 1000)

        def signed_bsm(participant_id: str) -> bytes:  # a unit driving east at 5 m/s
            now = int(time.time() * 1000)
            x_m = 5.0 * (now - start_ms) / 1000
            bsm = bsm_at(participant_id, x_m=x_m, y_m=0, t_ms=now, speed_mps=5.0)
            return signer.sign(
                encode_model(bsm, message_set=MessageSet.CSAE2020), generation_time_ms=now
            )

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            tampered = bytearray(signed_bsm("0000000000000d02"))
            tampered[-1] ^= 0x01
            unsigned = encode_model(
                bsm_at(
                    "0000000000000d03", x_m=0, y_m=0, t_ms=int(time.time() * 1000), speed_mps=5.0
                ),
                message_set=MessageSet.CSAE2020,
            )
            for raw in (signed_bsm(pid), bytes(tampered), unsigned):
                sock.sendto(raw, ("127.0.0.1", udp + 1))
            security = _until_json(
                url + "/api/security", lambda s: s.get("verified") == 1 and s["rejected_total"] == 2
            )
            assert security["enabled"] is True
            assert security["rejected"] == {"bad_signature": 1, "unsigned": 1}

            # The scene drops a participant 1 s after its last report, and a loaded machine can
            # take longer than that to answer the polls above: the honest unit keeps reporting,
            # as an OBU does at 10 Hz, until the API shows it.
            def reported(ps: list[dict[str, Any]]) -> bool:
                sock.sendto(signed_bsm(pid), ("127.0.0.1", udp + 1))
                return any(p["id"] == pid for p in ps)

            participants = _until_json(url + "/api/participants", reported)
        assert [p["id"] for p in participants] == [pid]
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert b"Traceback" not in err, err.decode()[-2000:]
