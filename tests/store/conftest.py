"""Store fixtures: one throwaway PostgreSQL/PostGIS server per session, and both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from v2xcloud.store import DuckDbStore, HistoryStore, PostgresStore
from v2xcloud.store.testing import TempPostgres, find_postgres_bin


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """DSN of a temp PostgreSQL server (skips only if the binaries are absent)."""
    if find_postgres_bin() is None:
        pytest.skip(
            "PostgreSQL binaries absent under /usr/lib/postgresql (make test installs them)"
        )
    with TempPostgres() as server:
        yield server.dsn


def _reset_postgres(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(
            "DROP TABLE IF EXISTS participant_states, advisories, road_events, dead_letters, "
            "ev_reports, devices"
        )


@pytest.fixture(params=["duckdb", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistoryStore]:
    """A fresh, empty store of each backend."""
    backend: HistoryStore
    if request.param == "duckdb":
        backend = DuckDbStore(data_dir=tmp_path)
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        _reset_postgres(dsn)
        backend = PostgresStore(dsn=dsn)
    yield backend
    backend.close()
