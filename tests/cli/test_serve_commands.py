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


def test_the_centre_role_refuses_a_pki_and_says_the_gateway_tier_signs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from v2xcloud.security.pki import init_pki

    init_pki(tmp_path, devices=["R1"], now_ms=int(time.time() * 1000), with_tls=False)
    nats = ["--nats", "nats://127.0.0.1:1", "--data-dir", str(tmp_path / "data")]
    for extra in (["--pki", str(tmp_path)], ["--security-policy", "require"]):
        assert main(["serve", "--role", "centre", *nats, *extra]) == 2
        err = capsys.readouterr().err
        assert "the gateway tier signs every RSI and warning it sends down" in err, err
        assert "serve --role gateway" in err
    assert main(["serve", "--role", "centre", *nats, "--udp", "0.0.0.0:4500"]) == 2
    assert "drop --mqtt/--udp here" in capsys.readouterr().err


def test_a_centre_platform_refuses_a_downlink_signer(tmp_path: Path) -> None:
    from v2xcloud.cli._platform import Platform, downlink_signer
    from v2xcloud.errors import ConfigError
    from v2xcloud.gateways.registry import DeviceRegistry
    from v2xcloud.runtime import Runtime
    from v2xcloud.runtime.remote import RemoteResults
    from v2xcloud.security.pki import init_pki
    from v2xcloud.twin.testing import TEST_FRAME

    init_pki(tmp_path, devices=["R1"], now_ms=int(time.time() * 1000), with_tls=False)
    remote = RemoteResults()
    with pytest.raises(ConfigError, match="the gateway tier signs what it sends to devices"):
        Platform(
            Runtime(frame=TEST_FRAME, apps=[remote], detectors=()),
            DeviceRegistry(),
            nats_urls=["nats://127.0.0.1:1"],
            role="centre",
            remote=remote,
            downlink_signer=downlink_signer(str(tmp_path)),
        )
