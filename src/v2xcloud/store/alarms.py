"""The alarm table (``alarms``) in the history store, on both backends.

One row per alarm (``model.Alarm``), replaced on every change of its workflow
(``INSERT ... ON CONFLICT DO UPDATE``, the same SQL on DuckDB and PostgreSQL): the live
alarms of ``runtime.alarms.AlarmBook`` and the history of the closed ones. Bounded by
retention: closed alarms are deleted ``retention_ms`` after they were closed (90 days by
default; ``apply_retention``, run on the history writer's retention rounds); live alarms are
bounded by the book's ``max_live``.

>>> from v2xcloud.store import DuckDbStore
>>> from v2xcloud.model import Alarm, AlarmSeverity, AlarmSource
>>> table = AlarmTable(DuckDbStore(data_dir=None))
>>> table.save_all([Alarm(alarm_id="a1", source=AlarmSource.DEVICE, subject="R1",
...     severity=AlarmSeverity.MAJOR, summary="R1 offline", raised_ms=1, updated_ms=1)])
>>> [a.alarm_id for a in table.load_live(10)]
['a1']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from v2xcloud.errors import StoreError
from v2xcloud.model import Alarm, AlarmSeverity, AlarmSource, AlarmState
from v2xcloud.store._sql_store import SqlHistoryStore
from v2xcloud.store.base import HistoryStore

__all__ = ["ALARM_COLUMNS", "AlarmTable"]

ALARM_COLUMNS = (
    "alarm_id",
    "source",
    "subject",
    "kind",
    "severity",
    "summary",
    "tenant",
    "lat_deg",
    "lon_deg",
    "raised_ms",
    "updated_ms",
    "occurrences",
    "cleared_ms",
    "state",
    "acked_by",
    "acked_ms",
    "closed_by",
    "closed_ms",
)

_CREATE = """CREATE TABLE IF NOT EXISTS alarms (
    alarm_id TEXT PRIMARY KEY, source TEXT NOT NULL, subject TEXT NOT NULL, kind TEXT NOT NULL,
    severity TEXT NOT NULL, summary TEXT NOT NULL, tenant TEXT, lat_deg DOUBLE PRECISION,
    lon_deg DOUBLE PRECISION, raised_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL,
    occurrences BIGINT NOT NULL, cleared_ms BIGINT, state TEXT NOT NULL, acked_by TEXT,
    acked_ms BIGINT, closed_by TEXT, closed_ms BIGINT)"""
_INDEX = "CREATE INDEX IF NOT EXISTS alarms_raised ON alarms (raised_ms)"
_DAY_MS = 86_400_000
_BATCH = 200  # alarms per INSERT statement (18 parameters each)


class AlarmTable:
    """Save, load and query ``model.Alarm`` rows in a DuckDB or PostgreSQL history store
    (``runtime.alarms.AlarmRepository``). Raises ``StoreError`` when the store fails."""

    def __init__(self, store: HistoryStore, *, retention_ms: int = 90 * _DAY_MS) -> None:
        if not isinstance(store, SqlHistoryStore):
            raise StoreError(f"the alarm table needs a SQL history store, not {type(store)}")
        self._store = store
        self.retention_ms = retention_ms
        store._select(_CREATE)
        store._select(_INDEX)

    def save_all(self, alarms: Sequence[Alarm]) -> None:
        """Insert or replace these alarms (by ``alarm_id``; each id at most once): one
        multi-row statement per ``_BATCH`` alarms (a statement per alarm cost ~50 ms each on
        DuckDB: ``benchmarks/alarms.py``)."""
        names = ", ".join(ALARM_COLUMNS)
        row_marks = "(" + ", ".join(["%s"] * len(ALARM_COLUMNS)) + ")"
        updates = ", ".join(f"{c} = excluded.{c}" for c in ALARM_COLUMNS[1:])
        for start in range(0, len(alarms), _BATCH):
            batch = alarms[start : start + _BATCH]
            params = [value for alarm in batch for value in _row(alarm)]
            self._store._select(
                f"INSERT INTO alarms ({names}) VALUES {', '.join([row_marks] * len(batch))} "
                f"ON CONFLICT (alarm_id) DO UPDATE SET {updates}",
                params,
            )

    def load_live(self, limit: int) -> list[Alarm]:
        """Alarms not closed, at most ``limit``, newest first."""
        return self._query(" WHERE state <> %s", [AlarmState.CLOSED.value], limit)

    def get(self, alarm_id: str) -> Alarm | None:
        """One alarm by id, or ``None``."""
        found = self._query(" WHERE alarm_id = %s", [alarm_id], 1)
        return found[0] if found else None

    def history(
        self,
        *,
        since_ms: int,
        until_ms: int | None = None,
        source: AlarmSource | None = None,
        severity: AlarmSeverity | None = None,
        state: AlarmState | None = None,
        limit: int = 1000,
    ) -> list[Alarm]:
        """Alarms raised in ``[since_ms, until_ms]`` (or updated/closed since ``since_ms``),
        newest first, optionally of one source, severity and state."""
        where = " WHERE (raised_ms >= %s OR updated_ms >= %s OR closed_ms >= %s)"
        params: list[Any] = [since_ms, since_ms, since_ms]
        if until_ms is not None:
            where += " AND raised_ms <= %s"
            params.append(until_ms)
        for column, value in (("source", source), ("severity", severity), ("state", state)):
            if value is not None:
                where += f" AND {column} = %s"
                params.append(value.value)
        return self._query(where, params, limit)

    def apply_retention(self, *, now_ms: int) -> int:
        """Delete alarms closed more than ``retention_ms`` ago; returns how many."""
        cutoff = now_ms - self.retention_ms
        where = "WHERE state = %s AND closed_ms < %s"
        params = [AlarmState.CLOSED.value, cutoff]
        count = int(self._store._select(f"SELECT count(*) FROM alarms {where}", params)[0][0])
        if count:
            self._store._select(f"DELETE FROM alarms {where}", params)
        return count

    def count(self) -> int:
        """Rows stored (live and closed)."""
        return int(self._store._select("SELECT count(*) FROM alarms")[0][0])

    def _query(self, where: str, params: list[Any], limit: int) -> list[Alarm]:
        sql = (
            f"SELECT {', '.join(ALARM_COLUMNS)} FROM alarms{where} "
            "ORDER BY raised_ms DESC, alarm_id LIMIT %s"
        )
        return [_alarm(row) for row in self._store._select(sql, [*params, limit])]


def _row(a: Alarm) -> tuple[Any, ...]:
    return (
        a.alarm_id,
        a.source.value,
        a.subject,
        a.kind,
        a.severity.value,
        a.summary,
        a.tenant,
        a.lat_deg,
        a.lon_deg,
        a.raised_ms,
        a.updated_ms,
        a.occurrences,
        a.cleared_ms,
        a.state.value,
        a.acked_by,
        a.acked_ms,
        a.closed_by,
        a.closed_ms,
    )


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _alarm(row: tuple[Any, ...]) -> Alarm:
    v = dict(zip(ALARM_COLUMNS, row, strict=True))
    return Alarm(
        alarm_id=v["alarm_id"],
        source=AlarmSource(v["source"]),
        subject=v["subject"],
        kind=v["kind"],
        severity=AlarmSeverity(v["severity"]),
        summary=v["summary"],
        tenant=v["tenant"],
        lat_deg=None if v["lat_deg"] is None else float(v["lat_deg"]),
        lon_deg=None if v["lon_deg"] is None else float(v["lon_deg"]),
        raised_ms=int(v["raised_ms"]),
        updated_ms=int(v["updated_ms"]),
        occurrences=int(v["occurrences"]),
        cleared_ms=_opt_int(v["cleared_ms"]),
        state=AlarmState(v["state"]),
        acked_by=v["acked_by"],
        acked_ms=_opt_int(v["acked_ms"]),
        closed_by=v["closed_by"],
        closed_ms=_opt_int(v["closed_ms"]),
    )
