"""The district overview in headless Chromium against the real server over the scripted road:
the intersection by name with its vehicles, warnings of the last minute and open alarms, the
RSUs with their health, the heat of the last hour's warnings on the map, a click through to
the intersection on the live map; every label in Chinese."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from v2xcloud.api import ApiSettings, create_app, record_history
from v2xcloud.api import _scripted_geometry as geo
from v2xcloud.api.server import ServerThread
from v2xcloud.api.settings import default_web_dir
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.store import DuckDbStore, HistoryWriter

from .console import open_console, show_route, untranslated


class Rsus:
    """Two RSUs at the scripted intersection: one heard now, one silent."""

    def devices(self, now_ms: int) -> list[dict[str, Any]]:
        def rsu(device_id: str, seen_ms: int | None) -> dict[str, Any]:
            online = seen_ms is not None and now_ms - seen_ms < 15_000
            return {"device_id": device_id, "kind": "rsu", "tenant": "t", "state": "enabled",
                    "lat_deg": geo.NODE.lat_deg, "lon_deg": geo.NODE.lon_deg + 0.001,
                    "health": {"online": online, "last_seen_ms": seen_ms,
                               "dead_letters": {"malformed": 4}}}  # fmt: skip

        return [rsu("RSU-A", now_ms - 1000), rsu("RSU-B", None)]

    def tenant_of(self, device_id: str) -> str | None:
        return "t"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    web_dir = default_web_dir()
    if not (web_dir / "index.html").is_file():
        pytest.skip(f"dashboard not built at {web_dir}: run `make web` (make test does)")
    live = ScriptedLive(start_ms=int(time.time() * 1000), hazard_at_s=1.0)
    store = DuckDbStore(data_dir=tmp_path_factory.mktemp("history"))
    writer = HistoryWriter(store, participant_interval_ms=500, flush_interval_s=0.2)
    stop_recording = record_history(live, writer)
    app = create_app(live=live, store=store, settings=ApiSettings(web_dir=web_dir), devices=Rsus())  # type: ignore[arg-type]
    with ServerThread(app) as srv:
        live.start(hz=10.0)
        try:
            yield srv
        finally:
            live.stop()
            stop_recording()
            writer.close()
            store.close()


def test_the_district_at_a_glance_and_a_click_through(
    server: ServerThread, browser: Any, artifacts: Path
) -> None:
    page = open_console(
        browser, server.url + "/#/overview", "zh-CN", viewport={"width": 1500, "height": 850}
    )
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    show_route(page, "overview", settle_ms=0)
    page.wait_for_function(
        "() => { const r = document.querySelector('#overview-places tr.place');"
        " return r && Number(r.cells[3].textContent) > 0 && r.cells[4].textContent !== '0'; }",
        timeout=20_000,
    )  # the stalled-vehicle warnings of the last minute reached the count, and its road event's
    # alarm (raised by the 1 Hz alarm feed, so possibly a poll later) the alarm cell
    place = page.evaluate(
        "() => [...document.querySelector('#overview-places tr.place').cells].map(c => c.textContent)"
    )
    assert place[0] == "Scripted Rd × Test Ave"
    assert int(place[1]) > 0 and place[2] == "1"  # vehicles; the one pedestrian
    assert place[4] == "1次要"  # the stalled vehicle's road event: one open alarm, minor
    rsus = page.evaluate(
        "() => [...document.querySelectorAll('#overview-rsus tr')].map(r => [...r.cells].map(c => c.textContent))"
    )
    assert [(r[0], r[1], r[3]) for r in rsus] == [("RSU-A", "是", "4"), ("RSU-B", "否", "4")]
    page.wait_for_function(
        "() => window.v2x.overviewMap && window.v2x.overviewMap.querySourceFeatures('heat').length > 0"
    )
    assert untranslated(page, "zh") == []
    page.screenshot(path=str(artifacts / "overview-zh.png"))  # docs/console/overview.png
    page.click("#overview-places tr.place a")
    page.wait_for_function("() => window.v2x.router.active === 'live'")
    page.wait_for_function(
        "([lat, lon]) => { const m = window.v2x.map; if (!m) return false;"
        " const c = m.getCenter(); return Math.abs(c.lat - lat) < 1e-4 && Math.abs(c.lng - lon) < 1e-4; }",
        arg=[geo.NODE.lat_deg, geo.NODE.lon_deg],
        timeout=20_000,
    )
    assert errors == []
    page.context.close()
