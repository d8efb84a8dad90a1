"""Tokens and roles: writes need the admin token, reads the viewer token when set; CORS closed."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect

from v2xcloud.api import ApiSettings
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.errors import ConfigError
from v2xcloud.store import HistoryStore

from .conftest import ADMIN, T0, VIEWER, make_client

EVENT = {"event_id": 9, "event_type": 100, "source": "police", "lat_deg": 31.23, "lon_deg": 121.47}


def test_writes_disabled_without_admin_token(played: ScriptedLive, store: HistoryStore) -> None:
    with make_client(played, store) as client:
        response = client.post("/api/events", json=EVENT)
        assert response.status_code == 403
        assert "V2XCLOUD_ADMIN_TOKEN" in response.json()["detail"]


def test_admin_token_required_and_accepted(played: ScriptedLive, store: HistoryStore) -> None:
    with make_client(played, store, admin_token=ADMIN) as client:
        assert client.post("/api/events", json=EVENT).status_code == 401
        wrong = {"Authorization": "Bearer " + "x" * 30}
        assert client.post("/api/events", json=EVENT, headers=wrong).status_code == 401
        auth = {"Authorization": f"Bearer {ADMIN}"}
        assert client.post("/api/events", json=EVENT, headers=auth).status_code == 201
        stored = client.get("/api/history/events").json()
        assert any(e["source"] == "police" for e in stored)
        bad = client.post("/api/events", json={"event_id": "x"}, headers=auth)
        assert bad.status_code == 422 and "road event" in bad.json()["detail"]
        retention = client.post("/api/admin/retention", headers=auth)
        assert retention.json()["deleted"]["participant_states"] == 0


def test_viewer_role_for_reads(played: ScriptedLive, store: HistoryStore) -> None:
    with make_client(played, store, admin_token=ADMIN, viewer_token=VIEWER) as client:
        assert client.get("/api/participants").status_code == 401
        viewer = {"Authorization": f"Bearer {VIEWER}"}
        assert client.get("/api/participants", headers=viewer).status_code == 200
        assert (
            client.get(
                "/api/participants", headers={"Authorization": f"Bearer {ADMIN}"}
            ).status_code
            == 200
        )
        # a known credential without the role: 403 (401 is for no or a bad credential)
        assert client.post("/api/events", json=EVENT, headers=viewer).status_code == 403
        assert client.get("/api/health").status_code == 200
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect("/api/stream") as ws,
        ):
            ws.receive_bytes()
        assert refused.value.code == 1008
        with client.websocket_connect(f"/api/stream?token={VIEWER}") as ws:
            played.step(T0 + 7000)
            assert b'"type":"tick"' in ws.receive_bytes()


def test_cors_closed_by_default_and_opt_in(played: ScriptedLive, store: HistoryStore) -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    with make_client(played, store) as client:
        response = client.get("/api/participants", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in response.headers
        assert client.options("/api/participants", headers=preflight).status_code == 405
    with make_client(played, store, cors_origins=("https://ops.example",)) as client:
        response = client.get("/api/participants", headers={"Origin": "https://ops.example"})
        assert response.headers["access-control-allow-origin"] == "https://ops.example"


def test_no_default_or_weak_tokens() -> None:
    settings = ApiSettings.from_env({})
    assert settings.admin_token is None and settings.viewer_token is None
    assert settings.cors_origins == ()
    with pytest.raises(ConfigError, match="too short"):
        ApiSettings(admin_token="secret")
    env = {"V2XCLOUD_ADMIN_TOKEN": ADMIN, "V2XCLOUD_CORS_ORIGINS": "https://a, https://b"}
    parsed = ApiSettings.from_env(env)
    assert parsed.admin_token == ADMIN and parsed.cors_origins == ("https://a", "https://b")
