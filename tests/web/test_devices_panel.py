"""The Devices and Dead letters panels in headless Chromium against the real server.

The server carries the platform service's device directory (``cli._platform.Platform``: its
registry, health and ingest path, gateways not started) over the scripted scene. A feeder
thread plays the devices' traffic into that health as the ingest path and the down-link do:
one RSU healthy with ACKed down-link, one silent for a minute (offline), one whose ACKs stopped
(link abnormal), one OBU throttled by its rate limit (flooding), one OBU and one radar healthy.
Dead letters are written to the real history store. Reads need the viewer token, given to the
page as ``#token=``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api import _scripted_geometry as geo
from v2xcloud.api.server import ServerThread
from v2xcloud.api.settings import default_web_dir
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.cli._platform import Platform
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import DeadLetter, Device, DeviceKind, DropReason
from v2xcloud.runtime import Runtime, SystemClock
from v2xcloud.store import DuckDbStore

VIEWER = "viewer-token-for-the-panel-test"
HEALTHY = ("RSU-OK", "OBU-OK", "RADAR-1")


class Devices:
    """The server, the device service and the feeder thread playing the devices' traffic."""

    def __init__(self, service: Platform, server: ServerThread) -> None:
        self.service = service
        self.server = server
        self.speaking = {*HEALTHY, "RSU-LINK", "OBU-FLOOD"}
        self.flooding = {"OBU-FLOOD"}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._feed, name="device-feeder", daemon=True)

    def _feed(self) -> None:
        health = self.service.health
        clock = SystemClock()
        while not self._stop.wait(0.1):
            now = clock.now_ms()
            for device_id in list(self.speaking):
                kind = self.service.registry.get(device_id)
                assert kind is not None
                if kind.kind is DeviceKind.OBU:
                    health.seen(device_id, "BSM", now)
                elif kind.kind is DeviceKind.RADAR:
                    health.seen(device_id, "TRACK", now)
                else:
                    health.seen(device_id, "RSM", now)
                    if now % 1000 < 100:
                        health.seen(device_id, "HB", now)
            # flooding devices: far over their rate, refused by the rate limit
            for device_id in list(self.flooding):
                for _ in range(9):
                    health.dead_letter(device_id, DropReason.RATE_LIMITED.value, now)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _registry() -> DeviceRegistry:
    registry = DeviceRegistry()
    lat, lon = geo.REF_LAT_DEG, geo.REF_LON_DEG
    registry.add(Device(device_id="RSU-OK", kind=DeviceKind.RSU, lat_deg=lat, lon_deg=lon))
    registry.add(Device(device_id="RSU-OFF", kind=DeviceKind.RSU, lat_deg=lat + 6e-4, lon_deg=lon))
    registry.add(Device(device_id="RSU-LINK", kind=DeviceKind.RSU, lat_deg=lat, lon_deg=lon + 7e-4))
    registry.add(Device(device_id="OBU-OK", kind=DeviceKind.OBU))
    registry.add(Device(device_id="OBU-FLOOD", kind=DeviceKind.OBU))
    registry.add(Device(device_id="RADAR-1", kind=DeviceKind.RADAR))
    return registry


def _history(service: Platform, now: int) -> None:
    """What happened before the page opened: down-link figures and the silent RSU's last word."""
    health = service.health
    health.seen("RSU-OFF", "HB", now - 60_000)
    for t in range(now - 10_000, now, 100):  # the last 10 s (the rate window) at 10 Hz
        health.seen("OBU-OK", "BSM", t)
        health.seen("OBU-FLOOD", "BSM", t)
        health.seen("RADAR-1", "TRACK", t)
        for rsu in ("RSU-OK", "RSU-LINK"):
            health.seen(rsu, "RSM", t)
    for latency in (12, 15, 18, 22, 140):
        health.sent("RSU-OK", resend=False)
        health.acked("RSU-OK", latency, now - 1000)
    for _ in range(4):
        health.sent("RSU-LINK", resend=False)
    health.acked("RSU-LINK", 30, now - 20_000)
    for _ in range(3):
        health.unanswered("RSU-LINK")


