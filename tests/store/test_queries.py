"""The same query contract against DuckDB and PostgreSQL/PostGIS."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from v2xcloud.errors import StoreError
from v2xcloud.model import (
    Advisory,
    AdvisoryLevel,
    DeadLetter,
    DropReason,
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
    RoadEvent,
)
from v2xcloud.store import BBox, DuckDbStore, EvReportRecord, HistoryStore

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


def _stored(store: HistoryStore, raw_id: str, t_ms: int = T0) -> str:
    """The id ``raw_id`` is stored under (a daily keyed hash: privacy by default)."""
    stored: str = store.pseudonyms.pseudonym(raw_id, t_ms)  # type: ignore[attr-defined]
    assert stored != raw_id and len(stored) == 32
    return stored


def test_latest_state_per_participant_within_window(store: HistoryStore) -> None:
    states = [_state(p, T0 + i * 100, 39.9 + i * 1e-5) for i in range(30) for p in ("a", "b")]
    states.append(_state("old", T0 - 120_000, 39.9))
    assert store.write_participants(states) == 61
    latest = store.latest_participants(at_ms=T0 + 10_000, window_ms=60_000)
    assert {s.id: s.timestamp_ms for s in latest} == {
        _stored(store, "a"): T0 + 2900,
        _stored(store, "b"): T0 + 2900,
    }
    assert latest[0].kind is ParticipantKind.VEHICLE
    assert latest[0].speed_mps == pytest.approx(12.5)


def test_latest_state_bbox_filter_uses_the_latest_position(store: HistoryStore) -> None:
    store.write_participants([_state("in", T0, 39.9), _state("out", T0, 40.5)])
    store.write_participants([_state("left", T0 - 500, 39.9), _state("left", T0, 40.5)])
    box = BBox(min_lon_deg=115.9, min_lat_deg=39.8, max_lon_deg=116.1, max_lat_deg=40.0)
    assert [s.id for s in store.latest_participants(at_ms=T0, bbox=box)] == [_stored(store, "in")]


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
    expected = msgspec.structs.replace(_advisory("FCW", T0, 39.9), ego_id=_stored(store, "v1"))
    assert found == [expected]
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


def test_dead_letters_round_trip_with_raw_bytes_where_and_filters(store: HistoryStore) -> None:
    bad, bcc = DropReason.MALFORMED, DropReason.BCC_MISMATCH
    letters = [
        DeadLetter(
            received_at_ms=T0 + i,
            reason=r,
            source=src,
            raw=bytes(range(256)) + bytes([i]),  # every byte value survives BLOB/bytea
            detail=f"bad {i}",
            where=None if i == 2 else f"byte {i}",
        )
        for i, (r, src) in enumerate([(bad, "udp:rsu-1"), (bad, "mqtt:obu-2"), (bcc, "udp:rsu-1")])
    ]
    store.write_dead_letters(letters)
    assert store.dead_letters(start_ms=T0, end_ms=T0 + 10) == letters[::-1]  # newest first
    assert store.dead_letters(start_ms=T0, end_ms=T0 + 10, reason="malformed") == letters[1::-1]
    assert store.dead_letters(start_ms=T0, end_ms=T0 + 10, source="udp:rsu-1", limit=1) == [
        letters[2]
    ]
    assert store.dead_letters(start_ms=T0 + 5, end_ms=T0 + 10) == []
    counts = store.dead_letter_counts(start_ms=T0, end_ms=T0 + 10)
    assert counts == {"bcc_mismatch": 1, "malformed": 2}
    assert store.dead_letter_counts(start_ms=T0 + 1, end_ms=T0 + 1) == {"malformed": 1}
    by_source = store.dead_letter_counts(start_ms=T0, end_ms=T0 + 10, by="source")
    assert by_source == {"mqtt:obu-2": 1, "udp:rsu-1": 2}
    with pytest.raises(StoreError, match="'reason' or 'source'"):
        store.dead_letter_counts(start_ms=T0, end_ms=T0 + 10, by="raw")


def test_dead_letters_expire_with_their_retention(store: HistoryStore) -> None:
    old = DeadLetter(
        received_at_ms=T0, reason=DropReason.EMPTY, source="udp", raw=b"", detail="no bytes"
    )
    new = msgspec.structs.replace(old, received_at_ms=T0 + 8 * 86_400_000)
    store.write_dead_letters([old, new])
    deleted = store.apply_retention(now_ms=T0 + 8 * 86_400_000)  # kept 7 days by default
    assert deleted["dead_letters"] == 1 and store.row_count("dead_letters") == 1


def test_ev_reports_round_trip(store: HistoryStore) -> None:
    report = EvReportRecord(
        received_ms=T0, vin="LVSHFFAC5JF123456", payload={"soc_pct": 81.0, "alarm_level": 0}
    )
    store.write_ev_reports([report])
    assert store.ev_reports("LVSHFFAC5JF123456", start_ms=T0, end_ms=T0) == [report]


def test_retention_deletes_only_old_rows(store: HistoryStore) -> None:
    day_ms = 86_400_000
    store.write_participants([_state("a", T0, 39.9), _state("a", T0 + 8 * day_ms, 39.9)])
    store.write_advisories([_advisory("FCW", T0, 39.9)])
    deleted = store.apply_retention(now_ms=T0 + 8 * day_ms)
    assert deleted["participant_states"] == 1  # raw trajectories: 7 days by default
    assert deleted["advisories"] == 0  # kept 30 days by default
    assert store.row_count("participant_states") == 1
    # the day key of the deleted rows is destroyed with them; the newer day's stays
    assert store.pseudonyms.days() == [(T0 + 8 * day_ms) // day_ms]  # type: ignore[attr-defined]


def test_closed_store_and_unknown_table_raise(store: HistoryStore) -> None:
    with pytest.raises(StoreError, match="unknown table"):
        store.row_count("nope")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.row_count("advisories")


def test_a_history_from_before_gets_the_location_column(tmp_path: Path) -> None:
    import duckdb

    with duckdb.connect(str(tmp_path / "history.duckdb")) as con:
        con.execute(
            "CREATE TABLE dead_letters (received_ms BIGINT NOT NULL, reason TEXT NOT NULL, "
            "source TEXT NOT NULL, detail TEXT NOT NULL, raw BLOB NOT NULL)"
        )
        con.execute("INSERT INTO dead_letters VALUES (1, 'malformed', 'udp', 'old', '\\x01'::BLOB)")
    store = DuckDbStore(data_dir=tmp_path)
    try:
        letter = DeadLetter(
            received_at_ms=2,
            reason=DropReason.EMPTY,
            source="udp",
            raw=b"",
            detail="new",
            where="$",
        )
        store.write_dead_letters([letter])
        old, new = store.dead_letters(start_ms=0, end_ms=10)[::-1]
        assert old.where is None and old.detail == "old" and new == letter
    finally:
        store.close()
