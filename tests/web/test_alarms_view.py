"""The alarm view in headless Chromium against the real server: a road event and a device fault
listed most severe first with filters; an operator acknowledges an alarm and the row shows who
and when; a viewer's click is refused with the API's reason; an ended road event leaves the
live list and is in the history, closed by the platform; every label in Chinese."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.access import Role
from v2xcloud.api.server import ServerThread
from v2xcloud.api.settings import default_web_dir
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.model import RoadEvent
from v2xcloud.store import DuckDbStore
from v2xcloud.store.audit import AuditTrail

from .console import open_console, show_route, untranslated

ADMIN = "admin-token-for-the-alarm-view"


class EventLive(ScriptedLive):
    """The scripted road whose road events the test sets (in force while listed)."""

    events: list[RoadEvent]

    def road_events(self) -> list[RoadEvent]:
        return list(self.events)


class Directory:
    """One RSU of tenant north, offline since a minute ago."""

    def devices(self, now_ms: int) -> list[dict[str, Any]]:
        health = {"online": False, "last_seen_ms": now_ms - 60_000, "dead_letters": {}}
        return [{"device_id": "RSU-7", "kind": "rsu", "tenant": "north", "state": "enabled",
                 "lat_deg": 31.2, "lon_deg": 121.4, "health": health}]  # fmt: skip

    def tenant_of(self, device_id: str) -> str | None:
        return "north" if device_id == "RSU-7" else None


class World:
    def __init__(self, live: EventLive, server: ServerThread, tokens: dict[str, str]) -> None:
        self.live = live
        self.server = server
        self.tokens = tokens

    def url(self, who: str) -> str:
        return f"{self.server.url}/#/alarms?token={self.tokens[who]}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    web_dir = default_web_dir()
    if not (web_dir / "index.html").is_file():
        pytest.skip(f"dashboard not built at {web_dir}: run `make web` (make test does)")
    live = EventLive(start_ms=int(time.time() * 1000))
    live.events = [
        RoadEvent(event_id=3, event_type=901, source="detection", kind="stopped_vehicle",
                  priority=6, lat_deg=31.2301, lon_deg=121.4701, description="lane 2 blocked"),
    ]  # fmt: skip
    store = DuckDbStore(data_dir=tmp_path_factory.mktemp("history"))
    settings = ApiSettings(web_dir=web_dir, admin_token=ADMIN, alarm_poll_s=0.3)
    app = create_app(
        live=live,
        store=store,
        settings=settings,
        devices=Directory(),
        audit=AuditTrail(store),  # type: ignore[arg-type]
    )
    tokens = {
        who: app.state.tokens.create(role=role, tenant="north", label=who)[0]
        for who, role in (("operator", Role.OPERATOR), ("viewer", Role.VIEWER))
    }
    with ServerThread(app) as server:
        live.start(hz=10.0)
        try:
            yield World(live, server, tokens)
        finally:
            live.stop()
            store.close()


def _rows(page: Any) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = page.evaluate(
        """() => [...document.querySelectorAll('#alarm-rows tr.alarm')].map(tr => ({
            id: tr.dataset.id, severity: tr.cells[0].textContent, kind: tr.cells[2].textContent,
            subject: tr.cells[3].textContent, state: tr.cells[8].textContent,
            acked: tr.cells[9].textContent, closed: tr.cells[10].textContent}))"""
    )
    return rows


def test_an_operator_acknowledges_and_an_ended_event_leaves(
    world: World, browser: Any, artifacts: Path
) -> None:
    page = open_console(
        browser, world.url("operator"), "en-US", viewport={"width": 1500, "height": 800}
    )
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    show_route(page, "alarms", settle_ms=0)
    page.wait_for_function("() => document.querySelectorAll('#alarm-rows tr.alarm').length === 2")
    rows = _rows(page)
    assert {(r["severity"], r["kind"], r["subject"]) for r in rows} == {
        ("major", "stopped vehicle", "detection|stopped_vehicle|3"),
        ("major", "offline", "RSU-7"),
    }
    # filters: devices only
    page.select_option("#alarm-source", "device")
    page.wait_for_function("() => document.querySelectorAll('#alarm-rows tr.alarm').length === 1")
    assert _rows(page)[0]["subject"] == "RSU-7"
    page.select_option("#alarm-source", "")
    page.wait_for_function("() => document.querySelectorAll('#alarm-rows tr.alarm').length === 2")

    event_row = "#alarm-rows tr.alarm:has-text('stopped vehicle')"
    page.click(f"{event_row} button.ack")  # one click: the list does not redraw under it
    page.wait_for_function(
        "() => [...document.querySelectorAll('#alarm-rows tr.alarm')].some(tr => "
        "tr.classList.contains('state-acknowledged'))"
    )
    acked = next(r for r in _rows(page) if r["kind"] == "stopped vehicle")
    assert acked["state"] == "acknowledged"
    assert acked["acked"].startswith("token:") and "@north" in acked["acked"]
    assert acked["acked"].split("@north")[1].count(":") == 2  # ... and when (hh:mm:ss)
    assert page.locator(f"{event_row} button.ack").count() == 0  # acknowledged: only Close left
    page.screenshot(path=str(artifacts / "alarms-en.png"))

    world.live.events = []  # the road event ends
    page.wait_for_function(
        "() => ![...document.querySelectorAll('#alarm-rows tr.alarm')].some(tr => "
        "tr.textContent.includes('stopped vehicle'))",
        timeout=10_000,
    )
    assert [r["subject"] for r in _rows(page)] == ["RSU-7"]
    page.click(".tabs button[data-tab=history]")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#alarm-rows tr.alarm')].some(tr => "
        "tr.classList.contains('state-closed'))"
    )
    closed = next(r for r in _rows(page) if r["kind"] == "stopped vehicle")
    assert closed["state"] == "closed" and closed["closed"].startswith("platform")
    assert closed["acked"] == acked["acked"]  # who acknowledged it stays on record
    assert errors == []
    page.context.close()


def test_a_viewer_is_refused_and_every_label_is_chinese(
    world: World, browser: Any, artifacts: Path
) -> None:
    page = open_console(
        browser, world.url("viewer"), "zh-CN", viewport={"width": 1500, "height": 800}
    )
    show_route(page, "alarms", settle_ms=0)
    page.wait_for_selector("#alarm-rows tr.alarm")
    assert untranslated(page, "zh") == []
    page.click("#alarm-rows tr.alarm button.close >> nth=0")
    page.wait_for_function(
        "() => document.getElementById('alarm-note').textContent.includes('403')"
    )
    assert "关闭失败" in page.inner_text("#alarm-note")
    page.screenshot(path=str(artifacts / "alarms-zh.png"))  # docs/console/alarms.png
    page.context.close()
