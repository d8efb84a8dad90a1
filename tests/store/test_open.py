"""Choosing a backend from a URL, and clear errors for bad settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from v2xcloud.errors import ConfigError, StoreError
from v2xcloud.store import DuckDbStore, PostgresStore, open_store


def test_duckdb_file_under_data_dir(tmp_path: Path) -> None:
    store = open_store(None, data_dir=tmp_path / "d")
    assert isinstance(store, DuckDbStore)
    assert store.path == tmp_path / "d" / "history.duckdb"
    assert store.path.exists()
    store.close()


def test_memory_and_explicit_duckdb(tmp_path: Path) -> None:
    assert isinstance(open_store("memory"), DuckDbStore)
    store = open_store(f"duckdb://{tmp_path}/x")
    assert isinstance(store, DuckDbStore) and store.path == tmp_path / "x" / "history.duckdb"


def test_postgres_url(postgres_dsn: str) -> None:
    host_port = dict(part.split("=") for part in postgres_dsn.split())
    url = f"postgresql://postgres@127.0.0.1:{host_port['port']}/postgres"
    store = open_store(url)
    assert isinstance(store, PostgresStore)
    store.close()


def test_unknown_url_says_what_is_accepted() -> None:
    with pytest.raises(ConfigError, match=r"unknown history store 'mysql://x'.*duckdb"):
        open_store("mysql://x")


def test_unreachable_postgres_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot connect"):
        PostgresStore(dsn="host=127.0.0.1 port=1 user=x dbname=x connect_timeout=2")
