"""``v2xcloud demo --signed``: every device signs, the platform verifies (policy require) and
signs what it sends; a device whose certificate is revoked has its frames refused as
``revoked`` and counted, in the same run as the others' verified frames."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from v2xcloud.security.pki import init_pki, revoke

pytestmark = pytest.mark.slow

_SECURITY = re.compile(r"^security: verified (\d+), rejected (.+?); devices signed (\{.*?\})", re.M)


def _demo(*args: str) -> tuple[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "v2xcloud", "demo", "--headless", "--speed", "0", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, proc.stderr


def _security(out: str) -> tuple[int, str, str]:
    found = _SECURITY.search(out)
    assert found is not None, out[-3000:]
    return int(found[1]), found[2], found[3]


@pytest.mark.parametrize("via", ["inproc", "mqtt"])
def test_demo_signed_verifies_every_frame_and_signs_its_down_link(via: str) -> None:
    out, _ = _demo("--duration", "4", "--loss", "0", "--signed", "--via", via)
    assert "signed: cn profile (sm2-sm3), throwaway PKI" in out
    verified, rejected, devices = _security(out)
    assert verified > 1000 and rejected == "none"
    assert all(f"'{kind}'" in devices for kind in ("BSM", "RSM", "SPAT", "MAP"))
    assert "dead letters: none" in out
    assert re.search(r"the platform signed \{'ADVISORY': \d+", out), out[-2000:]
    assert "'unsigned." not in out.split("down-link (in-process):")[1]


def test_a_revoked_device_is_refused_in_the_same_run(tmp_path: Path) -> None:
    now_ms = int(time.time() * 1000)
    first_vehicle = "5a00000000000001"  # the bench's first BSM id (sim.identities)
    init_pki(tmp_path, devices=[first_vehicle, "rsu-1"], now_ms=now_ms, with_tls=False)
    assert revoke(tmp_path, [first_vehicle], at_ms=now_ms - 60_000)
    out, _ = _demo("--duration", "3", "--loss", "0", "--signed", "--pki", str(tmp_path))
    verified, rejected, _ = _security(out)
    assert verified > 1000
    refused = re.fullmatch(r"\{'revoked': (\d+)\}", rejected)
    assert refused is not None, rejected
    assert int(refused[1]) >= 20  # 10 Hz from the first step on
    assert re.search(r"dead letters: \{'revoked': \d+\}", out)


def _without_latency(apps: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    """Per-app scores less the latencies (wall-clock processing time, not the apps' answer)."""
    return {
        app: {k: v for k, v in score.items() if not k.startswith("latency")}
        for app, score in apps.items()
    }


def test_evaluate_signed_gives_the_same_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from v2xcloud.cli.main import main

    assert main(["evaluate", "--scenario", "fcw_rear_end", "--report", str(tmp_path / "u")]) == 0
    args = ["evaluate", "--scenario", "fcw_rear_end", "--signed", "--report", str(tmp_path / "s")]
    assert main(args) == 0
    out = capsys.readouterr().out
    verified, rejected, devices = _security(out)
    assert verified > 100 and rejected == "none" and "'BSM'" in devices
    plain = json.loads((tmp_path / "u" / "report.json").read_text())
    signed = json.loads((tmp_path / "s" / "report.json").read_text())
    assert plain["apps"]["FCW"]["detected"] == 1
    assert _without_latency(signed["apps"]) == _without_latency(plain["apps"])
    assert signed["scenarios"][0]["warnings"] == plain["scenarios"][0]["warnings"]
