"""Shared fixtures: where the third-party reference data lives; memory under a flood.

Outside CI a test that needs ``../shared/reference`` skips with the reason when it is absent.
In CI (environment ``CI`` set to anything but ``""``/``0``/``false``, as ``.ci/run`` does) such a
skip is turned into a failure, so the reference-data tests can never be skipped silently.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest

from v2xcloud.store import DuckDbStore, HistoryStore, PostgresStore
from v2xcloud.store.testing import TempPostgres, find_postgres_bin

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference"


def in_ci() -> bool:
    """True when the environment says this is a CI run (``CI=true``, ``CI=1``, ...)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/reference``; tests that need it skip with the reason when it is absent
    (and fail in CI, see the module docstring)."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip(
            f"reference data not found at {REFERENCE_DIR} (needs ../shared beside the repo)"
        )
    return REFERENCE_DIR


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """In CI, a test that uses ``reference_dir`` and skipped for want of the reference data
    fails instead, with the reason."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not (report.skipped and in_ci() and "reference_dir" in getattr(item, "fixturenames", ())):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
    if "reference" in str(reason).lower():  # a skip for another cause (no PostgreSQL) stays one
        report.outcome = "failed"
        report.longrepr = (
            f"reference-data test skipped in CI ({reason}); CI must run it: put the reference "
            f"data at {REFERENCE_DIR}"
        )


_FLOOD_MAIN = """
import gc, os

def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

fill(0, FIRST)
gc.collect()
after_first = _rss_bytes()
fill(FIRST, TOTAL)
gc.collect()
print(after_first, _rss_bytes() - after_first)
"""


@pytest.fixture(scope="session")
def flood_rss() -> Callable[[str, int, int], tuple[int, int]]:
    """Memory under a flood, measured in a fresh interpreter (no tracing overhead).

    ``flood_rss(code, first, total)`` runs ``code``, which must define ``fill(lo, hi)`` feeding
    ids ``lo..hi-1`` to the table under test, as ``fill(0, first)`` then ``fill(first, total)``;
    returns (resident bytes after the first part, growth in bytes over the rest). A bounded
    table stays flat: the rest adds (almost) nothing however many ids it brings.
    """

    def run(code: str, first: int, total: int) -> tuple[int, int]:
        script = textwrap.dedent(code) + _FLOOD_MAIN.replace("FIRST", str(first)).replace(
            "TOTAL", str(total)
        )
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr[-2000:]
        base, grown = map(int, out.stdout.split()[-2:])
        return base, grown

    return run


# --- history stores: one throwaway PostgreSQL/PostGIS server per session, and both backends
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
            "ev_reports, devices, audit_log, api_tokens, alarms"
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
