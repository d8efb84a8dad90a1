"""The devices view in headless Chromium: the registry with health, a device's dead letters and
their raw bytes downloaded whole, disabling (operators) and registering (admins) a device, a
viewer refused with the API's reason; every label in Chinese."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.access import Role
from v2xcloud.api.server import ServerThread
from v2xcloud.api.settings import default_web_dir
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.codec.framing import iter_hex_lines
from v2xcloud.model import DeadLetter, Device, DeviceKind, DeviceState, DropReason
from v2xcloud.store import DuckDbStore

from .console import open_console, show_route, untranslated

ADMIN = "admin-token-for-the-devices-view"
RAW = bytes(range(256)) * 3  # 768 bytes: more than the list shows


class Directory:
    """The device routes' directory over a dict, every device heard a second ago."""

    def __init__(self) -> None:
        self.devices_ = {d.device_id: d for d in (
            Device(device_id="RSU-1", kind=DeviceKind.RSU, tenant="t", lat_deg=31.2, lon_deg=121.4),
            Device(device_id="RSU-2", kind=DeviceKind.RSU, tenant="t", lat_deg=31.2, lon_deg=121.41),
        )}  # fmt: skip

    def _view(self, d: Device, now_ms: int) -> dict[str, Any]:
        doc: dict[str, Any] = msgspec.to_builtins(d)
        doc["health"] = {"online": d.is_enabled, "last_seen_ms": now_ms - 1000, "messages": {},
                         "rates_per_s": {"RSM": 10.0}, "dead_letters": {"malformed": 1},
                         "is_flooding": False, "downlink": {"sent": 4, "acked": 4, "ack_rate": 1.0}}  # fmt: skip
        return doc

    def devices(self, now_ms: int) -> list[dict[str, Any]]:
        return [self._view(d, now_ms) for d in self.devices_.values()]

    def device(self, device_id: str, now_ms: int) -> dict[str, Any] | None:
        d = self.devices_.get(device_id)
        return None if d is None else self._view(d, now_ms)

    def add(self, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        d = msgspec.convert(body, Device)
        self.devices_[d.device_id] = d
        return self._view(d, now_ms)

    def disable(self, device_id: str, now_ms: int) -> dict[str, Any]:
        d = msgspec.structs.replace(self.devices_[device_id], state=DeviceState.DISABLED)
        self.devices_[device_id] = d
        return self._view(d, now_ms)

    def tenant_of(self, device_id: str) -> str | None:
        return "t" if device_id in self.devices_ else None

    def device_ids(self, tenant: str) -> list[str]:
        return list(self.devices_)

    def stats(self) -> dict[str, Any]:
        return {}


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerThread, dict[str, str], Directory]]:
    web_dir = default_web_dir()
    if not (web_dir / "index.html").is_file():
        pytest.skip(f"dashboard not built at {web_dir}: run `make web` (make test does)")
    now = int(time.time() * 1000)
    store = DuckDbStore(data_dir=tmp_path_factory.mktemp("history"))
    store.write_dead_letters([DeadLetter(raw=RAW, source="RSU-2", received_at_ms=now - 2000,
                                         reason=DropReason.MALFORMED, detail="MessageFrame: bad index")])  # fmt: skip
    live = ScriptedLive(start_ms=now)
    directory = Directory()
    app = create_app(
        live=live,
        store=store,
        settings=ApiSettings(web_dir=web_dir, admin_token=ADMIN),
        devices=directory,
    )  # type: ignore[arg-type]
    tokens = {
        "admin": ADMIN,
        "viewer": app.state.tokens.create(role=Role.VIEWER, tenant="t", label="v")[0],
    }
    with ServerThread(app) as server:
        live.start(hz=10.0)
        try:
            yield server, tokens, directory
        finally:
            live.stop()
            store.close()


def test_letters_download_disable_and_register(world: Any, browser: Any, artifacts: Path) -> None:
    server, tokens, directory = world
    page = open_console(browser, f"{server.url}/#/devices?token={tokens['admin']}", "zh-CN",
                        viewport={"width": 1500, "height": 800}, accept_downloads=True)  # fmt: skip
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    show_route(page, "devices", settle_ms=0)
    page.wait_for_selector("#dev-table tr[data-id=RSU-2]")
    page.click("#dev-table tr[data-id=RSU-2]")
    page.wait_for_selector("#dev-letters ul.letters li")
    assert RAW[:32].hex() in page.inner_text("#dev-letters")
    assert untranslated(page, "zh") == []
    page.screenshot(path=str(artifacts / "devices-zh.png"))  # docs/console/devices.png
    with page.expect_download() as got:
        page.click("#dev-download")
    download = got.value
    assert download.suggested_filename == "dead-letters-RSU-2.hex"
    text = Path(download.path()).read_text()
    assert [
        f for _, f in iter_hex_lines(x for x in text.splitlines() if not x.startswith("#"))
    ] == [RAW]
    page.click("#dev-disable")
    # the download's note says done too: wait for the disable's own (under load the POST
    # was still running when the download's note satisfied a bare '已完成')
    page.wait_for_function(
        "() => document.getElementById('dev-note').textContent.includes('停用：已完成')"
    )
    assert directory.devices_["RSU-2"].state is DeviceState.DISABLED
    page.fill("#dev-new-id", "RSU-NEW")
    page.fill("#dev-new-lat", "31.21")
    page.fill("#dev-new-lon", "121.42")
    page.click("#dev-add")
    page.wait_for_selector("#dev-table tr[data-id=RSU-NEW]")
    assert directory.devices_["RSU-NEW"].lat_deg == 31.21
    assert errors == []
    page.context.close()


def test_a_viewer_cannot_disable(world: Any, browser: Any) -> None:
    server, tokens, _ = world
    page = open_console(browser, f"{server.url}/#/devices?token={tokens['viewer']}", "en-US")
    show_route(page, "devices", settle_ms=0)
    page.click("#dev-table tr[data-id=RSU-1]")
    page.click("#dev-disable")
    page.wait_for_function(
        "() => document.getElementById('dev-note').textContent.includes('HTTP 403')"
    )
    assert "Disable failed" in page.inner_text("#dev-note")
    page.context.close()
