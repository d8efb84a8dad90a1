"""The console in Chinese and English: the browser's language picks it, the switch changes every
label on every view of the router (a DOM walk finds no text left in the other language), the
choice is remembered, and times carry their zone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import Platform
from .console import open_console, show_route, untranslated


def _routes(page: Any) -> list[str]:
    routes: list[str] = page.evaluate("() => window.v2x.router.views.map(v => v.id)")
    return routes


def test_every_view_is_translated_both_ways(
    platform: Platform, browser: Any, artifacts: Path
) -> None:
    page = open_console(
        browser, platform.server.url + "/", "zh-CN", viewport={"width": 1400, "height": 900}
    )
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.wait_for_function("() => window.v2x.ready", timeout=30_000)
    assert page.evaluate("() => document.documentElement.lang") == "zh-CN"  # from navigator
    # wait for a warning and a road event, so their rows are walked too
    page.wait_for_selector("#advisory-list li", timeout=40_000)
    page.wait_for_selector("#event-list li", timeout=40_000)
    routes = _routes(page)
    assert routes[0] == "live"
    for route in routes:
        show_route(page, route)
        left = untranslated(page, "zh")
        assert left == [], f"#/{route} in zh shows English: {left}"
        page.screenshot(path=str(artifacts / f"console-zh-{route}.png"))
    # the switch: every label changes, on every view, and the nav says it in English
    page.click("#lang button[data-lang=en]")
    for route in routes:
        show_route(page, route)
        left = untranslated(page, "en")
        assert left == [], f"#/{route} in en shows Chinese: {left}"
    assert page.inner_text("#nav a[data-view=live]") == "Live road"
    # remembered: a reload in a Chinese browser stays English
    page.reload()
    page.wait_for_function("() => window.v2x && window.v2x.router && window.v2x.router.active")
    assert page.evaluate("() => document.documentElement.lang") == "en-GB"
    assert page.inner_text("#nav a[data-view=live]") == "Live road"
    assert page.evaluate("() => window.v2x.i18n.missingKeys()") == []
    assert errors == []
    page.context.close()


def test_english_browser_gets_english_and_times_carry_their_zone(
    platform: Platform, browser: Any
) -> None:
    # the browser is in New York; the district (the API says) in Asia/Shanghai
    page = open_console(browser, platform.server.url + "/", "en-US", timezone_id="America/New_York")
    page.wait_for_function("() => window.v2x.ready", timeout=30_000)
    assert page.evaluate("() => document.documentElement.lang") == "en-GB"
    assert page.inner_text("#nav a[data-view=live]") == "Live road"
    # the header clock: platform time in the district's zone, with the zone's label
    page.wait_for_function(
        "() => /^\\d\\d:\\d\\d:\\d\\d GMT\\+8$/.test(document.getElementById('clock').textContent)",
        timeout=10_000,
    )
    assert page.evaluate("() => window.v2x.i18n.zone()") == "Asia/Shanghai"
    page.context.close()
