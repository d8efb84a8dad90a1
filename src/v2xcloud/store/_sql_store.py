"""Queries shared by the DuckDB and PostgreSQL backends (written with ``%s`` placeholders)."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from v2xcloud.errors import StoreError
from v2xcloud.model import Advisory, DeadLetter, MisbehaviourReport, ParticipantState, RoadEvent
from v2xcloud.store import _rows
from v2xcloud.store.base import TABLES, Retention
from v2xcloud.store.pseudonyms import DAY_MS, PseudonymKeys
from v2xcloud.store.records import AdvisoryCell, BBox, EvReportRecord, TrackPoint

logger = logging.getLogger(__name__)

_TIME_COLUMN = {
    "participant_states": "timestamp_ms",
    "advisories": "issued_ms",
    "road_events": "recorded_ms",
    "dead_letters": "received_ms",
    "misbehaviour_reports": "flagged_ms",
    "ev_reports": "received_ms",
}


class SqlHistoryStore(ABC):
    """Everything but the connection: subclasses run SQL and bulk-insert rows."""

    def __init__(self, *, retention: Retention, pseudonyms: PseudonymKeys | None) -> None:
        self.retention = retention
        self.pseudonyms = pseudonyms
        self._lock = threading.Lock()
        self._is_closed = False
        self._before_close: list[Callable[[], None]] = []

    # -- backend hooks ---------------------------------------------------------------------
    @abstractmethod
    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None: ...

    @abstractmethod
    def _delete(self, sql: str, params: Sequence[Any]) -> int: ...

    @abstractmethod
    def _bbox_clause(self, bbox: BBox) -> tuple[str, list[Any]]: ...

    @abstractmethod
    def _close(self) -> None: ...

    # -- plumbing ----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._is_closed:
            raise StoreError(f"{type(self).__name__} is closed; open a new store")

    def _write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        with self._lock:
            self._check_open()
            self._insert(table, columns, rows)
        return len(rows)

    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            self._check_open()
            return self._run(sql, params)

    def _upsert(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> int:
        """Insert or replace ``rows`` of a table keyed by its first column (``INSERT ... ON
        CONFLICT DO UPDATE``: the same SQL on DuckDB and PostgreSQL); returns how many."""
        names = ", ".join(columns)
        marks = ", ".join(["%s"] * len(columns))
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        sql = (
            f"INSERT INTO {table} ({names}) VALUES ({marks}) "
            f"ON CONFLICT ({columns[0]}) DO UPDATE SET {updates}"
        )
        with self._lock:
            self._check_open()
            for row in rows:
                self._run(sql, row)
        return len(rows)

    # -- writes ------------------------------------------------------------------------------
    def write_participants(self, states: Sequence[ParticipantState]) -> int:
        rows = _rows.participant_rows(states)
        if self.pseudonyms is not None:
            p = self.pseudonyms.pseudonym
            rows = [(r[0], p(r[1], r[0]), *r[2:]) for r in rows]
        return self._write("participant_states", _rows.PARTICIPANT_COLUMNS, rows)

    def write_advisories(self, advisories: Sequence[Advisory]) -> int:
        if self.pseudonyms is not None:
            advisories = [self._pseudonymous(a) for a in advisories]
        rows = _rows.advisory_rows(advisories)
        return self._write("advisories", _rows.ADVISORY_COLUMNS, rows)

    def write_road_events(self, events: Sequence[RoadEvent], *, recorded_ms: int) -> int:
        rows = _rows.event_rows(events, recorded_ms)
        return self._write("road_events", _rows.EVENT_COLUMNS, rows)

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        rows = _rows.dead_letter_rows(letters)
        return self._write("dead_letters", _rows.DEAD_LETTER_COLUMNS, rows)

    def write_ev_reports(self, reports: Sequence[EvReportRecord]) -> int:
        rows = _rows.ev_report_rows(reports)
        return self._write("ev_reports", _rows.EV_REPORT_COLUMNS, rows)

    def _pseudonymous(self, a: Advisory) -> Advisory:
        assert self.pseudonyms is not None
        p = self.pseudonyms.pseudonym
        other = None if a.other_id is None else p(a.other_id, a.issued_ms)
        return msgspec.structs.replace(a, ego_id=p(a.ego_id, a.issued_ms), other_id=other)

    def write_misbehaviour(self, reports: Sequence[MisbehaviourReport]) -> int:
        if self.pseudonyms is not None:  # the ids on the air, as in advisories; the
            reports = [self._pseudonymous_report(r) for r in reports]  # digest is kept
        rows = _rows.misbehaviour_rows(reports)
        return self._write("misbehaviour_reports", _rows.MISBEHAVIOUR_COLUMNS, rows)

    def _pseudonymous_report(self, r: MisbehaviourReport) -> MisbehaviourReport:
        assert self.pseudonyms is not None
        p, t = self.pseudonyms.pseudonym, r.flagged_at_ms
        evidence = tuple(
            e if e.other_id is None or e.other_id == r.source
            else msgspec.structs.replace(e, other_id=p(e.other_id, t))
            for e in r.evidence
        )  # fmt: skip
        return msgspec.structs.replace(r, sender_id=p(r.sender_id, t), evidence=evidence)

    # -- reads -------------------------------------------------------------------------------
    def latest_participants(
        self, *, at_ms: int, window_ms: int = 60_000, bbox: BBox | None = None
    ) -> list[ParticipantState]:
        # newest timestamp per participant first (a hash aggregate over the window), then join
        # back on (id, timestamp_ms): much cheaper than sorting the whole window by id
        columns = ", ".join(f"p.{c}" for c in _rows.PARTICIPANT_COLUMNS)
        sql = (
            f"SELECT DISTINCT ON (p.id) {columns} FROM participant_states p JOIN ("
            "SELECT id, max(timestamp_ms) AS last_ms FROM participant_states "
            "WHERE timestamp_ms > %s AND timestamp_ms <= %s GROUP BY id) l "
            "ON p.id = l.id AND p.timestamp_ms = l.last_ms"
        )
        params: list[Any] = [at_ms - window_ms, at_ms]
        if bbox is not None:  # where each participant is now, not where it has been
            sql += " WHERE p.lat_deg BETWEEN %s AND %s AND p.lon_deg BETWEEN %s AND %s"
            params += [bbox.min_lat_deg, bbox.max_lat_deg, bbox.min_lon_deg, bbox.max_lon_deg]
        sql += " ORDER BY p.id"
        return [_rows.participant_from_row(r) for r in self._select(sql, params)]

    def trajectory(self, participant_id: str, *, start_ms: int, end_ms: int) -> list[TrackPoint]:
        # the id seen on the air (hashed with each day's key) or an id as stored
        ids = [participant_id]
        if self.pseudonyms is not None:
            ids += self.pseudonyms.candidates(participant_id, start_ms=start_ms, end_ms=end_ms)
        marks = ", ".join(["%s"] * len(ids))
        sql = (
            "SELECT timestamp_ms, lat_deg, lon_deg, speed_mps, heading_deg "
            f"FROM participant_states WHERE id IN ({marks}) AND timestamp_ms BETWEEN %s AND %s "
            "ORDER BY timestamp_ms"
        )
        rows = self._select(sql, [*ids, start_ms, end_ms])
        return [
            TrackPoint(
                timestamp_ms=int(r[0]), lat_deg=r[1], lon_deg=r[2], speed_mps=r[3], heading_deg=r[4]
            )
            for r in rows
        ]

    def advisories(
        self,
        *,
        start_ms: int,
        end_ms: int,
        bbox: BBox | None = None,
        app: str | None = None,
        limit: int = 1000,
    ) -> list[Advisory]:
        sql = "SELECT doc FROM advisories WHERE issued_ms BETWEEN %s AND %s"
        params: list[Any] = [start_ms, end_ms]
        if app is not None:
            sql += " AND app = %s"
            params.append(app)
        if bbox is not None:
            clause, extra = self._bbox_clause(bbox)
            sql += f" AND {clause}"
            params += extra
        sql += " ORDER BY issued_ms DESC LIMIT %s"
        params.append(limit)
        return [_rows.decode_doc(r[0], Advisory) for r in self._select(sql, params)]

    def advisory_cells(
        self,
        *,
        start_ms: int,
        end_ms: int,
        cell_lat_deg: float,
        cell_lon_deg: float,
        limit: int = 10_000,
    ) -> list[AdvisoryCell]:
        if not (cell_lat_deg > 0 and cell_lon_deg > 0):
            raise StoreError(f"advisory cells must be positive, got {cell_lat_deg}, {cell_lon_deg}")
        sql = (
            "SELECT floor(lat_deg / %s) AS i, floor(lon_deg / %s) AS j, count(*), "
            "count(DISTINCT app || ':' || ego_id), max(level) FROM advisories "
            "WHERE issued_ms BETWEEN %s AND %s AND lat_deg IS NOT NULL AND lon_deg IS NOT NULL "
            "GROUP BY i, j ORDER BY count(*) DESC LIMIT %s"
        )
        rows = self._select(sql, [cell_lat_deg, cell_lon_deg, start_ms, end_ms, limit])
        return [
            AdvisoryCell(
                lat_deg=(float(i) + 0.5) * cell_lat_deg,
                lon_deg=(float(j) + 0.5) * cell_lon_deg,
                advisories=int(n),
                warned=int(warned),
                max_level=int(level),
            )
            for i, j, n, warned, level in rows
        ]

    def road_events(
        self, *, start_ms: int, end_ms: int, bbox: BBox | None = None, limit: int = 1000
    ) -> list[RoadEvent]:
        sql = "SELECT doc FROM road_events WHERE recorded_ms BETWEEN %s AND %s"
        params: list[Any] = [start_ms, end_ms]
        if bbox is not None:
            clause, extra = self._bbox_clause(bbox)
            sql += f" AND {clause}"
            params += extra
        sql += " ORDER BY recorded_ms DESC LIMIT %s"
        params.append(limit)
        return [_rows.decode_doc(r[0], RoadEvent) for r in self._select(sql, params)]

    def dead_letters(
        self,
        *,
        start_ms: int,
        end_ms: int,
        reason: str | None = None,
        source: str | None = None,
        limit: int = 1000,
        sources: Sequence[str] | None = None,
    ) -> list[DeadLetter]:
        if sources is not None and not sources:
            return []
        columns = ", ".join(_rows.DEAD_LETTER_COLUMNS)
        sql = f"SELECT {columns} FROM dead_letters WHERE received_ms BETWEEN %s AND %s"
        params: list[Any] = [start_ms, end_ms]
        if reason is not None:
            sql += " AND reason = %s"
            params.append(reason)
        if source is not None:
            sql += " AND source = %s"
            params.append(source)
        if sources is not None:
            sql += f" AND source IN ({', '.join(['%s'] * len(sources))})"
            params.extend(sources)
        sql += " ORDER BY received_ms DESC LIMIT %s"
        params.append(limit)
        return [_rows.dead_letter_from_row(r) for r in self._select(sql, params)]

    def misbehaviour_reports(
        self,
        *,
        start_ms: int,
        end_ms: int,
        reason: str | None = None,
        sender_id: str | None = None,
        limit: int = 1000,
    ) -> list[MisbehaviourReport]:
        sql = "SELECT doc FROM misbehaviour_reports WHERE flagged_ms BETWEEN %s AND %s"
        params: list[Any] = [start_ms, end_ms]
        if reason is not None:
            sql += " AND reason = %s"
            params.append(reason)
        if sender_id is not None:  # the id seen on the air (hashed per day) or as stored
            ids = [sender_id]
            if self.pseudonyms is not None:
                ids += self.pseudonyms.candidates(sender_id, start_ms=start_ms, end_ms=end_ms)
            sql += f" AND sender_id IN ({', '.join(['%s'] * len(ids))})"
            params += ids
        sql += " ORDER BY flagged_ms DESC LIMIT %s"
        params.append(limit)
        return [_rows.decode_doc(r[0], MisbehaviourReport) for r in self._select(sql, params)]

    def dead_letter_counts(
        self,
        *,
        start_ms: int,
        end_ms: int,
        by: str = "reason",
        sources: Sequence[str] | None = None,
    ) -> dict[str, int]:
        if by not in ("reason", "source"):
            raise StoreError(f"dead letters are counted by 'reason' or 'source', not {by!r}")
        if sources is not None and not sources:
            return {}
        params: list[Any] = [start_ms, end_ms]
        among = ""
        if sources is not None:
            among = f" AND source IN ({', '.join(['%s'] * len(sources))})"
            params.extend(sources)
        sql = (
            f"SELECT {by}, count(*) FROM dead_letters WHERE received_ms BETWEEN %s AND %s"
            f"{among} GROUP BY {by} ORDER BY {by}"
        )
        return {r[0]: int(r[1]) for r in self._select(sql, params)}

    def ev_reports(
        self, vin: str, *, start_ms: int, end_ms: int, limit: int = 1000
    ) -> list[EvReportRecord]:
        sql = (
            "SELECT received_ms, vin, payload FROM ev_reports WHERE vin = %s "
            "AND received_ms BETWEEN %s AND %s ORDER BY received_ms LIMIT %s"
        )
        rows = self._select(sql, [vin, start_ms, end_ms, limit])
        return [
            EvReportRecord(received_ms=int(r[0]), vin=r[1], payload=_rows.decode_doc(r[2], dict))
            for r in rows
        ]

    # -- housekeeping ------------------------------------------------------------------------
    def apply_retention(self, *, now_ms: int) -> dict[str, int]:
        deleted: dict[str, int] = {}
        for table in TABLES:
            keep_ms = self.retention.for_table(table)
            if keep_ms is None:
                continue
            sql = f"DELETE FROM {table} WHERE {_TIME_COLUMN[table]} < %s"
            with self._lock:
                self._check_open()
                deleted[table] = self._delete(sql, [now_ms - keep_ms])
        keep_ms = self.retention.for_table("participant_states")
        if self.pseudonyms is not None and keep_ms is not None:
            # the day keys go with the raw trajectories: older rows can no longer be re-linked
            self.pseudonyms.destroy_before((now_ms - keep_ms) // DAY_MS)
        return deleted

    def row_count(self, table: str) -> int:
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
        return int(self._select(f"SELECT count(*) FROM {table}")[0][0])

    def on_close(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` when the store is closed, before it closes (a background writer of
        this store flushing its queue); a hook that raises is logged and the others run."""
        self._before_close.append(hook)

    def close(self) -> None:
        hooks, self._before_close = self._before_close, []
        for hook in hooks:  # outside the lock: a hook writes through this store
            try:
                hook()
            except Exception as exc:  # the store closes anyway; said once
                logger.error("store close: %s failed: %s", hook, exc, exc_info=exc)
        with self._lock:
            if not self._is_closed:
                self._is_closed = True
                self._close()
