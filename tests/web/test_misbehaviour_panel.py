"""The Misbehaviour panel in headless Chromium against the real server over a real runtime with
the misbehaviour detector: an honest OBU and one claiming 95 m/s; the liar is flagged, its
report recorded into the history and shown with its reason, evidence counters and sender."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from v2xcloud.api import ApiSettings, create_app, record_history
from v2xcloud.api import _scripted_geometry as geo
from v2xcloud.api.runtime_live import RuntimeLive
from v2xcloud.api.server import ServerThread
from v2xcloud.api.settings import default_web_dir
from v2xcloud.runtime import Runtime, SystemClock
from v2xcloud.security import MisbehaviourDetector
from v2xcloud.store import DuckDbStore, HistoryWriter
from v2xcloud.twin.testing import bsm_at


class _Feed:
    """Before each tick: obu-1 drives at 10 m/s, obu-2 claims 95 m/s (no car does); both
    positions follow the tick's time (ticks are not evenly spaced on a loaded machine)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.t0: int | None = None

    def __call__(self, now_ms: int) -> None:
        self.t0 = now_ms if self.t0 is None else self.t0
        for source, pid, speed, y_m in (("obu-1", "00000000000000a1", 10.0, 0.0),
                                        ("obu-2", "00000000000000a2", 95.0, 20.0)):  # fmt: skip
            x_m = speed * (now_ms - self.t0) / 1000
            bsm = bsm_at(pid, x_m=x_m, y_m=y_m, t_ms=now_ms, frame=geo.FRAME, speed_mps=speed,
                         heading_deg=90.0)  # fmt: skip
            self.runtime.ingest(bsm, source=source, received_at_ms=now_ms)


@pytest.fixture(scope="module")
def detecting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    web_dir = default_web_dir()
    if not (web_dir / "index.html").is_file():
        pytest.skip(f"dashboard not built at {web_dir}: run `make web` (make test does)")
    clock = SystemClock()
    runtime = Runtime(
        frame=geo.FRAME, apps=[], detectors=(), clock=clock, screen=MisbehaviourDetector()
    )
    live = RuntimeLive(runtime, before_tick=_Feed(runtime))
    store = DuckDbStore(data_dir=None)
    writer = HistoryWriter(store, participant_interval_ms=1000)
    stop = record_history(live, writer)
    app = create_app(live=live, store=store, settings=ApiSettings(web_dir=web_dir))
    with ServerThread(app) as server:
        live.start(hz=10.0)
        try:
            yield server
        finally:
            live.stop()
            stop()
            writer.close()
            store.close()


def test_misbehaviour_panel_shows_the_flagged_sender(
    detecting: ServerThread, browser: Any, artifacts: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(detecting.url + "/")
    page.wait_for_function("() => window.v2x?.polls?.misbehaviour >= 1", timeout=30_000)
    page.wait_for_function(
        "() => document.querySelectorAll('#mb-newest li.letter').length >= 1", timeout=30_000
    )
    page.wait_for_function(
        "() => /reports checked/.test(document.getElementById('mb-state').textContent)",
        timeout=30_000,
    )
    state = page.text_content("#mb-state") or ""
    assert re.fullmatch(
        r"[\d,]+ reports checked · [\d,]+ refused · 1 flagged in the last 24 h", state
    ), state
    assert "bad" in (page.get_attribute("#mb-state", "class") or "")
    reasons = page.evaluate(
        "() => [...document.querySelectorAll('#mb-by-reason li[data-name]')].map(li => li.dataset.name)"
    )
    assert reasons == ["speed_plausibility"]
    evidence = page.evaluate(
        "() => [...document.querySelectorAll('#mb-evidence li[data-name]')].map(li => li.dataset.name)"
    )
    assert "speed_plausibility" in evidence
    (row,) = page.locator("#mb-newest li.letter").all()
    text = row.text_content() or ""
    # the check's name as the operator reads it (i18n), the detector's words as it wrote them
    assert "via obu-2 speed plausibility: speed 95.0 m/s > 70.0 m/s" in text, text
    assert "(3 failed reports)" in text
    assert "speed plausibility" in (row.get_attribute("title") or "")
    page.locator("#misbehaviour-panel").screenshot(path=str(artifacts / "misbehaviour_panel.png"))
    assert not errors, errors
