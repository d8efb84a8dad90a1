"""The alarm workflow through the API: road events, device faults and misbehaviour reports in
one list; an operator acknowledges and closes (who and when kept, audited); viewers only read;
an ended road event leaves the live list for the history; tenants see their own."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from fastapi.testclient import TestClient

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.access import Role
from v2xcloud.api.live import TickDelta
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.model import (
    CLEARED_BY,
    MisbehaviourCheck,
    MisbehaviourReport,
    RoadEvent,
)
from v2xcloud.store import DuckDbStore
from v2xcloud.store.audit import AuditTrail

from .conftest import ADMIN, T0

STALLED = RoadEvent(
    event_id=7, event_type=901, source="detection", kind="stopped_vehicle", priority=5,
    lat_deg=28.19, lon_deg=112.97, start_ms=T0, description="vehicle stopped in lane 2",
)  # fmt: skip


class EventLive(ScriptedLive):
    """The scripted road with road events set by the test (in force while listed)."""

    events: list[RoadEvent]

    def road_events(self) -> list[RoadEvent]:
        return list(self.events)


class Directory:
    """Two devices, one per tenant, with health set by the test."""

    def __init__(self) -> None:
        self.health: dict[str, dict[str, Any]] = {
            "N-RSU-1": {"online": True, "last_seen_ms": T0, "dead_letters": {}},
            "S-RSU-1": {"online": True, "last_seen_ms": T0, "dead_letters": {}},
        }

    def devices(self, now_ms: int) -> list[dict[str, Any]]:
        return [
            {
                "device_id": d,
                "kind": "rsu",
                "tenant": "north" if d.startswith("N") else "south",
                "state": "enabled",
                "lat_deg": 28.2,
                "lon_deg": 112.9,
                "health": h,
            }
            for d, h in self.health.items()
        ]

    def tenant_of(self, device_id: str) -> str | None:
        return {"N-RSU-1": "north", "S-RSU-1": "south"}.get(device_id)


class World:
    def __init__(self) -> None:
        self.store = DuckDbStore(data_dir=None)
        self.audit = AuditTrail(self.store)
        self.live = EventLive(start_ms=T0)
        self.live.events = []
        self.live.step(T0)
        self.directory = Directory()
        self.app = create_app(
            live=self.live,
            store=self.store,
            settings=ApiSettings(admin_token=ADMIN, alarm_poll_s=3600.0),  # polled by the test
            devices=self.directory,  # type: ignore[arg-type]
            audit=self.audit,
        )
        book = self.app.state.tokens
        self.headers = {}
        for who, role, tenant in (
            ("operator", Role.OPERATOR, "north"),
            ("viewer", Role.VIEWER, "north"),
            ("south_op", Role.OPERATOR, "south"),
        ):
            token, _ = book.create(role=role, tenant=tenant, label=who)
            self.headers[who] = {"Authorization": f"Bearer {token}"}
        self.headers["admin"] = {"Authorization": f"Bearer {ADMIN}"}

    def poll(self, now_ms: int) -> None:
        self.live.step(now_ms)
        self.app.state.alarm_feed.poll(now_ms)


@pytest.fixture
def world() -> World:
    return World()


def _live(client: TestClient, who: str, world: World, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/alarms{query}", headers=world.headers[who])
    assert response.status_code == 200, response.text
    alarms: list[dict[str, Any]] = response.json()["alarms"]
    return alarms


def test_a_road_event_is_an_alarm_an_operator_acknowledges_and_it_leaves_when_it_ends(
    world: World,
) -> None:
    with TestClient(world.app) as client:
        world.live.events = [STALLED]
        world.poll(T0 + 1000)
        [alarm] = _live(client, "viewer", world)
        assert alarm["source"] == "road_event" and alarm["severity"] == "major"
        assert alarm["state"] == "open" and "vehicle stopped in lane 2" in alarm["summary"]
        assert (alarm["lat_deg"], alarm["lon_deg"]) == (28.19, 112.97)
        alarm_id = alarm["alarm_id"]

        refused = client.post(f"/api/alarms/{alarm_id}/ack", headers=world.headers["viewer"])
        assert refused.status_code == 403
        acked = client.post(f"/api/alarms/{alarm_id}/ack", headers=world.headers["operator"])
        assert acked.status_code == 200, acked.text
        body = acked.json()
        assert body["state"] == "acknowledged" and body["acked_ms"] == T0 + 1000
        assert body["acked_by"].startswith("token:") and body["acked_by"].endswith("@north")
        again = client.post(f"/api/alarms/{alarm_id}/ack", headers=world.headers["operator"])
        assert again.status_code == 409 and "already acknowledged by token:" in again.text
        [listed] = _live(client, "viewer", world, "?state=acknowledged")
        assert listed["acked_by"] == body["acked_by"]

        world.poll(T0 + 2000)  # still in force: still the one acknowledged alarm
        assert [a["occurrences"] for a in _live(client, "viewer", world)] == [1]
        world.live.events = []  # the event ended
        world.poll(T0 + 3000)
        assert _live(client, "viewer", world) == []
        history = client.get(f"/api/alarms/history?since={T0}", headers=world.headers["viewer"])
        [stored] = history.json()["alarms"]
        assert stored["alarm_id"] == alarm_id and stored["state"] == "closed"
        assert stored["closed_by"] == CLEARED_BY and stored["cleared_ms"] == T0 + 3000
        assert stored["acked_by"] == body["acked_by"]  # who acknowledged it stays on record
        late = client.post(f"/api/alarms/{alarm_id}/close", headers=world.headers["operator"])
        assert late.status_code == 409 and CLEARED_BY in late.text
    world.audit.flush()
    [row] = world.audit.entries(action="alarm.acknowledged")
    assert row.actor == body["acked_by"].rsplit("@", 1)[0]
    assert row.target == f"/api/alarms/{alarm_id}/ack" and row.tenant == "north"


def test_device_faults_are_alarms_of_the_device_tenant_cleared_on_recovery(world: World) -> None:
    with TestClient(world.app) as client:
        world.poll(T0 + 1000)
        world.directory.health["N-RSU-1"] = {
            "online": False,
            "last_seen_ms": T0,
            "dead_letters": {},
        }
        world.directory.health["S-RSU-1"] = {
            "online": True,
            "last_seen_ms": T0 + 1000,
            "dead_letters": {"malformed": 25},
            "downlink": {"link_abnormal": True},
        }
        world.poll(T0 + 20_000)
        north = _live(client, "operator", world)
        assert [(a["subject"], a["kind"], a["tenant"]) for a in north] == [
            ("N-RSU-1", "offline", "north")
        ]
        assert "offline (last heard 20 s ago)" in north[0]["summary"]
        south = {a["kind"] for a in _live(client, "south_op", world)}
        assert south == {"dead_letter_burst", "downlink_abnormal"}
        everyone = _live(client, "admin", world, "?source=device&severity=minor")
        assert {a["subject"] for a in everyone} == {"S-RSU-1"}
        south_id = _live(client, "south_op", world)[0]["alarm_id"]
        hidden = client.post(f"/api/alarms/{south_id}/close", headers=world.headers["operator"])
        assert hidden.status_code == 404  # another tenant's alarm does not exist for north

        world.directory.health["N-RSU-1"] = {
            "online": True, "last_seen_ms": T0 + 21_000, "dead_letters": {}
        }  # fmt: skip
        world.poll(T0 + 21_000)
        assert _live(client, "operator", world) == []


def test_misbehaviour_reports_raise_one_alarm_per_sender_an_operator_closes(world: World) -> None:
    report = MisbehaviourReport(
        sender_id="veh-9",
        evidence=(),
        flagged_at_ms=T0 + 500,
        reason=MisbehaviourCheck.SPEED_PLAUSIBILITY,
        source="N-RSU-1",
    )
    with TestClient(world.app) as client:
        feed = world.app.state.alarm_feed
        feed.on_tick(TickDelta(now_ms=T0 + 500, misbehaviour=(report, report)))
        world.poll(T0 + 1000)
        [alarm] = _live(client, "viewer", world, "?source=misbehaviour")
        assert alarm["occurrences"] == 2 and alarm["tenant"] == "north"
        assert alarm["summary"] == "veh-9 flagged: speed_plausibility (heard by N-RSU-1)"
        closed = client.post(
            f"/api/alarms/{alarm['alarm_id']}/close", headers=world.headers["operator"]
        )
        assert closed.status_code == 200
        assert closed.json()["closed_by"].endswith("@north")
        assert _live(client, "viewer", world) == []


def test_filters_are_checked(world: World) -> None:
    with TestClient(world.app) as client:
        for query in ("?severity=loud", "?state=closed", "?source=weather", "?since=-1"):
            response = client.get(f"/api/alarms{query}", headers=world.headers["viewer"])
            assert response.status_code == 422, query
        assert (
            "history"
            in client.get("/api/alarms?state=closed", headers=world.headers["viewer"]).text
        )
        unknown = client.post("/api/alarms/nope/ack", headers=world.headers["operator"])
        assert unknown.status_code == 404


def test_alarm_routes_are_in_the_openapi_page(world: World) -> None:
    with TestClient(world.app) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/alarms", "/api/alarms/history", "/api/alarms/{alarm_id}/ack"} <= set(paths)
    assert msgspec.json.encode(paths["/api/alarms"]).count(b"critical") >= 1