@pytest.fixture(scope="module")
def devices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devices]:
    web_dir = default_web_dir()
    if not (web_dir / "index.html").is_file():
        pytest.skip(f"dashboard not built at {web_dir}: run `make web` (make test does)")
    now = SystemClock().now_ms()
    live = ScriptedLive(start_ms=now, hazard_at_s=3600.0)
    store = DuckDbStore(data_dir=tmp_path_factory.mktemp("history"))
    store.write_dead_letters(
        [
            DeadLetter(
                raw=b"\x00\x01garbage",
                source="OBU-FLOOD",
                received_at_ms=now - 5000 + i,
                reason=DropReason.RATE_LIMITED,
                detail="over 20 BSM/s",
            )
            for i in range(7)
        ]
        + [
            DeadLetter(
                raw=b"\xff" * 9,
                source="RSU-OK",
                received_at_ms=now - 3000 + i,
                reason=DropReason.MALFORMED,
                detail="MessageFrame truncated",
                where="byte 9",
            )
            for i in range(3)
        ]
    )
    runtime = Runtime(frame=geo.FRAME, apps=[], detectors=(), clock=SystemClock())
    service = Platform(runtime, _registry())
    _history(service, now)
    settings = ApiSettings(web_dir=web_dir, viewer_token=VIEWER, admin_token="admin-" + VIEWER)
    app = create_app(live=live, store=store, settings=settings, devices=service)
    with ServerThread(app) as server:
        live.start(hz=10.0)
        rig = Devices(service, server)
        rig.start()
        try:
            yield rig
        finally:
            rig.stop()
            live.stop()
            store.close()


def _rows(page: Any) -> list[dict[str, str]]:
    found: list[dict[str, str]] = page.evaluate(
        """() => [...document.querySelectorAll('#device-table tbody tr')].map(tr => {
          const row = {id: tr.dataset.id, problems: tr.dataset.problems};
          for (const td of tr.cells) { row[td.dataset.key] = td.textContent;
                                       row[td.dataset.key + '_class'] = td.className; }
          return row; })"""
    )
    return found


