"""The deployment history backend: PostgreSQL with PostGIS, bulk writes through COPY."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from v2xcloud.errors import StoreError
from v2xcloud.store._ddl import create_statements
from v2xcloud.store._sql_store import SqlHistoryStore
from v2xcloud.store.base import Retention
from v2xcloud.store.pseudonyms import PseudonymKeys
from v2xcloud.store.records import BBox

__all__ = ["PostgresStore"]


class PostgresStore(SqlHistoryStore):
    """History in PostgreSQL/PostGIS at ``dsn`` (a libpq connection string or URL).

    The tables and the ``postgis`` extension are created on first use; advisories and road
    events carry a PostGIS point with a GiST index for bounding-box queries. Each batch is one
    ``COPY ... FROM STDIN`` and one commit.

    Participant ids are stored as daily keyed hashes (``store.pseudonyms``) whose keys are kept
    in ``keys_path`` (memory only when ``None``: a restart then starts new pseudonyms), never in
    the database; ``pseudonymize=False`` stores raw ids.

    Raises ``StoreError`` if the server cannot be reached or PostGIS is not installed there.
    """

    def __init__(
        self,
        *,
        dsn: str,
        retention: Retention | None = None,
        pseudonymize: bool = True,
        keys_path: Path | str | None = None,
    ) -> None:
        keys = PseudonymKeys(path=keys_path) if pseudonymize else None
        super().__init__(retention=retention or Retention(), pseudonyms=keys)
        try:
            self._con = psycopg.connect(dsn, autocommit=False)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL history: {exc}") from exc
        try:
            with self._con.transaction(), self._con.cursor() as cur:
                # window queries sort/aggregate ~10^5 rows: keep them in memory, not on disk
                cur.execute("SET work_mem = '64MB'")
                cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                for statement in create_statements(
                    blob="BYTEA", double="DOUBLE PRECISION", postgis=True
                ):
                    cur.execute(statement)
        except psycopg.Error as exc:
            self._con.close()
            raise StoreError(
                f"cannot create the history schema (is PostGIS installed on the server?): {exc}"
            ) from exc

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._con.transaction(), self._con.cursor() as cur:
                cur.execute(sql, list(params))
                return cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL query failed: {exc}") from exc

    def _delete(self, sql: str, params: Sequence[Any]) -> int:
        try:
            with self._con.transaction(), self._con.cursor() as cur:
                cur.execute(sql, list(params))
                return max(cur.rowcount, 0)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL delete failed: {exc}") from exc

    def _insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        names = ", ".join(columns)
        try:
            with (
                self._con.transaction(),
                self._con.cursor() as cur,
                cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL COPY into {table} failed: {exc}") from exc

    def _bbox_clause(self, bbox: BBox) -> tuple[str, list[Any]]:
        clause = "geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"
        return clause, [bbox.min_lon_deg, bbox.min_lat_deg, bbox.max_lon_deg, bbox.max_lat_deg]

    def _close(self) -> None:
        self._con.close()
