"""The live road under a demo-like flood of warnings (~100 a second): the list shows one row per
ego and hazard with its latest state, changes by at most a handful of rows a second, holds
still under the pointer so every click lands, filters by application and level, formats TTCs
(no "1.4e+31 s"); road events are drawn only while in force, operator-posted ones included;
intersections are labelled with their name and signal state."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.server import ServerThread
from v2xcloud.api.settings import default_web_dir
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.model import Advisory, AdvisoryLevel, ParticipantState
from v2xcloud.store import DuckDbStore

from .console import open_console

ADMIN = "admin-token-for-the-live-road-test"


class FloodingLive(ScriptedLive):
    """The scripted intersection, with every vehicle warned on every tick (10 Hz): AVW of the
    stalled car as scripted, plus HLW / ICW warnings with odd TTCs (none, 1.4e31 s, 151 s)."""

    def _warn_approaching(
        self, states: list[ParticipantState], now_ms: int, lat: float, lon: float
    ) -> list[Advisory]:
        found = super()._warn_approaching(states, now_ms, lat, lon)
        ttcs = [None, 1.4204385832755706e31, 151.0, 2.5, 0.8]
        for i, state in enumerate(s for s in states if s.id.startswith("veh-0")):
            ttc = ttcs[i % len(ttcs)]
            found.append(
                Advisory(
                    app="HLW" if i % 2 else "ICW",
                    level=AdvisoryLevel.IMMINENT
                    if ttc is not None and ttc < 1
                    else AdvisoryLevel.WARNING,
                    ego_id=state.id,
                    other_id=f"hazard-{i % 3}",
                    issued_ms=now_ms,
                    expires_ms=now_ms + 1000,
                    ttc_s=ttc,
                    lat_deg=state.lat_deg,
                    lon_deg=state.lon_deg,
                )
            )
        return found


@pytest.fixture(scope="module")
def flood(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FloodingLive, str]]:
    web_dir = default_web_dir()
    if not (web_dir / "index.html").is_file():
        pytest.skip(f"dashboard not built at {web_dir}: run `make web` (make test does)")
    live = FloodingLive(start_ms=int(time.time() * 1000), hazard_at_s=0.5)
    store = DuckDbStore(data_dir=tmp_path_factory.mktemp("history"))
    settings = ApiSettings(web_dir=web_dir, time_zone="Asia/Shanghai", admin_token=ADMIN)
    app = create_app(live=live, store=store, settings=settings)
    with ServerThread(app) as server:
        live.start(hz=10.0)
        try:
            yield live, server.url
        finally:
            live.stop()
            store.close()


def _post_event(url: str, event: dict[str, Any]) -> int:
    request = urllib.request.Request(
        url + "/api/events",
        data=json.dumps(event).encode(),
        headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return int(answer.status)


def _events(url: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        url + "/api/events", headers={"Authorization": f"Bearer {ADMIN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        found: list[dict[str, Any]] = json.loads(answer.read())
        return found


_WATCH_LIST = """() => {
  window.__rowsAdded = 0;
  new MutationObserver((changes) => {
    for (const c of changes) window.__rowsAdded += [...c.addedNodes].filter(n => n.nodeName === 'LI').length;
  }).observe(document.getElementById('advisory-list'), { childList: true });
}"""


def test_grouped_warnings_stay_readable_and_clickable(
    flood: tuple[FloodingLive, str], browser: Any, artifacts: Path
) -> None:
    _live, url = flood
    page = open_console(browser, url + "/", "en-GB", viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.wait_for_function("() => window.v2x.ready", timeout=30_000)
    page.wait_for_function(
        "() => document.querySelectorAll('#advisory-list li').length >= 6", timeout=30_000
    )
    # the flood is on: ~80 advisories a second. Waited for, not read once: the rate is over
    # the last stats period, and a period in which the shared 2-core machine (the rest of the
    # suite beside it) slowed the 10 Hz ticks read 36 in one CI run
    page.wait_for_function(
        "() => (window.v2x.scene.stats?.advisories_out_per_s ?? 0) > 40", timeout=20_000
    )
    # one row per ego and hazard: a dozen rows, not hundreds
    page.evaluate(_WATCH_LIST)
    page.mouse.move(5, 5)  # pointer away from the list: it may move
    page.wait_for_timeout(5000)
    rows = page.evaluate(
        "() => [...document.querySelectorAll('#advisory-list li')].map(li => li.dataset.key)"
    )
    assert len(rows) == len(set(rows)) <= 20, rows
    added = page.evaluate("() => window.__rowsAdded")
    assert added <= 5 * 5, f"{added} rows added in 5 s"  # at most a handful a second
    text = page.inner_text("#advisory-list")
    assert "e+" not in text and "TTC > 1,000 s" in text, text
    assert "TTC 151 s" in text  # HLW at 151 s: shown as is (an app-level question, not hidden)
    assert "×" in text  # repeated issues counted in the row, not listed again
    page.screenshot(path=str(artifacts / "live-road-flood.png"))

    # clicks land while the data flows: 6 of 6 (the pointer comes onto the list, as a hand does,
    # and the list holds still under it)
    page.hover("#advisory-list li >> nth=0")
    page.wait_for_timeout(200)
    landed = 0
    for i in range(6):
        row = page.locator("#advisory-list li").nth(i)
        key = row.get_attribute("data-key")
        row.click()
        if page.evaluate("() => window.v2x.ui.pickedWarning") == key:
            landed += 1
        page.wait_for_timeout(150)
    assert landed == 6
    page.wait_for_selector("#details:not([hidden])")

    # filters: application, level
    page.select_option("#filter-app", "HLW")
    page.wait_for_timeout(300)
    apps = page.evaluate(
        "() => [...document.querySelectorAll('#advisory-list li')].map(li => li.dataset.app)"
    )
    assert apps and set(apps) == {"HLW"}, apps
    page.select_option("#filter-app", "")
    page.select_option("#filter-level", "3")
    page.wait_for_timeout(300)
    classes = page.evaluate(
        "() => [...document.querySelectorAll('#advisory-list li')].map(li => li.className)"
    )
    assert classes and all(c.startswith("level-3") for c in classes), classes
    page.select_option("#filter-level", "")
    # paused: nothing is added or removed until resumed
    page.click("#warnings-pause")
    page.mouse.move(5, 5)
    page.evaluate("() => { window.__rowsAdded = 0; }")
    before = page.evaluate(
        "() => [...document.querySelectorAll('#advisory-list li')].map(li => li.dataset.key)"
    )
    page.wait_for_timeout(2500)
    after = page.evaluate(
        "() => [...document.querySelectorAll('#advisory-list li')].map(li => li.dataset.key)"
    )
    assert before == after and page.evaluate("() => window.__rowsAdded") == 0
    page.click("#warnings-pause")

    # health: real charts (ECharts) with a time axis, named value axes with units, a threshold
    health = page.evaluate(
        """() => Object.fromEntries(Object.entries(window.v2x.charts).map(([k, c]) => {
          const o = c.chart.getOption();
          return [k, {x: o.xAxis[0].type, y: o.yAxis[0].name, points: o.series[0].data.length,
                      marks: (o.series[0].markLine?.data ?? []).map(d => d.yAxis)}];
        }))"""
    )
    assert health["throughput"]["x"] == "time" and "(1/s)" in health["throughput"]["y"], health
    assert "(ms)" in health["latency"]["y"] and health["latency"]["marks"] == [100], health
    assert health["throughput"]["points"] >= 3, health
    # the intersection is labelled with its name and its signal phases
    label = page.inner_text(".node-label")
    assert "Scripted Rd × Test Ave" in label and "phase 1" in label, label
    assert errors == []
    page.context.close()


def test_events_are_drawn_only_while_in_force(
    flood: tuple[FloodingLive, str], browser: Any, artifacts: Path
) -> None:
    live, url = flood
    page = open_console(browser, url + "/", "en-GB", viewport={"width": 1400, "height": 900})
    page.wait_for_function("() => window.v2x.ready", timeout=30_000)
    now_ms = live.stats().now_ms
    posted = {
        "event_id": 42,
        "event_type": 401,
        "source": "police",
        "kind": "roadworks",
        "description": "lane closed for roadworks",
        "lat_deg": 31.2303,
        "lon_deg": 121.4739,
        "start_ms": now_ms,
        "end_ms": now_ms + 15_000,  # long enough to be seen on a loaded machine
    }
    assert _post_event(url, posted) == 201
    assert any(e["event_id"] == 42 for e in _events(url))
    # the operator's event appears in the list and on the map
    page.wait_for_function(
        "() => [...document.querySelectorAll('#event-list li')].some(li => li.textContent.includes('#42'))",
        timeout=12_000,
    )
    page.wait_for_function(
        "() => window.v2x.rendered('events').some(e => e.event_id === 42)", timeout=10_000
    )
    page.screenshot(path=str(artifacts / "live-road-event.png"))
    # it ends: gone from the API, the list and the map
    page.wait_for_function(
        "() => ![...document.querySelectorAll('#event-list li')].some(li => li.textContent.includes('#42'))",
        timeout=30_000,
    )
    page.wait_for_function(
        "() => !window.v2x.rendered('events').some(e => e.event_id === 42)", timeout=10_000
    )
    assert not any(e["event_id"] == 42 for e in _events(url))
    page.context.close()