def test_devices_panel_shows_each_state(devices: Devices, browser: Any, artifacts: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 860})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(devices.server.url + f"/#token={VIEWER}")
    page.wait_for_function("() => window.v2x && window.v2x.ready", timeout=30_000)
    page.wait_for_function(
        "() => document.querySelectorAll('#device-table tbody tr').length === 6", timeout=15_000
    )
    page.wait_for_function(
        "() => /BSM/.test(document.querySelector('tr[data-id=OBU-OK] td[data-key=rates]')"
        ".textContent)",
        timeout=10_000,
    )
    rows = {r["id"]: r for r in _rows(page)}

    # online/offline in colour and words; the silent RSU's last seen a minute ago, local time
    assert rows["RSU-OFF"]["status"] == "○ offline"
    assert rows["RSU-OFF"]["status_class"] == "bad"
    assert re.fullmatch(r"\d\d:\d\d:\d\d \S+ \(\d+ s ago\)", rows["RSU-OFF"]["seen"])
    silent_s = re.search(r"\((\d+) s ago", rows["RSU-OFF"]["seen"])
    assert silent_s and 55 <= int(silent_s[1]) <= 90, rows["RSU-OFF"]["seen"]
    for device_id in (*HEALTHY, "RSU-LINK", "OBU-FLOOD"):
        assert rows[device_id]["status"] == "● online", rows[device_id]
        assert rows[device_id]["status_class"] == "good"
    # message rates per type with units, from the feeder's 10 Hz
    bsm = re.search(r"BSM (\d+(?:\.\d)?)/s", rows["OBU-OK"]["rates"])
    assert bsm and 5 <= float(bsm[1]) <= 11, rows["OBU-OK"]["rates"]
    assert "TRACK" in rows["RADAR-1"]["rates"]
    # down-link: ACK rate and latency with units; the RSU without ACKs is link abnormal
    assert rows["RSU-OK"]["ack"] == "100.0% of 5"
    assert rows["RSU-OK"]["latency"] == "41.4 ms / 140 ms"
    assert rows["RSU-OK"]["link"] == "normal"
    assert rows["RSU-LINK"]["link"] == "⚠ abnormal" and rows["RSU-LINK"]["link_class"] == "bad"
    assert rows["RSU-LINK"]["ack"] == "25.0% of 4"
    # the flooding OBU: flagged, its dead letters counted by reason
    assert rows["OBU-FLOOD"]["flood"] == "⚠ throttled"
    assert re.fullmatch(r"rate limited [\d,]+", rows["OBU-FLOOD"]["dead"])  # the reason, as read
    for device_id in HEALTHY:
        assert rows[device_id]["flood"] == "no" and rows[device_id]["problems"] == ""
    # problems first: the three troubled devices lead, offline first
    order = [r["id"] for r in _rows(page)]
    assert order[0] == "RSU-OFF"
    assert set(order[:3]) == {"RSU-OFF", "RSU-LINK", "OBU-FLOOD"}, order
    assert set(order[3:]) == set(HEALTHY), order

    # RSU positions on the map, coloured by state
    page.wait_for_function("() => window.v2x.rendered('devices').length === 3", timeout=10_000)
    on_map = {f["id"]: f for f in page.evaluate("() => window.v2x.rendered('devices')")}
    assert set(on_map) == {"RSU-OK", "RSU-OFF", "RSU-LINK"}
    assert not on_map["RSU-OFF"]["online"] and on_map["RSU-OK"]["online"]
    assert on_map["RSU-LINK"]["problem"] and not on_map["RSU-OK"]["problem"]

    # the Dead letters panel: stored counts by reason and by source, newest letters
    page.wait_for_selector("#dl-by-reason li[data-name=rate_limited]", timeout=10_000)
    assert page.inner_text("#dl-by-reason li[data-name=rate_limited] b") == "7"
    assert page.inner_text("#dl-by-reason li[data-name=malformed] b") == "3"
    assert page.inner_text("#dl-by-source li[data-name=OBU-FLOOD] b") == "7"
    assert page.inner_text("#dl-by-source li[data-name=RSU-OK] b") == "3"
    assert "malformed at byte 9: MessageFrame truncated" in page.inner_text("#dl-newest")
    page.screenshot(path=str(artifacts / "dashboard-devices.png"))

    # refreshed every 2 s, in place: the silent RSU speaks again and its row (the same
    # element) turns online; the rows' elements are never recreated
    page.evaluate(
        "() => document.querySelectorAll('#device-table tbody tr')"
        ".forEach(tr => { tr.kept = tr.dataset.id; })"
    )
    polls = page.evaluate("() => window.v2x.polls.devices")
    devices.speaking.add("RSU-OFF")
    page.wait_for_function(
        "() => document.querySelector('tr[data-id=\"RSU-OFF\"] td[data-key=status]')"
        ".textContent === '● online'",
        timeout=8_000,
    )
    assert page.evaluate("() => window.v2x.polls.devices") - polls <= 3  # within ~2 polls
    kept = page.evaluate(
        "() => [...document.querySelectorAll('#device-table tbody tr')].map(tr => tr.kept)"
    )
    assert sorted(kept) == sorted(r["id"] for r in _rows(page))  # same elements, all of them
    assert _rows(page)[0]["id"] != "RSU-OFF"  # no longer a problem: not first any more
    # a click on a header sorts by that column (here: device id)
    page.hover("tr[data-id=OBU-OK] td[data-key=id]")
    before = [r["id"] for r in _rows(page)]
    page.click("#device-table th[data-key=id]")  # an explicit sort still applies
    by_id = [r["id"] for r in _rows(page)]
    assert by_id == sorted(before), by_id
    page.screenshot(path=str(artifacts / "dashboard-devices-2.png"))

    # problems first again; a device that starts flooding while the pointer is on the table
    # has its cells updated but is not moved under the pointer, then moves up once it left
    page.click("#device-table th[data-key=status]")
    page.hover("tr[data-id=RADAR-1] td[data-key=kind]")
    ids = [r["id"] for r in _rows(page)]
    assert ids == ["RSU-LINK", "OBU-FLOOD", "OBU-OK", "RADAR-1", "RSU-OFF", "RSU-OK"], ids
    devices.flooding.add("RADAR-1")
    page.wait_for_function(
        "() => document.querySelector('tr[data-id=\"RADAR-1\"] td[data-key=flood]')"
        ".textContent === '⚠ throttled'",
        timeout=8_000,
    )
    assert [r["id"] for r in _rows(page)] == ids
    page.mouse.move(5, 5)
    page.wait_for_function(
        "() => document.querySelectorAll('#device-table tbody tr')[2].dataset.id === 'RADAR-1'",
        timeout=8_000,
    )

    # the problems-only filter, and the row cap for large registries (the rest counted)
    page.check("#device-problems-only")
    problem_rows = {r["id"] for r in _rows(page)}
    assert problem_rows == {"RSU-LINK", "OBU-FLOOD", "RADAR-1"}, problem_rows
    page.uncheck("#device-problems-only")
    assert len(_rows(page)) == 6
    page.evaluate("() => { window.v2x.devicesTable.maxRows = 4; }")
    page.wait_for_function(
        "() => document.querySelectorAll('#device-table tbody tr').length === 4", timeout=5_000
    )
    assert "2 not shown" in page.inner_text("#device-summary")
    assert errors == [], errors
    page.close()

    # without the token the panel says why instead of showing nothing
    anonymous = browser.new_context().new_page()
    anonymous.goto(devices.server.url + "/")
    anonymous.wait_for_function(
        "() => /HTTP 401/.test(document.getElementById('device-note').textContent)",
        timeout=15_000,
    )
    anonymous.close()
