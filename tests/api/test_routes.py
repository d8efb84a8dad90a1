"""REST endpoints over the scripted platform, against both stores."""

from __future__ import annotations

from v2xcloud.api.testing import ScriptedLive
from v2xcloud.store import HistoryStore

from .conftest import T0, make_client


def test_live_participants_with_bbox(played: ScriptedLive, store: HistoryStore) -> None:
    with make_client(played, store) as client:
        everyone = client.get("/api/participants").json()
        assert len(everyone) == 10  # 8 vehicles, 1 pedestrian, the stalled vehicle
        stalled = next(p for p in everyone if p["id"] == "veh-stalled")
        box = f"{stalled['lon_deg'] - 1e-4},{stalled['lat_deg'] - 1e-4},{stalled['lon_deg'] + 1e-4},{stalled['lat_deg'] + 1e-4}"
        near = client.get("/api/participants", params={"bbox": box}).json()
        assert "veh-stalled" in {p["id"] for p in near}
        assert len(near) < len(everyone)


def test_bad_bbox_names_the_problem(played: ScriptedLive, store: HistoryStore) -> None:
    with make_client(played, store) as client:
        response = client.get("/api/participants", params={"bbox": "1,2,x,4"})
        assert response.status_code == 422
        assert "expected 4 numbers" in response.json()["detail"]
        response = client.get("/api/participants", params={"bbox": "5,2,1,4"})
        assert "minimum exceeds maximum" in response.json()["detail"]


def test_intersections_have_lanes_and_signal_state(
    played: ScriptedLive, store: HistoryStore
) -> None:
    with make_client(played, store) as client:
        (view,) = client.get("/api/intersections").json()
        lanes = [lane for link in view["node"]["in_links"] for lane in link["lanes"]]
        assert {lane["lane_type"] for lane in lanes} == {"vehicle", "crosswalk"}
        assert all(len(lane["points"]) >= 2 for lane in lanes)
        lights = {p["phase_id"]: p["states"][0]["light"] for p in view["signal"]["phases"]}
        assert lights == {1: "protected-green", 2: "red"}  # 5.9 s into the plan


def test_live_and_historic_advisories(played: ScriptedLive, store: HistoryStore) -> None:
    with make_client(played, store) as client:
        live = client.get("/api/advisories", params={"app": "AVW"}).json()
        assert live and all(a["other_id"] == "veh-stalled" for a in live)
        history = client.get("/api/history/advisories", params={"app": "AVW"}).json()
        assert len(history) >= len(live)
        assert history[0]["issued_ms"] >= history[-1]["issued_ms"]
        far = client.get("/api/history/advisories", params={"bbox": "0,0,1,1"}).json()
        assert far == []
        assert client.get("/api/history/advisories", params={"app": "FCW"}).json() == []


def test_events_live_and_history(played: ScriptedLive, store: HistoryStore) -> None:
    with make_client(played, store) as client:
        (event,) = client.get("/api/events").json()
        assert event["kind"] == "stalled_vehicle"
        assert client.get("/api/history/events").json() == [event]


def test_trajectory_over_a_time_range(played: ScriptedLive, store: HistoryStore) -> None:
    with make_client(played, store) as client:
        track = client.get("/api/participants/veh-01/trajectory").json()
        assert len(track) == 60
        part = client.get(
            "/api/participants/veh-01/trajectory",
            params={"start_ms": T0 + 1000, "end_ms": T0 + 1900},
        ).json()
        assert [p[0] - T0 for p in part] == list(range(1000, 2000, 100))
        assert part[0][1:3] != part[-1][1:3]  # it moved
        bad = client.get(
            "/api/participants/veh-01/trajectory", params={"start_ms": T0 + 5, "end_ms": T0}
        )
        assert bad.status_code == 422


def test_stats(played: ScriptedLive, store: HistoryStore) -> None:
    with make_client(played, store) as client:
        stats = client.get("/api/stats").json()
        assert stats["platform"]["participants"] == 10
        assert stats["platform"]["messages_in_per_s"] == 100.0
        assert stats["stream"] == {
            "clients": 0,
            "frames_published": 0,
            "frames_dropped": 0,
            "gone_mid_send": 0,
            "refused": 0,
            "cut_slow": 0,
            "cut_flood": 0,
        }
        assert stats["history"] is None  # this app was not given the writer


def test_openapi_is_published(played: ScriptedLive, store: HistoryStore) -> None:
    with make_client(played, store) as client:
        assert client.get("/docs").status_code == 200
        paths = client.get("/openapi.json").json()["paths"]
        assert "/api/participants/{participant_id}/trajectory" in paths
        assert "bbox" in {p["name"] for p in paths["/api/history/advisories"]["get"]["parameters"]}
