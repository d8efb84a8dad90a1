"""The Security panel in headless Chromium against the real server over a real runtime that
verifies signed frames (a PKI made by the test): frames verified per second and per profile,
refused per reason (a revoked device, tampered frames), the trust store's figures and what the
platform signs; on the scripted platform (no verification) the panel says so."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api import _scripted_geometry as geo
from v2xcloud.api.runtime_live import RuntimeLive
from v2xcloud.api.server import ServerThread
from v2xcloud.api.settings import default_web_dir
from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.runtime import Runtime, SystemClock
from v2xcloud.security.pki import init_pki, revoke
from v2xcloud.security.signers import DeviceSigners, PlatformSigner
from v2xcloud.security.verify import Policy, stage_from_pki
from v2xcloud.store import DuckDbStore
from v2xcloud.twin.testing import bsm_at


class _Feed:
    """Before each tick (on the tick's thread): one signed BSM from obu-1 (every fourth one
    tampered) and one from obu-2, whose certificate is revoked."""

    def __init__(self, runtime: Runtime, signers: DeviceSigners) -> None:
        self.runtime = runtime
        self.signers = signers
        self.n = 0

    def __call__(self, now_ms: int) -> None:
        for device, pid in (("obu-1", "00000000000000a1"), ("obu-2", "00000000000000a2")):
            bsm = bsm_at(pid, x_m=self.n * 0.5, y_m=0, t_ms=now_ms, frame=geo.FRAME)
            frame = self.signers.sign(
                encode_model(bsm, message_set=MessageSet.CSAE2020),
                device_id=device,
                device_kind="obu",
                message_type="BSM",
                generation_time_ms=now_ms,
            )
            if device == "obu-1" and self.n % 4 == 3:
                frame = frame[:-1] + bytes([frame[-1] ^ 1])
            self.runtime.ingest_frame(frame, source=device, received_at_ms=now_ms, kind="obu")
        self.n += 1


@pytest.fixture(scope="module")
def verifying(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    web_dir = default_web_dir()
    if not (web_dir / "index.html").is_file():
        pytest.skip(f"dashboard not built at {web_dir}: run `make web` (make test does)")
    clock = SystemClock()
    pki_dir = tmp_path_factory.mktemp("pki")
    init_pki(pki_dir, devices=["obu-1", "obu-2"], now_ms=clock.now_ms(), with_tls=False)
    revoke(pki_dir, ["obu-2"], at_ms=clock.now_ms() - 1000)
    from v2xcloud.security.pki import load_pki

    pki = load_pki(pki_dir)
    runtime = Runtime(frame=geo.FRAME, apps=[], detectors=(), clock=clock)
    runtime.guard = stage_from_pki(pki, policy=Policy.parse("require"))
    runtime.delivery.signer = PlatformSigner(pki)
    live = RuntimeLive(runtime, before_tick=_Feed(runtime, DeviceSigners(pki)))
    store = DuckDbStore(data_dir=None)
    app = create_app(live=live, store=store, settings=ApiSettings(web_dir=web_dir))
    with ServerThread(app) as server:
        live.start(hz=10.0)
        try:
            yield server
        finally:
            live.stop()
            store.close()


def _counts(page: Any, list_id: str) -> dict[str, int]:
    found: dict[str, int] = page.evaluate(
        f"""() => Object.fromEntries([...document.querySelectorAll('#{list_id} li[data-name]')]
              .map(li => [li.dataset.name, Number(li.querySelector('b').textContent
                                                   .replace(/[^0-9]/g, ''))]))"""
    )
    return found


def test_security_panel_shows_verification(
    verifying: ServerThread, browser: Any, artifacts: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(verifying.url + "/")
    page.wait_for_function("() => window.v2x?.polls?.security >= 2", timeout=30_000)
    # wait until a few seconds of frames went through (the stats refresh once a second)
    page.wait_for_function(
        "() => /^(\\d[\\d,]*) verified/.test(document.getElementById('security-verified')"
        ".textContent) && parseInt(document.getElementById('security-verified').textContent"
        ".replace(/,/g, '')) >= 20",
        timeout=30_000,
    )
    verified = page.text_content("#security-verified") or ""
    match = re.fullmatch(r"([\d,]+) verified · (\d+\.\d)/s", verified)
    assert match, verified
    assert 3.0 <= float(match[2]) <= 10.5, verified  # obu-1: 10 Hz less every fourth frame
    state = page.text_content("#security-state") or ""
    assert re.fullmatch(r"verifying · [\d,]+ refused", state), state
    assert "bad" in (page.get_attribute("#security-state", "class") or "")
    assert set(_counts(page, "security-profiles")) == {"cn"}
    refused = _counts(page, "security-rejected")
    assert set(refused) == {"revoked", "bad_signature"}, refused
    assert refused["revoked"] > refused["bad_signature"] > 0
    trust = page.text_content("#security-trust") or ""
    assert re.search(r"[1-9]\d* revoked", trust), trust
    assert (page.text_content("#security-signed") or "").startswith("platform signed:")
    page.locator("#security-panel").screenshot(path=str(artifacts / "security_panel.png"))
    assert not errors, errors
    page.close()


def test_security_panel_on_a_platform_that_does_not_verify(platform: Any, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(platform.server.url + "/")
    page.wait_for_function("() => window.v2x?.polls?.security >= 1", timeout=30_000)
    assert (page.text_content("#security-state") or "").startswith("not verifying")
    assert not page.is_visible("#security-profiles")
    page.close()
