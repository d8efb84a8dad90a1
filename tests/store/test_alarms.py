"""The alarm table on both backends: upsert, live rows, history filters, retention."""

from __future__ import annotations

import msgspec

from v2xcloud.model import Alarm, AlarmSeverity, AlarmSource, AlarmState
from v2xcloud.store import HistoryStore
from v2xcloud.store.alarms import AlarmTable

DAY_MS = 86_400_000


def _alarm(alarm_id: str, raised_ms: int, **kw: object) -> Alarm:
    values: dict[str, object] = {
        "alarm_id": alarm_id,
        "source": AlarmSource.DEVICE,
        "subject": "R1",
        "kind": "offline",
        "severity": AlarmSeverity.MAJOR,
        "summary": "rsu R1 offline",
        "raised_ms": raised_ms,
        "updated_ms": raised_ms,
    }
    values.update(kw)
    return Alarm(**values)  # type: ignore[arg-type]


def test_save_replace_load_and_filter(store: HistoryStore) -> None:
    table = AlarmTable(store)
    a = _alarm("a1", 1_000, tenant="north", lat_deg=28.1, lon_deg=112.9)
    b = _alarm("b2", 2_000, source=AlarmSource.ROAD_EVENT, severity=AlarmSeverity.MINOR)
    table.save_all([a, b])
    assert table.load_live(10) == [b, a]
    acked = msgspec.structs.replace(
        a, state=AlarmState.ACKNOWLEDGED, acked_by="token:x@north", acked_ms=1_500
    )
    closed = msgspec.structs.replace(
        b, state=AlarmState.CLOSED, closed_by="v2xcloud:cleared", closed_ms=2_500, cleared_ms=2_500
    )
    table.save_all([acked, closed])
    assert table.count() == 2
    assert table.load_live(10) == [acked]
    assert AlarmTable(store).get("b2") == closed  # re-opening keeps the rows
    assert table.history(since_ms=0) == [closed, acked]
    assert table.history(since_ms=0, state=AlarmState.CLOSED) == [closed]
    assert table.history(since_ms=0, source=AlarmSource.DEVICE) == [acked]
    assert table.history(since_ms=0, severity=AlarmSeverity.MINOR) == [closed]
    assert table.history(since_ms=1_800) == [closed]  # raised before, but closed since
    assert table.history(since_ms=0, until_ms=1_500) == [acked]


def test_retention_deletes_only_alarms_closed_long_ago(store: HistoryStore) -> None:
    table = AlarmTable(store, retention_ms=10 * DAY_MS)
    old_closed = _alarm("old", 0, state=AlarmState.CLOSED, closed_ms=1, closed_by="op")
    old_live = _alarm("live", 0, subject="R2")
    recent = _alarm("new", 0, subject="R3", state=AlarmState.CLOSED, closed_ms=9 * DAY_MS)
    table.save_all([old_closed, old_live, recent])
    assert table.apply_retention(now_ms=11 * DAY_MS) == 1
    assert table.get("old") is None and table.get("live") == old_live
    assert table.get("new") == recent


def test_many_alarms_are_written_in_batches_and_replaced(store: HistoryStore) -> None:
    table = AlarmTable(store)
    alarms = [_alarm(f"a{i:03d}", i, subject=f"R{i}") for i in range(450)]  # > one batch
    table.save_all(alarms)
    table.save_all([msgspec.structs.replace(a, occurrences=2) for a in alarms[::3]])
    assert table.count() == 450
    assert sum(a.occurrences for a in table.load_live(1000)) == 450 + 150
