"""The embedded history backend: one DuckDB file under the data directory, bulk writes via Arrow."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from v2xcloud.errors import StoreError
from v2xcloud.store._ddl import create_statements
from v2xcloud.store._sql_store import SqlHistoryStore
from v2xcloud.store.base import Retention
from v2xcloud.store.pseudonyms import KEYS_FILE, PseudonymKeys
from v2xcloud.store.records import BBox

__all__ = ["DuckDbStore"]


class DuckDbStore(SqlHistoryStore):
    """History in a DuckDB file (``<data_dir>/history.duckdb``), or in memory with ``data_dir=None``.

    Each batch is handed to DuckDB as an Arrow table and inserted with one statement.
    Participant ids are stored as daily keyed hashes (``store.pseudonyms``; keys in
    ``<data_dir>/pseudonym-keys.json``, in memory for ``data_dir=None``) unless
    ``pseudonymize=False``.

    >>> store = DuckDbStore(data_dir=None)
    >>> store.row_count("advisories")
    0
    """

    def __init__(
        self,
        *,
        data_dir: Path | str | None,
        retention: Retention | None = None,
        pseudonymize: bool = True,
    ) -> None:
        keys = None
        if pseudonymize:
            keys = PseudonymKeys(path=None if data_dir is None else Path(data_dir) / KEYS_FILE)
        super().__init__(retention=retention or Retention(), pseudonyms=keys)
        if data_dir is None:
            self.path: Path | None = None
            database = ":memory:"
        else:
            self.path = Path(data_dir) / "history.duckdb"
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create data directory {data_dir}: {exc}") from exc
            database = str(self.path)
        try:
            self._con = duckdb.connect(database)
            for statement in create_statements(blob="BLOB", double="DOUBLE", postgis=False):
                self._con.execute(statement)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open DuckDB history at {database}: {exc}") from exc

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._con.execute(sql.replace("%s", "?"), list(params)).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"DuckDB query failed: {exc}") from exc

    def _delete(self, sql: str, params: Sequence[Any]) -> int:
        rows = self._run(sql, params)
        return int(rows[0][0]) if rows else 0

    def _insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        batch = pa.table(dict(zip(columns, zip(*rows, strict=True), strict=True)))
        names = ", ".join(columns)
        try:
            self._con.register("_v2x_batch", batch)
            try:
                self._con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _v2x_batch")
            finally:
                self._con.unregister("_v2x_batch")
        except (duckdb.Error, pa.ArrowException) as exc:
            raise StoreError(f"DuckDB bulk insert into {table} failed: {exc}") from exc

    def _bbox_clause(self, bbox: BBox) -> tuple[str, list[Any]]:
        clause = "lat_deg BETWEEN %s AND %s AND lon_deg BETWEEN %s AND %s"
        return clause, [bbox.min_lat_deg, bbox.max_lat_deg, bbox.min_lon_deg, bbox.max_lon_deg]

    def _close(self) -> None:
        self._con.close()
