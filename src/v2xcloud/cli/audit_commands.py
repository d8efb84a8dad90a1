"""``v2xcloud audit verify|list``: check and read the hash-chained audit trail.

- ``verify [--db URL] [--data-dir DIR] [--anchor FILE]``: walks the whole chain in the history
  store and, when the anchor file exists (default ``<data-dir>/audit-head.json``, the file the
  platform writes the head to after each append), checks that the anchored head is still
  there and unchanged. Prints one JSON object (``ok``, ``rows``, ``first_seq``, ``head_seq``,
  ``problems``); exit status 0 when the chain is whole, 1 when a row was edited, deleted,
  reordered or the tail truncated.
- ``list [--from MS] [--to MS] [--action A] [--limit N]``: one JSON object per row, oldest
  first.

``--db`` takes the same values as ``serve --store`` (``duckdb``, ``duckdb:///dir``,
``postgresql://...``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import msgspec

from v2xcloud.errors import ConfigError

__all__ = ["ANCHOR_NAME", "add_store_arguments", "anchor_path", "register"]

ANCHOR_NAME = "audit-head.json"
"""The anchor file's name under the data directory, unless ``--anchor`` says otherwise."""


def anchor_path(args: argparse.Namespace) -> Path:
    """The anchor file named by ``--anchor``, else ``<--data-dir>/audit-head.json``."""
    return Path(args.anchor) if args.anchor else Path(args.data_dir) / ANCHOR_NAME


def add_store_arguments(p: argparse.ArgumentParser) -> None:
    """``--db``, ``--data-dir`` and ``--anchor`` (shared with ``export``)."""
    p.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="history store: duckdb (default, under --data-dir), duckdb:///dir, postgresql://...",
    )
    p.add_argument("--data-dir", default="data", help="where the DuckDB history file lives")
    p.add_argument(
        "--anchor", default=None, metavar="FILE", help="audit head anchor (default: data-dir)"
    )


def register(sub: Any) -> None:
    """Attach ``audit verify`` and ``audit list``."""
    audit = sub.add_parser("audit", help="verify or list the audit trail")
    commands = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = commands.add_parser("verify", help="check the hash chain (edited/deleted/reordered)")
    add_store_arguments(verify)
    verify.set_defaults(func=_verify)
    listing = commands.add_parser("list", help="print audit rows as JSON lines")
    add_store_arguments(listing)
    listing.add_argument(
        "--from", dest="start_ms", type=int, default=None, metavar="MS", help="from (UTC ms)"
    )
    listing.add_argument(
        "--to", dest="end_ms", type=int, default=None, metavar="MS", help="up to (UTC ms)"
    )
    listing.add_argument("--action", default=None, help="only this action (e.g. event.posted)")
    listing.add_argument("--limit", type=int, default=1000, help="at most this many rows")
    listing.set_defaults(func=_list)


def _open(args: argparse.Namespace) -> Any:
    from v2xcloud.store import open_store
    from v2xcloud.store.audit import AuditTrail

    store = open_store(args.db, data_dir=args.data_dir)
    return store, AuditTrail(store, anchor_path=anchor_path(args))


def _verify(args: argparse.Namespace) -> int:
    store, trail = _open(args)
    try:
        path = anchor_path(args)
        check = trail.verify()
    finally:
        store.close()
    print(
        json.dumps(
            {
                "ok": check.is_ok,
                "rows": check.rows_checked,
                "first_seq": check.first_seq,
                "head_seq": check.head_seq,
                "head_hash": check.head_hash,
                "anchor": str(path) if path.exists() else None,
                "problems": list(check.problems),
            }
        )
    )
    return 0 if check.is_ok else 1


def _list(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, not {args.limit}")
    store, trail = _open(args)
    try:
        rows = trail.entries(
            start_ms=args.start_ms, end_ms=args.end_ms, action=args.action, limit=args.limit
        )
    finally:
        store.close()
    for row in rows:
        print(msgspec.json.encode(row).decode())
    return 0
