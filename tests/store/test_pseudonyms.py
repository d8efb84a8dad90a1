"""Privacy by default in the history: participant ids stored as daily keyed hashes (HMAC-SHA256),
keys kept apart from the database and destroyed with the raw trajectories."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from v2xcloud.errors import StoreError
from v2xcloud.model import ParticipantKind, ParticipantSource, ParticipantState
from v2xcloud.store import DuckDbStore, HistoryStore
from v2xcloud.store.pseudonyms import DAY_MS, KEYS_FILE, PseudonymKeys

T0 = 1_700_000_000_000 - 1_700_000_000_000 % DAY_MS + 3_600_000  # 01:00 UTC of a day


def _state(pid: str, t_ms: int) -> ParticipantState:
    return ParticipantState(
        id=pid,
        kind=ParticipantKind.VEHICLE,
        source=ParticipantSource.BSM,
        timestamp_ms=t_ms,
        lat_deg=28.19,
        lon_deg=112.97,
        speed_mps=10.0,
    )


def _stored_ids(store: HistoryStore) -> set[str]:
    rows = store._select("SELECT DISTINCT id FROM participant_states")  # type: ignore[attr-defined]
    return {r[0] for r in rows}


def test_ids_stored_as_daily_keyed_hashes(store: HistoryStore) -> None:
    raw = "0000000000000c01"
    store.write_participants([_state(raw, T0 + i * 1000) for i in range(3)])
    store.write_participants([_state(raw, T0 + DAY_MS + i * 1000) for i in range(3)])
    ids = _stored_ids(store)
    assert raw not in ids and len(ids) == 2  # one per day, unrelated to each other
    day1, day2 = sorted(ids, key=lambda i: i != store.pseudonyms.pseudonym(raw, T0))  # type: ignore[attr-defined]
    assert day1 != day2 and all(len(i) == 32 for i in ids)
    # the trajectory is still found by the id seen on the air, across both days
    track = store.trajectory(raw, start_ms=T0, end_ms=T0 + 2 * DAY_MS)
    assert len(track) == 6
    # and by the stored id, within its day only
    assert len(store.trajectory(day2, start_ms=T0, end_ms=T0 + 2 * DAY_MS)) == 3


def test_keys_file_private_persistent_and_destroyed_with_the_trajectories(tmp_path: Path) -> None:
    store = DuckDbStore(data_dir=tmp_path)
    raw = "obu-7"
    store.write_participants([_state(raw, T0), _state(raw, T0 + 8 * DAY_MS)])
    keys_file = tmp_path / KEYS_FILE
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert raw not in (tmp_path / "history.duckdb").read_bytes().decode("latin-1")
    before = store.pseudonyms.pseudonym(raw, T0 + 8 * DAY_MS)  # type: ignore[union-attr]
    store.close()
    reopened = DuckDbStore(data_dir=tmp_path)  # the same key: the same stored id that day
    assert reopened.pseudonyms is not None
    assert reopened.pseudonyms.pseudonym(raw, T0 + 8 * DAY_MS) == before
    assert len(reopened.pseudonyms.days()) == 2
    reopened.apply_retention(now_ms=T0 + 8 * DAY_MS)  # 7 days: the first day's rows go
    assert reopened.pseudonyms.days() == [(T0 + 8 * DAY_MS) // DAY_MS]
    assert str(T0 // DAY_MS) not in keys_file.read_text()  # destroyed on disk too
    assert reopened.trajectory(raw, start_ms=T0 - 1, end_ms=T0 + 1) == []
    reopened.close()


def test_keys_bounded_and_bad_file_refused(tmp_path: Path) -> None:
    keys = PseudonymKeys(path=None, max_keys=3)
    for day in range(10):
        keys.pseudonym("x", day * DAY_MS)
    assert keys.days() == [7, 8, 9]
    (tmp_path / KEYS_FILE).write_text("not json")
    with pytest.raises(StoreError, match="pseudonym keys"):
        PseudonymKeys(path=tmp_path / KEYS_FILE)


def test_raw_ids_kept_only_when_asked(tmp_path: Path) -> None:
    store = DuckDbStore(data_dir=None, pseudonymize=False)
    store.write_participants([_state("raw-id", T0)])
    assert _stored_ids(store) == {"raw-id"}
