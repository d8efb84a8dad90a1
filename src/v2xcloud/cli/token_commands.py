"""``v2xcloud token create|list|revoke``: the API's local tokens, in the history store.

``create --role R --tenant T`` prints the new token once (it is stored only as a SHA-256
digest) on stdout and its id on stderr; ``list`` prints one line per token (never the token);
``create`` and ``revoke`` are recorded in the store's audit trail (actor ``cli``, head
anchored under ``--data-dir`` like ``serve``'s). ``revoke ID`` ends a token at once for this store (a running ``serve`` over the same
PostgreSQL notices within ``token_refresh_s``, 2 s). With the default DuckDB history the file
is locked by a running ``serve``: stop it, or use ``POST /api/tokens`` while it runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from v2xcloud.errors import ConfigError

if TYPE_CHECKING:
    from v2xcloud.api.tokens import TokenBook
    from v2xcloud.store import HistoryStore

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Attach ``token`` with ``create``, ``list`` and ``revoke``."""
    p = sub.add_parser(
        "token",
        help="create, list and revoke API tokens (roles admin/operator/viewer per tenant)",
        description="Local API tokens, stored hashed in the history store.",
    )
    actions = p.add_subparsers(dest="token_action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="mint a token and print it once")
    create.add_argument(
        "--role",
        required=True,
        choices=("admin", "operator", "viewer"),
        help="what it may do: read (viewer), also act (operator), also manage (admin)",
    )
    create.add_argument(
        "--tenant", required=True, help="the organisation it acts for; '*' is platform-wide"
    )
    create.add_argument("--label", default="", help="what it is for (shown in listings)")
    create.add_argument(
        "--ttl-days", type=float, default=90.0, help="lifetime in days (0: never expires)"
    )
    create.set_defaults(func=_create)
    listing = actions.add_parser("list", help="list tokens (never the secrets)")
    listing.add_argument("--tenant", default=None, help="only this tenant's")
    listing.set_defaults(func=_list)
    revoke = actions.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id", help="the id `token list` shows")
    revoke.set_defaults(func=_revoke)
    for parser in (create, listing, revoke):
        parser.add_argument(
            "--store",
            default=None,
            help="history: duckdb (default, under --data-dir), duckdb:///dir or "
            "postgresql://user@host/db (the one serve uses)",
        )
        parser.add_argument("--data-dir", default="data", help="where the DuckDB file lives")


def _book(args: argparse.Namespace) -> tuple[HistoryStore, TokenBook]:
    from v2xcloud.api.tokens import TokenBook
    from v2xcloud.store import open_store

    if args.store == "memory":
        raise ConfigError("--store memory would forget the token at once; name a real store")
    store = open_store(args.store, data_dir=args.data_dir)
    return store, TokenBook.over(store)


def _audit(args: argparse.Namespace, store: HistoryStore, action: str, record: Any) -> None:
    """Record a token change in the store's audit trail."""
    from v2xcloud.api.tokens import wall_clock_ms
    from v2xcloud.cli.audit_commands import ANCHOR_NAME
    from v2xcloud.store.audit import AuditTrail

    trail = AuditTrail(store, anchor_path=Path(args.data_dir) / ANCHOR_NAME)
    trail.record(
        "cli",
        action,
        record.token_id,
        tenant=record.tenant,
        detail={"role": record.role, "label": record.label},
        at_ms=wall_clock_ms(),
    )


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _create(args: argparse.Namespace) -> int:
    from v2xcloud.api.access import Role

    store, book = _book(args)
    try:
        token, record = book.create(
            role=Role(args.role),
            tenant=args.tenant,
            label=args.label,
            created_by="cli",
            ttl_days=None if args.ttl_days == 0 else args.ttl_days,
        )
        _audit(args, store, "token.created", record)
    finally:
        store.close()
    print(token)
    print(
        f"token {record.token_id}: {record.role} of tenant {record.tenant!r}, expires "
        f"{_when(record.expires_ms)} (shown once; only its hash is stored)",
        file=sys.stderr,
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    from v2xcloud.api.tokens import wall_clock_ms

    store, book = _book(args)
    try:
        records = book.list(args.tenant)
    finally:
        store.close()
    now = wall_clock_ms()
    print("token_id      role      tenant          state    created              expires  label")
    for r in records:
        state = "revoked" if r.revoked_ms is not None else "live" if r.is_live(now) else "expired"
        print(
            f"{r.token_id}  {r.role:<8}  {r.tenant:<14}  {state:<7}  {_when(r.created_ms)}  "
            f"{_when(r.expires_ms)}  {r.label}"
        )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    store, book = _book(args)
    try:
        try:
            record = book.revoke(args.token_id)
        except KeyError:
            raise ConfigError(f"token {args.token_id!r} not found in this store") from None
        _audit(args, store, "token.revoked", record)
    finally:
        store.close()
    print(f"token {record.token_id} revoked at {_when(record.revoked_ms)}")
    return 0
