"""Browser fixtures: the real server with a scripted platform, and headless Debian Chromium."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from v2xcloud.api import ApiSettings, create_app, record_history
from v2xcloud.api.server import ServerThread
from v2xcloud.api.settings import default_web_dir
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.store import DuckDbStore, HistoryWriter

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"


class Platform:
    """The scripted platform, its history and the server, as the browser test sees them."""

    def __init__(self, live: ScriptedLive, writer: HistoryWriter, server: ServerThread) -> None:
        self.live = live
        self.writer = writer
        self.server = server


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    web_dir = default_web_dir()
    if not (web_dir / "index.html").is_file():
        pytest.skip(f"dashboard not built at {web_dir}: run `make web` (make test does)")
    live = ScriptedLive(start_ms=int(time.time() * 1000), hazard_at_s=2.0)
    store = DuckDbStore(data_dir=tmp_path_factory.mktemp("history"))
    writer = HistoryWriter(store, participant_interval_ms=200, flush_interval_s=0.2)
    stop_recording = record_history(live, writer)
    # the district's zone is UTC+8 (the console shows times in it, whatever the browser's)
    settings = ApiSettings(web_dir=web_dir, time_zone="Asia/Shanghai")
    app = create_app(live=live, store=store, settings=settings)
    with ServerThread(app) as server:
        live.start(hz=10.0)
        try:
            yield Platform(live, writer, server)
        finally:
            live.stop()
            stop_recording()
            writer.close()
            store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} absent (make test installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
