"""``/api/security``: the security stage's figures as the dashboard reads them — frames
verified (in all, per second, per profile), refused per reason, what the platform signed;
``{"enabled": false}`` on a platform that does not verify."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.runtime_live import RuntimeLive
from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.runtime import Runtime
from v2xcloud.security.pki import init_pki
from v2xcloud.security.signers import DeviceSigners, PlatformSigner
from v2xcloud.security.verify import Policy, stage_from_pki
from v2xcloud.store import DuckDbStore
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

T0 = 1_795_914_000_000  # 2026-12-01 01:00 UTC


def _client(runtime: Runtime) -> tuple[RuntimeLive, TestClient]:
    live = RuntimeLive(runtime)
    app = create_app(live=live, store=DuckDbStore(data_dir=None), settings=ApiSettings())
    return live, TestClient(app)


def test_security_counts_verified_refused_and_signed(tmp_path: Path) -> None:
    pki = init_pki(tmp_path, devices=["obu-1"], now_ms=T0, with_tls=False)
    runtime = Runtime(frame=TEST_FRAME, signer=PlatformSigner(pki))
    runtime.guard = stage_from_pki(pki, policy=Policy.parse("require"))
    _, client = _client(runtime)
    devices = DeviceSigners(pki)
    lat, lon = TEST_FRAME.origin_lat_deg, TEST_FRAME.origin_lon_deg
    for k in range(21):  # two seconds of one car at 10 Hz, every fifth frame tampered
        t = T0 + 100 * k
        bsm = encode_model(
            bsm_at("00000000000000c1", x_m=0, y_m=k, t_ms=t), message_set=MessageSet.CSAE2020
        )
        frame = devices.sign(bsm, device_id="obu-1", device_kind="obu", message_type="BSM",
                             generation_time_ms=t, lat_deg=lat, lon_deg=lon)  # fmt: skip
        if k % 5 == 4:
            frame = frame[:-1] + bytes([frame[-1] ^ 1])
        runtime.ingest_frame(frame, source="obu-1", received_at_ms=t + 10, kind="obu")
        runtime.ingest_frame(bsm, source="obu-1", received_at_ms=t + 10, kind="obu")  # unsigned
        runtime.tick(t + 20)
    doc = client.get("/api/security").json()
    assert doc["enabled"] is True
    assert doc["verified"] == 17 and doc["by_profile"] == {"cn": 17}
    assert doc["rejected"] == {"bad_signature": 4, "unsigned": 21}
    assert doc["rejected_total"] == 25
    assert 7.0 <= doc["verified_per_s"] <= 10.0  # 8 or 9 good frames a second
    assert doc["trust"]["revoked"] == 0 and doc["replay"]["remembered"] == 17
    assert "platform_signed" in doc


def test_a_platform_that_does_not_verify_says_so() -> None:
    _, client = _client(Runtime(frame=TEST_FRAME))
    assert client.get("/api/security").json() == {"enabled": False}
