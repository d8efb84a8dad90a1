"""API fixtures: a scripted live platform, both stores, and a client over the app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from v2xcloud.api import ApiSettings, create_app, record_history
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.store import HistoryStore, HistoryWriter

T0 = 1_700_000_000_000
ADMIN = "admin-token-0123456789abcdef"
VIEWER = "viewer-token-0123456789abcdef"


@pytest.fixture
def live() -> ScriptedLive:
    return ScriptedLive(start_ms=T0, hazard_at_s=3.0)


@pytest.fixture
def played(live: ScriptedLive, store: HistoryStore) -> ScriptedLive:
    """Six scripted seconds at 10 Hz recorded into ``store`` (every state kept)."""
    with HistoryWriter(store, participant_interval_ms=0) as writer:
        stop_recording = record_history(live, writer)
        for t_ms in range(0, 6000, 100):
            live.step(T0 + t_ms)
        stop_recording()
        writer.flush()
    return live


def make_client(live: ScriptedLive, store: HistoryStore, **settings: object) -> TestClient:
    return TestClient(create_app(live=live, store=store, settings=ApiSettings(**settings)))  # type: ignore[arg-type]
