"""The hash-chained audit trail on both backends: appends verify; an edited, deleted,
reordered row, a truncated tail and a rewritten chain are each detected; retention keeps a
checkpoint and never deletes newer rows."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from pathlib import Path

import pytest

from v2xcloud.errors import ConfigError
from v2xcloud.store import HistoryStore
from v2xcloud.store.audit import (
    CHECKPOINT_ACTION,
    GENESIS_HASH,
    MIN_RETENTION_MS,
    AuditTrail,
    read_anchor,
)

DAY_MS = 86_400_000


def _fill(trail: AuditTrail, n: int, *, start_ms: int = 1_000) -> None:
    for i in range(n):
        trail.record(
            f"user{i % 3}",
            "device.added",
            f"rsu-{i}",
            tenant="t1",
            detail={"i": i, "kind": "rsu"},
            at_ms=start_ms + i * 1_000,
        )


def _sql(store: HistoryStore, sql: str, params: list[object] | None = None) -> None:
    store._select(sql, params or [])  # type: ignore[attr-defined]


def test_appends_chain_and_verify(store: HistoryStore, tmp_path: Path) -> None:
    trail = AuditTrail(store, anchor_path=tmp_path / "head.json")
    assert trail.verify().is_ok and trail.head() == (0, GENESIS_HASH)
    _fill(trail, 5)
    rows = trail.entries()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    check = trail.verify()
    assert check.is_ok and check.rows_checked == 5 and check.head_seq == 5, check.problems
    assert read_anchor(tmp_path / "head.json") == (5, rows[-1].hash)
    assert [r.target for r in trail.entries(start_ms=2_000, end_ms=3_000)] == ["rsu-1", "rsu-2"]


def test_edited_row_detected(store: HistoryStore) -> None:
    trail = AuditTrail(store)
    _fill(trail, 5)
    _sql(store, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")
    check = trail.verify()
    assert not check.is_ok
    assert any("seq=3" in p and "edited" in p for p in check.problems), check.problems


def test_edited_detail_detected(store: HistoryStore) -> None:
    trail = AuditTrail(store)
    _fill(trail, 4)
    _sql(store, "UPDATE audit_log SET detail = %s WHERE seq = 2", ['{"i":1,"kind":"obu"}'])
    assert any("seq=2" in p for p in trail.verify().problems)


def test_deleted_row_detected(store: HistoryStore) -> None:
    trail = AuditTrail(store)
    _fill(trail, 5)
    _sql(store, "DELETE FROM audit_log WHERE seq = 3")
    problems = trail.verify().problems
    assert any("seq=3..3 missing" in p for p in problems), problems
    assert any("seq=4: prev_hash" in p for p in problems), problems


def test_deleted_and_renumbered_row_detected(store: HistoryStore) -> None:
    """Closing the gap by renumbering the later rows breaks their hashes."""
    trail = AuditTrail(store)
    _fill(trail, 5)
    _sql(store, "DELETE FROM audit_log WHERE seq = 3")
    _sql(store, "UPDATE audit_log SET seq = seq - 1 WHERE seq > 3")
    check = trail.verify()
    assert not check.is_ok and check.head_seq == 4
    assert any("seq=3" in p for p in check.problems), check.problems


def test_reordered_rows_detected(store: HistoryStore) -> None:
    trail = AuditTrail(store)
    _fill(trail, 5)
    # swap rows 2 and 4 entirely (content, hashes and all), keeping the seq numbers in place
    _sql(store, "UPDATE audit_log SET seq = -2 WHERE seq = 2")
    _sql(store, "UPDATE audit_log SET seq = 2 WHERE seq = 4")
    _sql(store, "UPDATE audit_log SET seq = 4 WHERE seq = -2")
    problems = trail.verify().problems
    assert any("seq=2" in p for p in problems) and any("seq=4" in p for p in problems), problems


def test_deleted_prefix_without_checkpoint_detected(store: HistoryStore) -> None:
    trail = AuditTrail(store)
    _fill(trail, 5)
    _sql(store, "DELETE FROM audit_log WHERE seq <= 2")
    problems = trail.verify().problems
    assert any("before seq=3 missing" in p for p in problems), problems


def test_truncated_tail_detected_by_anchor(store: HistoryStore, tmp_path: Path) -> None:
    anchor = tmp_path / "head.json"
    trail = AuditTrail(store, anchor_path=anchor)
    _fill(trail, 5)
    _sql(store, "DELETE FROM audit_log WHERE seq >= 4")
    # the chain alone looks whole; the anchor kept outside the database does not
    assert AuditTrail(store).verify().is_ok
    problems = trail.verify().problems
    assert any("tail truncated" in p for p in problems), problems


def test_rewritten_chain_detected_by_anchor(store: HistoryStore, tmp_path: Path) -> None:
    """An attacker who edits row 2 and recomputes every later hash fools the chain check but
    not the anchored head."""
    anchor = tmp_path / "head.json"
    trail = AuditTrail(store, anchor_path=anchor)
    _fill(trail, 4)
    rows = trail.entries()
    prev = rows[0].hash
    for r in rows[1:]:
        actor = "forger" if r.seq == 2 else r.actor
        content = json.dumps(
            [r.seq, r.at_ms, actor, r.action, r.target, r.tenant, r.detail],
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        digest = hashlib.sha256(f"{prev}\n{content}".encode()).hexdigest()
        _sql(
            store,
            "UPDATE audit_log SET actor = %s, prev_hash = %s, hash = %s WHERE seq = %s",
            [actor, prev, digest, r.seq],
        )
        prev = digest
    assert AuditTrail(store).verify().is_ok  # the forgery is self-consistent
    problems = trail.verify().problems
    assert any("chain rewritten" in p for p in problems), problems


def test_retention_deletes_only_the_old_prefix_and_checkpoints(store: HistoryStore) -> None:
    trail = AuditTrail(store)
    _fill(trail, 3, start_ms=0)  # day 0
    _fill(trail, 2, start_ms=100 * DAY_MS)  # day 100
    # a late-recorded old timestamp after newer rows: retention must not delete it (not a prefix)
    trail.record("late", "device.added", "rsu-x", at_ms=1, detail={})
    now = 181 * DAY_MS
    assert trail.apply_retention(now_ms=now) == 3
    entries = trail.entries()
    assert [e.seq for e in entries] == [4, 5, 6, 7]
    assert entries[-1].action == CHECKPOINT_ACTION
    assert entries[-1].detail["through_seq"] == 3
    check = trail.verify()
    assert check.is_ok and check.first_seq == 4, check.problems
    # nothing newer than 180 days goes, however often retention runs
    assert trail.apply_retention(now_ms=now) == 0
    assert trail.verify().is_ok


def test_retention_under_180_days_refused(store: HistoryStore) -> None:
    with pytest.raises(ConfigError, match="180 days"):
        AuditTrail(store, retention_ms=MIN_RETENTION_MS - 1)


def test_detail_must_be_json(store: HistoryStore) -> None:
    with pytest.raises(ConfigError, match="JSON"):
        AuditTrail(store).record("a", "b", "c", detail={"x": object()}, at_ms=1)


def test_the_history_writer_prunes_the_audit_trail() -> None:
    import time

    from v2xcloud.store import DuckDbStore, HistoryWriter

    store = DuckDbStore(data_dir=None)
    trail = AuditTrail(store)
    _fill(trail, 2, start_ms=0)
    now = 200 * DAY_MS
    with HistoryWriter(
        store,
        retention_interval_s=0.05,
        flush_interval_s=0.02,
        clock_ms=lambda: now,
        retention_hooks=[lambda now_ms: trail.apply_retention(now_ms=now_ms)],
    ):
        deadline = time.monotonic() + 5
        while not trail.entries(action=CHECKPOINT_ACTION):
            assert time.monotonic() < deadline, "the audit retention never ran"
            time.sleep(0.02)
    check = trail.verify()
    assert check.is_ok and check.first_seq == 3 and check.rows_checked == 1
    store.close()


def test_submitted_rows_are_appended_in_batches_off_the_caller(store: HistoryStore) -> None:
    trail = AuditTrail(store, max_pending=50)
    for i in range(80):  # 30 past the queue's bound: not kept, counted
        trail.submit("gb32960:10.0.0.1", "ev.login_refused", f"VIN{i}", detail={"i": i}, at_ms=i)
    trail.flush()
    rows = trail.entries(limit=1000)
    assert len(rows) >= 50 and trail.dropped == 80 - len(rows)
    assert [r.detail["i"] for r in rows] == sorted(r.detail["i"] for r in rows)
    assert trail.verify().is_ok and trail.failed == 0


def test_closing_the_store_writes_the_rows_still_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server stopping closes its store while the trail's writer may still hold rows: the
    store's close flushes the trail first (it failed them: 'DuckDbStore is closed')."""
    from v2xcloud.store.duckdb_store import DuckDbStore

    store = DuckDbStore(data_dir=tmp_path)
    trail = AuditTrail(store)
    slow = trail._insert

    def insert_slowly(entries: list[object]) -> None:
        time.sleep(0.2)  # a loaded database: the rows are still queued at close
        slow(entries)  # type: ignore[arg-type]

    monkeypatch.setattr(trail, "_insert", insert_slowly)
    for i in range(3):
        trail.submit("api", "auth.refused", f"token{i}", detail={"i": i}, at_ms=i)
        time.sleep(0.01)
    store.close()
    assert trail.failed == 0
    again = DuckDbStore(data_dir=tmp_path)
    try:
        rows = AuditTrail(again).entries(limit=10)
        assert [r.target for r in rows] == ["token0", "token1", "token2"]
    finally:
        again.close()
