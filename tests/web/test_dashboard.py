"""The dashboard in headless Chromium against the real server and a scripted platform."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .conftest import Platform

_FIND_CLICKABLE = """() => {
  for (const id of window.v2x.scene.participants.keys()) {
    if (!id.startsWith('veh-0')) continue;
    const p = window.v2x.scene.participants.get(id);
    const pt = window.v2x.map.project([p.lon_deg, p.lat_deg]);
    const hits = window.v2x.map.queryRenderedFeatures(pt, {layers: ['participants']});
    const canvas = window.v2x.map.getCanvas();
    const inside = pt.x > 20 && pt.y > 20 && pt.x < canvas.clientWidth - 20 && pt.y < canvas.clientHeight - 20;
    if (inside && hits.length === 1 && hits[0].properties.id === id) return id;
  }
  return null;
}"""


_DRAWN_AT_OLDEST_FRAME = """() => {
  const old = window.v2x.scene.history[0].participants.find(p => p.id === 'veh-01');
  const now = window.v2x.scene.participants.get('veh-01');
  const moved = Math.abs(old.lat_deg - now.lat_deg) + Math.abs(old.lon_deg - now.lon_deg) > 1e-4;
  const pt = window.v2x.map.project([old.lon_deg, old.lat_deg]);
  const hits = window.v2x.map.queryRenderedFeatures(pt, {layers: ['participants']});
  return moved && hits.some(f => f.properties.id === 'veh-01');
}"""


def _positions(page: Any) -> dict[str, tuple[float, float]]:
    found = page.evaluate(
        "() => [...window.v2x.scene.participants.values()].map(p => [p.id, p.lat_deg, p.lon_deg])"
    )
    return {pid: (lat, lon) for pid, lat, lon in found}


def test_dashboard_end_to_end(platform: Platform, browser: Any, artifacts: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(platform.server.url + "/")
    page.wait_for_function("() => window.v2x && window.v2x.ready", timeout=30_000)
    page.wait_for_function("() => window.v2x.rendered('participants').length >= 9", timeout=30_000)
    assert len(page.evaluate("() => window.v2x.rendered('lanes')")) == 16  # 8 approach, 8 exit
    assert len(page.evaluate("() => window.v2x.rendered('stops')")) == 8
    assert len(page.evaluate("() => window.v2x.rendered('crosswalks')")) == 4
    assert {h["light"] for h in page.evaluate("() => window.v2x.rendered('heads')")} & {
        "protected-green",
        "red",
        "yellow",
    }

    # participants move between two screenshots
    before = _positions(page)
    first = page.screenshot(path=str(artifacts / "dashboard-1.png"))
    page.wait_for_timeout(1500)
    after = _positions(page)
    second = page.screenshot(path=str(artifacts / "dashboard-2.png"))
    moved = [
        pid
        for pid in before
        if pid in after and pid.startswith("veh-0") and math.dist(before[pid], after[pid]) > 2e-5
    ]
    assert len(moved) >= 6, (before, after)
    assert first != second

    # the scripted hazard's advisory appears on the map (hazard ringed, advised vehicle ringed)
    # and in the list, which keeps recent advisories after they expire
    page.wait_for_function(
        "() => window.v2x.rendered('advisories').some(a => a.app === 'AVW')"
        " && window.v2x.rendered('participants').some(p => p.warned)",
        timeout=40_000,
    )
    page.wait_for_selector("#advisory-list li[data-app=AVW]", timeout=5_000)
    assert "AVW" in page.inner_text("#advisory-list")
    page.wait_for_function("() => window.v2x.rendered('events').length === 1", timeout=5_000)
    page.screenshot(path=str(artifacts / "dashboard-advisory.png"))

    # clicking a participant shows its details and its stored trajectory
    platform.live.stop()  # freeze the scene so the click lands on the arrow
    # the map draws asynchronously (a worker tiles the data): wait until it shows the last frame
    # (idle: no data update in flight), then for an arrow alone under its own position
    page.wait_for_function("() => window.v2x.map.loaded() && !window.v2x.map.isMoving()")
    page.wait_for_timeout(500)
    page.wait_for_function("() => window.v2x.map.loaded()")
    target = page.wait_for_function(_FIND_CLICKABLE, timeout=20_000).json_value()
    assert target is not None
    x, y = page.evaluate("id => window.v2x.screenPosition(id)", target)
    page.mouse.click(x, y)
    page.wait_for_selector("#details:not([hidden])", timeout=5_000)
    assert page.text_content("#details-id") == target
    page.wait_for_function(
        "() => /trajectory: [1-9][0-9]* stored points/.test("
        "document.getElementById('trajectory-info').textContent)",
        timeout=10_000,
    )
    page.wait_for_function("() => window.v2x.rendered('trajectory').length === 1", timeout=5_000)
    page.screenshot(path=str(artifacts / "dashboard-trajectory.png"))

    # the timeline replays the buffered minutes: oldest frame, then back to live
    live_positions = _positions(page)
    page.eval_on_selector(
        "#timeline", "el => { el.value = '0'; el.dispatchEvent(new Event('input')); }"
    )
    assert page.text_content("#timeline-label").startswith("replay")
    page.wait_for_function(_DRAWN_AT_OLDEST_FRAME, timeout=5_000)
    page.click("#live")
    assert page.text_content("#timeline-label") == "live"
    assert _positions(page) == live_positions

    # keyboard: the focused map pans with the arrow keys
    centre = page.evaluate("() => window.v2x.map.getCenter().toArray()")
    page.focus("#map canvas")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(600)
    assert page.evaluate("() => window.v2x.map.getCenter().toArray()") != centre
    assert errors == []
    page.close()
