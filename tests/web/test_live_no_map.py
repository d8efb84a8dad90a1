"""`serve --live runtime` before any RSU sent its MAP showed a black map under a green "live":
the console now says that no intersection map is known yet, fits the map to the road users it
has, draws the lanes as soon as a MAP arrives (it asks again), and the header says "live" only
while ticks arrive."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.live import IntersectionView
from v2xcloud.api.server import ServerThread
from v2xcloud.api.settings import default_web_dir
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.store import DuckDbStore

from .console import open_console


class LateMapLive(ScriptedLive):
    """The scripted intersection whose MAP is known only once ``map_known`` is set (as a
    runtime fed by devices knows none until an RSU sends it)."""

    map_known = False

    def intersections(self) -> list[IntersectionView]:
        return super().intersections() if self.map_known else []


@pytest.fixture()
def late(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LateMapLive, str]]:
    web_dir = default_web_dir()
    if not (web_dir / "index.html").is_file():
        pytest.skip(f"dashboard not built at {web_dir}: run `make web` (make test does)")
    live = LateMapLive(start_ms=int(time.time() * 1000), hazard_at_s=1000.0)
    store = DuckDbStore(data_dir=tmp_path_factory.mktemp("history"))
    app = create_app(live=live, store=store, settings=ApiSettings(web_dir=web_dir))
    with ServerThread(app) as server:
        try:
            yield live, server.url
        finally:
            live.stop()
            store.close()


def test_no_map_yet_is_said_and_the_map_comes_when_it_arrives(
    late: tuple[LateMapLive, str], browser: Any
) -> None:
    live, url = late
    page = open_console(browser, url + "/", "en-GB", viewport={"width": 1280, "height": 800})
    page.wait_for_function("() => window.v2x.ready", timeout=30_000)
    # connected, but the platform does not tick: not "live"
    page.wait_for_function(
        "() => document.getElementById('conn').textContent === 'connected · no data'",
        timeout=10_000,
    )
    assert page.is_visible("#map-empty")
    live.start(hz=10.0)
    page.wait_for_function(
        "() => document.getElementById('conn').textContent === 'live'", timeout=10_000
    )
    # no MAP: the note stays, and the road users are in view (the map fitted to them)
    page.wait_for_function("() => window.v2x.rendered('participants').length >= 5", timeout=15_000)
    assert page.is_visible("#map-empty")
    assert page.evaluate("() => window.v2x.rendered('lanes').length") == 0
    # the MAP arrives: lanes, stop lines and the intersection's label are drawn
    live.map_known = True
    page.wait_for_function("() => window.v2x.rendered('lanes').length === 16", timeout=15_000)
    assert not page.is_visible("#map-empty")
    assert "Scripted Rd × Test Ave" in page.inner_text(".node-label")
    page.context.close()
