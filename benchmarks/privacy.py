"""Privacy and audit figures: what keyed-hash ids, the audit chain and exports cost.

Prints, on DuckDB (a file in a temp directory):
- ``write_participants`` rows/s with ids stored as daily keyed hashes and with raw ids,
  alternating in the same run, in memory and on a file (the ratio is the figure; the machine
  is shared; random-looking ids compress worse than sequential ones on disk);
- audit trail ``record`` rows/s (each one a read of the head, one insert and commit, the anchor
  file), ``submit`` (the caller's cost, and rows/s appended in batches by its thread) and
  ``verify`` rows/s over the chain;
- ``export`` participant states aggregated per second (cells, buckets, k-anonymity) for a
  table of ``--rows`` states.

    .venv/bin/python benchmarks/privacy.py                 # 1 M states
    .venv/bin/python benchmarks/privacy.py --rows 2e5      # quicker
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from v2xcloud.model import ParticipantKind, ParticipantSource, ParticipantState
from v2xcloud.store import DuckDbStore
from v2xcloud.store.audit import AuditTrail
from v2xcloud.store.export import export_history

T0 = 1_764_000_000_000
PARTICIPANTS = 2000


def _states(tick: int) -> list[ParticipantState]:
    return [
        ParticipantState(
            id=f"{p:016x}",
            kind=ParticipantKind.VEHICLE,
            source=ParticipantSource.BSM,
            timestamp_ms=T0 + tick * 1000,
            lat_deg=28.19 + (p % 50) * 2e-4,
            lon_deg=112.97 + (p // 50) * 2e-4,
            speed_mps=10.0,
            heading_deg=90.0,
        )
        for p in range(PARTICIPANTS)
    ]


def bench_writes(root: Path | None, rounds: int = 6, ticks: int = 10) -> None:
    """Rows/s of write_participants, keyed-hash ids vs raw ids, alternating (``root``: a
    DuckDB file under it; ``None``: in memory)."""
    batches = [_states(t) for t in range(ticks)]
    rates: dict[bool, list[float]] = {True: [], False: []}
    for i in range(rounds):
        for pseudonymize in (True, False) if i % 2 == 0 else (False, True):
            where = None if root is None else root / f"w{i}{pseudonymize}"
            store = DuckDbStore(data_dir=where, pseudonymize=pseudonymize)
            start = time.perf_counter()
            for batch in batches:
                store.write_participants(batch)
            rates[pseudonymize].append(len(batches) * PARTICIPANTS / (time.perf_counter() - start))
            store.close()
    hashed, raw = statistics.median(rates[True]), statistics.median(rates[False])
    print(
        f"write_participants ({'in memory' if root is None else 'DuckDB file'}): keyed-hash ids "
        f"{hashed:,.0f} rows/s, raw ids {raw:,.0f} rows/s (ratio {hashed / raw:.2f}, median "
        f"of {rounds}, batches of {PARTICIPANTS})"
    )


def bench_audit(root: Path, appends: int = 2000) -> None:
    """Appends/s and verify rows/s of the audit trail."""
    store = DuckDbStore(data_dir=root / "audit")
    trail = AuditTrail(store, anchor_path=root / "audit" / "audit-head.json")
    start = time.perf_counter()
    for i in range(appends):
        trail.record("bench", "device.added", f"rsu-{i}", tenant="t", detail={"i": i}, at_ms=i)
    append_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(appends * 4):  # what a server does: queued, appended in batches
        trail.submit("bench", "ev.login_refused", f"VIN{i}", detail={"i": i}, at_ms=appends + i)
    submit_s = time.perf_counter() - start
    trail.flush(timeout_s=120)
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    check = trail.verify()
    verify_s = time.perf_counter() - start
    assert check.is_ok, check.problems
    print(
        f"audit: record {appends / append_s:,.0f} rows/s ({append_s / appends * 1e3:.2f} ms each: "
        f"a commit and the anchor file per row); submit {submit_s / (appends * 4) * 1e6:.1f} us "
        f"on the caller, {appends * 4 / batched_s:,.0f} rows/s appended in batches; "
        f"verify {check.rows_checked / verify_s:,.0f} rows/s"
    )
    store.close()


def bench_export(root: Path, rows: int) -> None:
    """States aggregated per second by export_history."""
    store = DuckDbStore(data_dir=root / "export")
    ticks = max(1, rows // PARTICIPANTS)
    for t in range(ticks):
        store.write_participants(_states(t))
    start = time.perf_counter()
    summary = export_history(
        store, root / "out", start_ms=T0, end_ms=T0 + ticks * 1000, created_ms=T0
    )
    elapsed = time.perf_counter() - start
    n = ticks * PARTICIPANTS
    print(
        f"export: {n:,} states in {elapsed:.2f} s ({n / elapsed:,.0f} states/s): "
        f"{summary.rows:,} rows kept, {summary.suppressed_groups:,} groups under k suppressed"
    )
    store.close()


def main() -> None:
    """Run every part."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=float, default=1e6, help="states for the export part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="v2x-privacy-") as tmp:
        root = Path(tmp)
        bench_writes(None)
        bench_writes(root)
        bench_audit(root)
        bench_export(root, int(args.rows))


if __name__ == "__main__":
    main()
