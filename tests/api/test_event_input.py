"""``POST /api/events`` refuses what the model cannot hold: 422 (or 409 for an id clash, 413
for an oversized body) with a message naming the problem, never 500, never stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from v2xcloud.api.testing import ScriptedLive
from v2xcloud.store import HistoryStore

from .conftest import ADMIN, make_client

AUTH = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
GOOD = {
    "event_id": 9,
    "event_type": 100,
    "source": "police",
    "lat_deg": 31.23,
    "lon_deg": 121.47,
    "radius_m": 50.0,
    "description": "lane closed",
    "start_ms": 1_700_000_000_000,
    "end_ms": 1_700_000_600_000,
}


@pytest.fixture
def client(played: ScriptedLive, store: HistoryStore) -> Iterator[TestClient]:
    with make_client(played, store, admin_token=ADMIN) as c:
        yield c


def _post(client: TestClient, body: Any) -> Any:
    return client.post(
        "/api/events", content=body if isinstance(body, str) else json.dumps(body), headers=AUTH
    )


def _stored_police(client: TestClient) -> list[dict[str, Any]]:
    return [e for e in client.get("/api/history/events").json() if e["source"] == "police"]


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (
            '{"event_id": 100000000000000000000000, "event_type": 1, "source": "police"}',
            "$.event_id",
        ),
        ('{"event_id": 1e23, "event_type": 1, "source": "police"}', "$.event_id"),
        ('{"event_id": -1, "event_type": 1, "source": "police"}', "$.event_id"),
        ('{"event_id": 1, "event_type": 70000, "source": "police"}', "$.event_type"),
        (
            '{"event_id": 1, "event_type": 1, "source": "police", "lat_deg": 9999, "lon_deg": 1}',
            "$.lat_deg",
        ),
        (
            '{"event_id": 1, "event_type": 1, "source": "police", "lat_deg": NaN, "lon_deg": 1}',
            "$.lat_deg",
        ),
        (
            '{"event_id": 1, "event_type": 1, "source": "police", "lat_deg": 1, "lon_deg": Infinity}',
            "$.lon_deg",
        ),
        ('{"event_id": 1, "event_type": 1, "source": "police", "radius_m": -5}', "$.radius_m"),
        ('{"event_id": 1, "event_type": 1, "source": "police", "confidence": 1.5}', "$.confidence"),
        ('{"event_id": 1, "event_type": 1, "source": "police", "priority": 9}', "$.priority"),
        ('{"event_id": 1, "event_type": 1, "source": ""}', "$.source"),
        ('{"event_id": 1, "event_type": 1, "source": "police", "start_ms": -3}', "$.start_ms"),
        (
            '{"event_id": 1, "event_type": 1, "source": "police", "description": "'
            + "x" * 513
            + '"}',
            "$.description",
        ),
        (
            '{"event_id": 1, "event_type": 1, "source": "police", "reference_paths": [{"points": [[1, 2]], "radius_m": 3}]}',
            "$.reference_paths[0].points",
        ),
        (
            '{"event_id": 1, "event_type": 1, "source": "police", "lat_deg": 31.2}',
            "lat_deg and lon_deg",
        ),
        (
            '{"event_id": 1, "event_type": 1, "source": "police", "start_ms": 2000, "end_ms": 1000}',
            "end_ms 1000 is before start_ms 2000",
        ),
        ('{"event_id": 1, "event_type": 1}', "source"),
        ("[1, 2]", "dict"),
        ("{not json", "JSON"),
    ],
    ids=[
        "id-1e23-int",
        "id-1e23-float",
        "id-negative",
        "type-range",
        "lat-9999",
        "lat-nan",
        "lon-inf",
        "radius-negative",
        "confidence",
        "priority",
        "source-empty",
        "start-negative",
        "description-long",
        "path-one-point",
        "lat-without-lon",
        "end-before-start",
        "source-missing",
        "not-an-object",
        "not-json",
    ],
)
def test_bad_events_are_422_with_a_clear_message_and_not_stored(
    client: TestClient, raw: str, says: str
) -> None:
    before = _stored_police(client)
    response = _post(client, raw)
    assert response.status_code == 422, response.text
    assert says in json.dumps(response.json()["detail"])
    assert _stored_police(client) == before


def test_a_good_event_is_stored_once_and_its_id_then_clashes(client: TestClient) -> None:
    assert _post(client, GOOD).status_code == 201
    assert [e["event_id"] for e in _stored_police(client)] == [9]
    again = _post(client, {**GOOD, "description": "changed my mind"})
    assert again.status_code == 409 and "event_id 9" in again.json()["detail"]
    assert _post(client, {**GOOD, "source": "government"}).status_code == 201  # other source


def test_an_id_clashing_with_a_detected_live_event_is_409(client: TestClient) -> None:
    (detected,) = client.get("/api/events").json()  # the scripted hazard, in force
    body = {**GOOD, "event_id": detected["event_id"], "source": "police"}
    response = _post(client, body)
    assert response.status_code == 409, response.text
    assert f"event_id {detected['event_id']}" in response.json()["detail"]
    assert _stored_police(client) == []


def test_a_10_mb_body_is_refused_413_before_it_is_read(client: TestClient) -> None:
    body = {**GOOD, "description": "x" * 10_000_000}
    response = _post(client, body)
    assert response.status_code == 413 and "limit is 65536" in response.json()["detail"]
    assert _stored_police(client) == []


def test_a_chunked_body_over_the_limit_is_refused_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"event_id": 1, "event_type": 1, "source": "police", "description": "'
        for _ in range(200):
            yield b"x" * 1000
        yield b'"}'

    response = client.post("/api/events", content=chunks(), headers=AUTH)
    assert response.status_code == 413
    assert _stored_police(client) == []


def test_control_characters_in_text_are_422_not_a_store_error(client: TestClient) -> None:
    response = _post(client, {**GOOD, "description": "lane\u0000closed"})
    assert response.status_code == 422, response.text
    assert "$.description" in response.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/history/advisories?start_ms=-99999999999999999999999",
        "/api/history/events?end_ms=99999999999999999999999",
        "/api/participants/veh-01/trajectory?start_ms=-1",
        "/api/dead-letters?since=-99999999999999999999999",
        "/api/dead-letters/counts?end_ms=253402300800000",
    ],
)
def test_time_parameters_outside_the_models_range_are_422(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "query"
