"""The same query contract against DuckDB and PostgreSQL/PostGIS."""

from __future__ import annotations

import pytest

from v2xcloud.errors import StoreError
from v2xcloud.model import (
    Advisory,
    AdvisoryLevel,
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
    RoadEvent,
)
from v2xcloud.store import BBox, DeadLetter, EvReportRecord, HistoryStore

T0 = 1_700_000_000_000


def _state(pid: str, t_ms: int, lat: float, lon: float = 116.0) -> ParticipantState:
    return ParticipantState(
        id=pid,
        kind=ParticipantKind.VEHICLE,
        source=ParticipantSource.BSM,
        timestamp_ms=t_ms,
        lat_deg=lat,
        lon_deg=lon,
        speed_mps=12.5,
        heading_deg=90.0,
    )


def _advisory(app: str, t_ms: int, lat: float) -> Advisory:
    return Advisory(
        app=app,
        level=AdvisoryLevel.WARNING,
        ego_id="v1",
        issued_ms=t_ms,
        expires_ms=t_ms + 1000,
        lat_deg=lat,
        lon_deg=116.0,
        ttc_s=2.1,
        values={"gap_m": 14.0},
    )


def test_latest_state_per_participant_within_window(store: HistoryStore) -> None:
    states = [_state(p, T0 + i * 100, 39.9 + i * 1e-5) for i in range(30) for p in ("a", "b")]
    states.append(_state("old", T0 - 120_000, 39.9))
    assert store.write_participants(states) == 61
    latest = store.latest_participants(at_ms=T0 + 10_000, window_ms=60_000)
    assert {s.id: s.timestamp_ms for s in latest} == {"a": T0 + 2900, "b": T0 + 2900}
    assert latest[0].kind is ParticipantKind.VEHICLE
    assert latest[0].speed_mps == pytest.approx(12.5)


def test_latest_state_bbox_filter_uses_the_latest_position(store: HistoryStore) -> None:
    store.write_participants([_state("in", T0, 39.9), _state("out", T0, 40.5)])
    store.write_participants([_state("left", T0 - 500, 39.9), _state("left", T0, 40.5)])
    box = BBox(min_lon_deg=115.9, min_lat_deg=39.8, max_lon_deg=116.1, max_lat_deg=40.0)
    assert [s.id for s in store.latest_participants(at_ms=T0, bbox=box)] == ["in"]


def test_trajectory_is_time_bounded_and_ordered(store: HistoryStore) -> None:
    store.write_participants([_state("a", T0 + i * 1000, 39.9 + i * 1e-4) for i in range(20)][::-1])
    store.write_participants([_state("b", T0 + 5000, 39.0)])
    track = store.trajectory("a", start_ms=T0 + 5000, end_ms=T0 + 9000)
    assert [p.timestamp_ms for p in track] == [T0 + i * 1000 for i in range(5, 10)]
    assert track[0].lat_deg == pytest.approx(39.9005)
    assert track[0].heading_deg == pytest.approx(90.0)


def test_advisories_by_time_app_and_bbox_round_trip(store: HistoryStore) -> None:
    store.write_advisories(
        [
            _advisory("FCW", T0, 39.9),
            _advisory("GLOSA", T0 + 10, 39.9),
            _advisory("FCW", T0 + 20, 41.0),
            _advisory("FCW", T0 + 99_000, 39.9),
        ]
    )
    box = BBox(min_lon_deg=115.0, min_lat_deg=39.0, max_lon_deg=117.0, max_lat_deg=40.0)
    found = store.advisories(start_ms=T0, end_ms=T0 + 60_000, app="FCW", bbox=box)
    assert found == [_advisory("FCW", T0, 39.9)]
    newest_first = store.advisories(start_ms=T0, end_ms=T0 + 100_000)
    assert [a.issued_ms for a in newest_first] == [T0 + 99_000, T0 + 20, T0 + 10, T0]
    assert len(store.advisories(start_ms=T0, end_ms=T0 + 100_000, limit=2)) == 2


def test_road_events_round_trip(store: HistoryStore) -> None:
    event = RoadEvent(
        event_id=7,
        event_type=401,
        source="detection",
        lat_deg=39.9,
        lon_deg=116.0,
        radius_m=30.0,
        kind="congestion",
        description="queue",
    )
    store.write_road_events([event], recorded_ms=T0)
    assert store.road_events(start_ms=T0 - 1, end_ms=T0 + 1) == [event]
    far = BBox(min_lon_deg=0.0, min_lat_deg=0.0, max_lon_deg=1.0, max_lat_deg=1.0)
    assert store.road_events(start_ms=T0 - 1, end_ms=T0 + 1, bbox=far) == []


def test_dead_letter_counts_by_reason(store: HistoryStore) -> None:
    letters = [
        DeadLetter(received_ms=T0 + i, reason=r, source="udp:rsu-1", raw=b"\x00\xff", detail="bad")
        for i, r in enumerate(["crc", "crc", "schema"])
    ]
    store.write_dead_letters(letters)
    assert store.dead_letter_counts(start_ms=T0, end_ms=T0 + 10) == {"crc": 2, "schema": 1}
    assert store.dead_letter_counts(start_ms=T0 + 1, end_ms=T0 + 1) == {"crc": 1}


def test_ev_reports_round_trip(store: HistoryStore) -> None:
    report = EvReportRecord(
        received_ms=T0, vin="LVSHFFAC5JF123456", payload={"soc_pct": 81.0, "alarm_level": 0}
    )
    store.write_ev_reports([report])
    assert store.ev_reports("LVSHFFAC5JF123456", start_ms=T0, end_ms=T0) == [report]


def test_retention_deletes_only_old_rows(store: HistoryStore) -> None:
    day_ms = 86_400_000
    store.write_participants([_state("a", T0, 39.9), _state("a", T0 + 3 * day_ms, 39.9)])
    store.write_advisories([_advisory("FCW", T0, 39.9)])
    deleted = store.apply_retention(now_ms=T0 + 3 * day_ms)
    assert deleted["participant_states"] == 1
    assert deleted["advisories"] == 0  # kept 30 days by default
    assert store.row_count("participant_states") == 1


def test_closed_store_and_unknown_table_raise(store: HistoryStore) -> None:
    with pytest.raises(StoreError, match="unknown table"):
        store.row_count("nope")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.row_count("advisories")
