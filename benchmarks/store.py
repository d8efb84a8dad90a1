"""History store figures: participant-state write rate, and query latency at 10 M rows.

Prints, for DuckDB (embedded file) and PostgreSQL/PostGIS (a throwaway local server):
- rows/s of ``write_participants`` (the real bulk path: Arrow for DuckDB, COPY for PostgreSQL),
- latency of "latest state per participant" (last 60 s) and "trajectory of one participant
  over 10 minutes" once the table holds ``--rows`` rows (filled in bulk by SQL, 1 Hz per
  participant as the downsampling writer stores them).

    .venv/bin/python benchmarks/store.py             # 10 M rows, a few minutes
    .venv/bin/python benchmarks/store.py --rows 1e6  # quicker
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

from v2xcloud.model import ParticipantKind, ParticipantSource, ParticipantState
from v2xcloud.store import DuckDbStore, HistoryStore, PostgresStore
from v2xcloud.store.testing import TempPostgres

T0 = 1_700_000_000_000
PARTICIPANTS = 2000

_FILL = """INSERT INTO participant_states (timestamp_ms, id, kind, source, lat_deg, lon_deg,
    speed_mps, heading_deg, length_m, width_m)
SELECT {t0} + (i / {n}) * 1000, 'veh-' || (i % {n}), 'vehicle', 'bsm',
    31.2 + (i % {n}) * 1e-4 + (i / {n}) * 1e-6, 121.4 + (i / {n}) * 1e-6,
    10.0, 90.0, 4.5, 1.8
FROM {series}"""


def _states(ticks: int) -> list[ParticipantState]:
    return [
        ParticipantState(
            id=f"w-{p}",
            kind=ParticipantKind.VEHICLE,
            source=ParticipantSource.BSM,
            timestamp_ms=T0 - 10**9 + t * 100,
            lat_deg=31.2 + p * 1e-5,
            lon_deg=121.4 + t * 1e-6,
            speed_mps=12.0,
            heading_deg=90.0,
            length_m=4.5,
            width_m=1.8,
        )
        for t in range(ticks)
        for p in range(1000)
    ]


def _write_rate(store: HistoryStore, states: list[ParticipantState], batch: int) -> float:
    began = time.perf_counter()
    for i in range(0, len(states), batch):
        store.write_participants(states[i : i + batch])
    return len(states) / (time.perf_counter() - began)


def _latency_ms(call: Callable[[], object], repeats: int = 15) -> tuple[float, float]:
    call()  # warm caches once
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), max(times)


def _measure(name: str, store: HistoryStore, fill: Callable[[int], None], rows: int) -> None:
    states = _states(200)
    rate = _write_rate(store, states, batch=20_000)
    print(f"{name}: write_participants {rate:,.0f} rows/s ({len(states):,} rows, 20k per batch)")
    began = time.perf_counter()
    fill(rows)
    total = store.row_count("participant_states")
    print(f"{name}: bulk fill to {total:,} rows in {time.perf_counter() - began:.1f} s")
    end_ms = T0 + (rows // PARTICIPANTS - 1) * 1000
    latest = _latency_ms(lambda: store.latest_participants(at_ms=end_ms, window_ms=60_000))
    found = len(store.latest_participants(at_ms=end_ms, window_ms=60_000))
    print(f"{name}: latest state per participant ({found} found): "
          f"median {latest[0]:.1f} ms, max {latest[1]:.1f} ms")  # fmt: skip
    track_call = lambda: store.trajectory("veh-77", start_ms=end_ms - 600_000, end_ms=end_ms)  # noqa: E731
    track = _latency_ms(track_call)
    print(f"{name}: trajectory over 10 min ({len(track_call())} points): "
          f"median {track[0]:.1f} ms, max {track[1]:.1f} ms")  # fmt: skip


def _duckdb(rows: int) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        store = DuckDbStore(data_dir=data_dir)
        con = store._con  # benchmark-only: bulk SQL fill, bypassing the write path measured above

        def fill(n: int) -> None:
            con.execute(_FILL.format(t0=T0, n=PARTICIPANTS, series=f"range({n}) t(i)")
                        .replace("(i / ", "(i // "))  # fmt: skip

        _measure("duckdb", store, fill, rows)
        store.close()


def _postgres(rows: int) -> None:
    with TempPostgres(timeout_s=600) as server:
        store = PostgresStore(dsn=server.dsn)

        def fill(n: int) -> None:
            import psycopg

            with psycopg.connect(server.dsn, autocommit=True) as con:
                step = 2_000_000
                for lo in range(0, n, step):
                    series = f"generate_series({lo}::bigint, {min(lo + step, n) - 1}) i"
                    con.execute(_FILL.format(t0=T0, n=PARTICIPANTS, series=series).encode())
                con.execute("VACUUM ANALYZE participant_states")

        _measure("postgres", store, fill, rows)
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=10e6, help="rows to query against")
    parser.add_argument("--only", choices=("duckdb", "postgres"))
    args = parser.parse_args()
    rows = int(args.rows)
    if args.only in (None, "duckdb"):
        _duckdb(rows)
    if args.only in (None, "postgres"):
        _postgres(rows)


if __name__ == "__main__":
    main()
