"""``v2xcloud export --out DIR [--from T] [--to T]``: share the history coarsened.

Writes ``traffic_cells.csv`` and ``manifest.json`` (format in ``v2xcloud.store.export``):
participant counts per ≥ 100 m grid cell, ≥ 1 s bucket and kind, groups of fewer than k = 5
participants suppressed, no id of any kind. ``--from``/``--to`` take UTC milliseconds or an ISO
8601 time (``2026-12-01T08:00:00+08:00``; a time without zone is UTC); the default is the last
7 days (the raw-trajectory retention). Every export is recorded in the audit trail (who:
``--actor``, default the OS user; what range; how many rows and suppressed groups). Prints the
summary as one JSON object; exit status 0, or 2 for settings finer than allowed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import time
from typing import Any

from v2xcloud.cli.audit_commands import add_store_arguments, anchor_path
from v2xcloud.errors import ConfigError

__all__ = ["parse_time_ms", "register"]

_DAY_MS = 86_400_000


def parse_time_ms(text: str, *, option: str) -> int:
    """UTC ms from digits (ms) or ISO 8601 (UTC when no zone); ``ConfigError`` otherwise."""
    if text.isdigit():
        return int(text)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r}: give UTC milliseconds or ISO 8601") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def register(sub: Any) -> None:
    """Attach ``export``."""
    p = sub.add_parser(
        "export",
        help="share the history coarsened (>= 100 m cells, >= 1 s, groups of >= 5, no ids)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the files")
    p.add_argument("--from", dest="start", default=None, metavar="T", help="start (ms or ISO)")
    p.add_argument("--to", dest="end", default=None, metavar="T", help="end, exclusive")
    p.add_argument("--grid-m", type=float, default=100.0, help="cell size, metres (>= 100)")
    p.add_argument("--bucket-s", type=int, default=1, help="time bucket, seconds (>= 1)")
    p.add_argument("--k", type=int, default=5, help="smallest group exported (>= 5)")
    p.add_argument("--actor", default=None, help="who exports (audit trail; default: OS user)")
    add_store_arguments(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from v2xcloud.store import open_store
    from v2xcloud.store.audit import AuditTrail
    from v2xcloud.store.export import ExportSettings, export_history

    now_ms = time.time_ns() // 1_000_000
    end = parse_time_ms(args.end, option="--to") if args.end else now_ms
    start = parse_time_ms(args.start, option="--from") if args.start else end - 7 * _DAY_MS
    settings = ExportSettings(grid_m=args.grid_m, bucket_s=args.bucket_s, k=args.k)
    settings.check()  # before opening anything
    actor = args.actor or getpass.getuser()
    store = open_store(args.db, data_dir=args.data_dir)
    try:
        trail = AuditTrail(store, anchor_path=anchor_path(args))
        summary = export_history(
            store, args.out, start_ms=start, end_ms=end, settings=settings, created_ms=now_ms
        )
        trail.record(
            actor,
            "export.made",
            summary.out_dir,
            detail={
                "export_id": summary.export_id,
                "from_ms": summary.from_ms,
                "to_ms": summary.to_ms,
                "rows": summary.rows,
                "suppressed_groups": summary.suppressed_groups,
                "grid_m": settings.grid_m,
                "bucket_s": settings.bucket_s,
                "k": settings.k,
            },
            at_ms=now_ms,
        )
    finally:
        store.close()
    print(
        json.dumps(
            {
                "export_id": summary.export_id,
                "out": summary.out_dir,
                "from_ms": summary.from_ms,
                "to_ms": summary.to_ms,
                "rows": summary.rows,
                "suppressed_groups": summary.suppressed_groups,
                "suppressed_observations": summary.suppressed_observations,
            }
        )
    )
    return 0
