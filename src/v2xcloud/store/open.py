"""Choose the history backend from one setting."""

from __future__ import annotations

from pathlib import Path

from v2xcloud.errors import ConfigError
from v2xcloud.store.base import HistoryStore, Retention
from v2xcloud.store.duckdb_store import DuckDbStore
from v2xcloud.store.postgres_store import PostgresStore
from v2xcloud.store.pseudonyms import KEYS_FILE

__all__ = ["open_store"]


def open_store(
    url: str | None, *, data_dir: Path | str = "data", retention: Retention | None = None
) -> HistoryStore:
    """Open the history named by ``url``.

    ``None``/``""``/``"duckdb"`` → DuckDB file under ``data_dir``; ``"duckdb:///path/dir"`` →
    DuckDB under that directory; ``"memory"`` → in-memory DuckDB; ``"postgresql://..."`` (or
    ``"postgres://..."``) → PostgreSQL/PostGIS. Anything else raises ``ConfigError``.
    """
    if not url or url == "duckdb":
        return DuckDbStore(data_dir=data_dir, retention=retention)
    if url == "memory":
        return DuckDbStore(data_dir=None, retention=retention)
    if url.startswith("duckdb://"):
        return DuckDbStore(data_dir=url.removeprefix("duckdb://"), retention=retention)
    if url.startswith(("postgresql://", "postgres://")):
        # the pseudonym keys stay on this host, never in the shared database
        return PostgresStore(dsn=url, retention=retention, keys_path=Path(data_dir) / KEYS_FILE)
    raise ConfigError(
        f"unknown history store {url!r}: use 'duckdb', 'duckdb:///dir', 'memory' or "
        "'postgresql://user@host/db'"
    )
