"""The district overview and the warning heat map over a scripted road recorded in both
stores: the right intersection with its counts, RSUs by tenant, alarms placed, heat cells."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api._scripted_geometry import NODE
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.model import AlarmSeverity, AlarmSource, ParticipantKind
from v2xcloud.store import HistoryStore

from .conftest import T0


class Rsus:
    """Two RSUs of two tenants at the scripted intersection."""

    def devices(self, now_ms: int) -> list[dict[str, Any]]:
        return [
            {"device_id": "R-N", "kind": "rsu", "tenant": "north", "state": "enabled",
             "lat_deg": NODE.lat_deg, "lon_deg": NODE.lon_deg, "range_m": 300.0,
             "health": {"online": True, "last_seen_ms": now_ms, "dead_letters": {"malformed": 3}}},
            {"device_id": "R-S", "kind": "rsu", "tenant": "south", "state": "enabled",
             "lat_deg": NODE.lat_deg, "lon_deg": NODE.lon_deg, "range_m": 300.0, "health": {}},
            {"device_id": "car-1", "kind": "obu", "tenant": "north", "health": {}},
        ]  # fmt: skip

    def tenant_of(self, device_id: str) -> str | None:
        return {"R-N": "north", "R-S": "south"}.get(device_id)


def test_overview_counts_at_the_intersection(played: ScriptedLive, store: HistoryStore) -> None:
    app = create_app(
        live=played,
        store=store,
        settings=ApiSettings(alarm_poll_s=3600.0),
        devices=Rsus(),  # type: ignore[arg-type]
    )
    app.state.alarms.raise_alarm(
        source=AlarmSource.ROAD_EVENT, subject="stalled", severity=AlarmSeverity.MAJOR,
        summary="stalled vehicle", at_ms=T0 + 5000, lat_deg=NODE.lat_deg, lon_deg=NODE.lon_deg,
    )  # fmt: skip
    app.state.alarms.raise_alarm(
        source=AlarmSource.DEVICE, subject="R-N", kind="offline", severity=AlarmSeverity.MINOR,
        summary="R-N offline", at_ms=T0 + 5000, tenant="north",
    )  # fmt: skip
    with TestClient(app) as client:
        doc = client.get("/api/overview").json()
    [place] = doc["intersections"]
    near = [
        p
        for p in played.participants()
        if p.kind is ParticipantKind.VEHICLE
        and abs(p.lat_deg - NODE.lat_deg) < 0.0015
        and abs(p.lon_deg - NODE.lon_deg) < 0.0015
    ]
    assert place["name"] == "Scripted Rd × Test Ave" and place["has_signal"]
    assert place["vehicles"] == len(near) > 0 and place["vrus"] == 1
    assert place["warned_last_min"] > 0  # the stalled-vehicle warnings of the last minute
    assert (place["open_alarms"], place["worst_alarm"]) == (1, "major")  # the unplaced one: no
    assert [r["device_id"] for r in doc["rsus"]] == ["R-N", "R-S"]  # the OBU is no RSU
    assert doc["rsus"][0]["dead_letters"] == 3 and doc["rsus"][0]["open_alarms"] == 1
    assert doc["totals"]["alarms_by_severity"] == {"major": 1, "minor": 1}
    assert doc["totals"]["warned"] == place["warned_last_min"]


def test_heatmap_counts_every_warning_once_per_cell(
    played: ScriptedLive, store: HistoryStore
) -> None:
    app = create_app(live=played, store=store, settings=ApiSettings(alarm_poll_s=3600.0))
    stored = store.advisories(start_ms=T0, end_ms=T0 + 10_000, limit=100_000)
    with TestClient(app) as client:
        doc = client.get(f"/api/warnings/heatmap?since={T0}&cell_m=20").json()
        coarse = client.get(f"/api/warnings/heatmap?since={T0}&cell_m=5000").json()
        assert client.get("/api/warnings/heatmap?cell_m=1").status_code == 422
        assert client.get(f"/api/warnings/heatmap?since={T0 + 99_000}").status_code == 422
    assert doc["cell_m"] == 20 and doc["start_ms"] == T0
    assert sum(c["advisories"] for c in doc["cells"]) == len(stored) > 0
    assert all(0 < c["warned"] <= c["advisories"] for c in doc["cells"])
    [one] = coarse["cells"]  # the whole scripted road in one 5 km cell
    assert one["warned"] == len({(a.app, a.ego_id) for a in stored})
    assert abs(one["lat_deg"] - NODE.lat_deg) < 0.05 and abs(one["lon_deg"] - NODE.lon_deg) < 0.05
