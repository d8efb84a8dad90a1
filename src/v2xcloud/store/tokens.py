"""The API token table (``api_tokens``) in the history store, on both backends.

One row per token: its public id, the SHA-256 digest of its secret (never the secret), role,
tenant, label, who created it, when it was created, when it expires and when it was revoked.
The table is bounded by its writer (``api.tokens.TokenBook``: a maximum number of rows, rows
revoked or expired for longer than a grace period deleted first).

>>> from v2xcloud.store import DuckDbStore
>>> table = TokenTable(DuckDbStore(data_dir=None))
>>> table.save(TokenRecord(token_id="ab12", digest="00", role="viewer", tenant="t1",
...                        created_ms=1))
>>> [r.token_id for r in table.load_all()]
['ab12']
"""

from __future__ import annotations

from typing import Any

import msgspec

from v2xcloud.errors import StoreError
from v2xcloud.store._sql_store import SqlHistoryStore
from v2xcloud.store.base import HistoryStore

__all__ = ["TOKEN_COLUMNS", "TokenRecord", "TokenTable"]

TOKEN_COLUMNS = (
    "token_id",
    "digest",
    "role",
    "tenant",
    "label",
    "created_by",
    "created_ms",
    "expires_ms",
    "revoked_ms",
)

_CREATE = """CREATE TABLE IF NOT EXISTS api_tokens (
    token_id TEXT PRIMARY KEY, digest TEXT NOT NULL, role TEXT NOT NULL, tenant TEXT NOT NULL,
    label TEXT NOT NULL, created_by TEXT NOT NULL, created_ms BIGINT NOT NULL,
    expires_ms BIGINT, revoked_ms BIGINT)"""


class TokenRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One stored API token (no secret: ``digest`` is the SHA-256 of it, hex)."""

    token_id: str
    digest: str
    role: str
    tenant: str
    label: str = ""
    created_by: str = ""
    created_ms: int
    expires_ms: int | None = None
    revoked_ms: int | None = None

    def is_live(self, now_ms: int) -> bool:
        """Neither revoked nor expired at ``now_ms``."""
        return self.revoked_ms is None and (self.expires_ms is None or now_ms < self.expires_ms)


class TokenTable:
    """Save, load and delete ``TokenRecord`` rows in a DuckDB or PostgreSQL history store."""

    def __init__(self, store: HistoryStore) -> None:
        if not isinstance(store, SqlHistoryStore):
            raise StoreError(f"the token table needs a SQL history store, not {type(store)}")
        self._store = store
        store._select(_CREATE)

    def save(self, record: TokenRecord) -> None:
        """Insert or replace one token row."""
        self._store._upsert("api_tokens", TOKEN_COLUMNS, [_row(record)])

    def load_all(self) -> list[TokenRecord]:
        """Every stored token, oldest first."""
        rows = self._store._select(
            f"SELECT {', '.join(TOKEN_COLUMNS)} FROM api_tokens ORDER BY created_ms, token_id"
        )
        return [_record(row) for row in rows]

    def delete_ended_before(self, cutoff_ms: int) -> int:
        """Delete tokens revoked or expired before ``cutoff_ms``; returns how many."""
        where = (
            "(revoked_ms IS NOT NULL AND revoked_ms < %s) "
            "OR (expires_ms IS NOT NULL AND expires_ms < %s)"
        )
        before = self.count()
        self._store._select(f"DELETE FROM api_tokens WHERE {where}", (cutoff_ms, cutoff_ms))
        return before - self.count()

    def count(self) -> int:
        """Number of stored tokens (revoked and expired included)."""
        return int(self._store._select("SELECT count(*) FROM api_tokens")[0][0])


def _row(r: TokenRecord) -> tuple[Any, ...]:
    return (
        r.token_id,
        r.digest,
        r.role,
        r.tenant,
        r.label,
        r.created_by,
        r.created_ms,
        r.expires_ms,
        r.revoked_ms,
    )


def _record(row: tuple[Any, ...]) -> TokenRecord:
    return TokenRecord(
        token_id=row[0],
        digest=row[1],
        role=row[2],
        tenant=row[3],
        label=row[4],
        created_by=row[5],
        created_ms=int(row[6]),
        expires_ms=None if row[7] is None else int(row[7]),
        revoked_ms=None if row[8] is None else int(row[8]),
    )
