"""Local API tokens: minted once, stored hashed, checked in constant time, revocable.

A token reads ``v2x_<id>_<secret>``: ``id`` (12 hex digits) is public — it names the token
in listings, revocations and the audit trail — and ``secret`` is 256 random bits
(``secrets.token_urlsafe(32)``). Only the SHA-256 digest of the secret is stored (a fast hash
is enough for a 256-bit random secret: there is no dictionary to try; the digest cannot be
turned back into the token), and a presented token is checked with ``hmac.compare_digest``.

``TokenBook`` keeps the rows of the history store's ``api_tokens`` table (``store.tokens``)
in memory and re-reads them at most every ``refresh_s`` when asked, so a token revoked by
another process (``v2xcloud token revoke`` against the same PostgreSQL) stops working within
``refresh_s``; a revocation through this book takes effect at once. The table is bounded:
at most ``max_tokens`` rows; rows revoked or expired longer than ``keep_ended_ms`` ago are
deleted before a new token is refused for want of room.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable

import msgspec

from v2xcloud.api.access import PLATFORM, Principal, Role
from v2xcloud.errors import ConfigError, StoreError
from v2xcloud.store import HistoryStore
from v2xcloud.store.tokens import TokenRecord, TokenTable

__all__ = ["PREFIX", "TokenBook", "check_tenant", "digest", "parse_token", "wall_clock_ms"]

logger = logging.getLogger(__name__)

PREFIX = "v2x_"
"""Every local token starts with this (so it is told apart from a JWT and found by scanners)."""

_ID_HEX = 12
_DAY_MS = 86_400_000
_TENANT_MAX = 64


def wall_clock_ms() -> int:
    """Now, UTC milliseconds (tokens live in real time, not the platform's scenario time)."""
    return time.time_ns() // 1_000_000


def digest(secret: str) -> str:
    """SHA-256 of a token's secret, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed local token, else ``None``."""
    if not token.startswith(PREFIX) or len(token) < len(PREFIX) + _ID_HEX + 2:
        return None
    token_id = token[len(PREFIX) : len(PREFIX) + _ID_HEX]
    if token[len(PREFIX) + _ID_HEX] != "_":
        return None
    if any(c not in "0123456789abcdef" for c in token_id):
        return None
    return token_id, token[len(PREFIX) + _ID_HEX + 1 :]


def check_tenant(tenant: str) -> str:
    """A tenant name: ``"*"`` (platform-wide) or 1-64 of letters, digits, ``-``, ``_``, ``.``."""
    ok = tenant == PLATFORM or (
        0 < len(tenant) <= _TENANT_MAX and all(c.isalnum() or c in "-_." for c in tenant)
    )
    if not ok:
        raise ConfigError(
            f"tenant {tenant!r}: use '*' (platform-wide) or 1-{_TENANT_MAX} letters, digits, "
            "'-', '_', '.'"
        )
    return tenant


class TokenBook:
    """The local tokens; see the module docstring. Thread-safe."""

    def __init__(
        self,
        table: TokenTable | None,
        *,
        clock_ms: Callable[[], int] = wall_clock_ms,
        refresh_s: float = 2.0,
        max_tokens: int = 10_000,
        keep_ended_ms: int = 30 * _DAY_MS,
    ) -> None:
        self._table = table
        self._clock_ms = clock_ms
        self.refresh_s = refresh_s
        self.max_tokens = max_tokens
        self.keep_ended_ms = keep_ended_ms
        self._lock = threading.Lock()
        self._records: dict[str, TokenRecord] = {}
        self._loaded_at = float("-inf")
        self.reload_failures = 0
        self._reload(force=True)

    @classmethod
    def over(cls, store: HistoryStore | None, **options: object) -> TokenBook:
        """A book persisted in ``store`` (in memory only when ``store`` is not SQL)."""
        try:
            table = TokenTable(store) if store is not None else None
        except StoreError as exc:
            logger.warning("API tokens kept in memory only: %s", exc)
            table = None
        return cls(table, **options)  # type: ignore[arg-type]

    @property
    def is_persistent(self) -> bool:
        """Whether tokens survive a restart (kept in the history store)."""
        return self._table is not None

    def _reload(self, *, force: bool = False) -> None:
        if self._table is None:
            return
        now = time.monotonic()
        if not force and now - self._loaded_at < self.refresh_s:
            return
        self._loaded_at = now
        try:
            rows = self._table.load_all()
        except StoreError as exc:  # keep serving the last known set; counted and logged
            self.reload_failures += 1
            logger.warning(
                "API tokens not re-read (keeping the last %d): %s", len(self._records), exc
            )
            return
        with self._lock:
            self._records = {r.token_id: r for r in rows}

    def has_tokens(self) -> bool:
        """Whether any live token exists (reads are open only while none does)."""
        self._reload()
        now = self._clock_ms()
        with self._lock:
            return any(r.is_live(now) for r in self._records.values())

    def create(
        self,
        *,
        role: Role,
        tenant: str,
        label: str = "",
        created_by: str = "",
        ttl_days: float | None = 90.0,
    ) -> tuple[str, TokenRecord]:
        """Mint a token; returns ``(token, record)``: the token is shown once, never stored."""
        check_tenant(tenant)
        if len(label) > 200:
            raise ConfigError(f"token label is {len(label)} characters; at most 200")
        if ttl_days is not None and not 0 < ttl_days <= 3650:
            raise ConfigError(f"ttl_days {ttl_days}: between 0 and 3650 days, or none")
        now = self._clock_ms()
        self._make_room(now)
        token_id = secrets.token_hex(_ID_HEX // 2)
        secret = secrets.token_urlsafe(32)
        record = TokenRecord(
            token_id=token_id,
            digest=digest(secret),
            role=Role(role).value,
            tenant=tenant,
            label=label,
            created_by=created_by,
            created_ms=now,
            expires_ms=None if ttl_days is None else now + int(ttl_days * _DAY_MS),
        )
        if self._table is not None:
            self._table.save(record)
        with self._lock:
            self._records[token_id] = record
        return f"{PREFIX}{token_id}_{secret}", record

    def _make_room(self, now_ms: int) -> None:
        with self._lock:
            stored = len(self._records)
        if stored < self.max_tokens:
            return
        cutoff = now_ms - self.keep_ended_ms
        if self._table is not None:
            self._table.delete_ended_before(cutoff)
            self._reload(force=True)
        else:
            with self._lock:
                self._records = {
                    k: r for k, r in self._records.items() if not _ended_before(r, cutoff)
                }
        with self._lock:
            if len(self._records) >= self.max_tokens:
                raise ConfigError(
                    f"token table full ({self.max_tokens} tokens): revoke unused tokens first"
                )

    def list(self, tenant: str | None = None) -> list[TokenRecord]:
        """Every stored token (of ``tenant`` only, when given), oldest first."""
        self._reload()
        with self._lock:
            found = list(self._records.values())
        found.sort(key=lambda r: (r.created_ms, r.token_id))
        return [r for r in found if tenant is None or r.tenant == tenant]

    def get(self, token_id: str) -> TokenRecord | None:
        """The record of ``token_id``, or ``None``."""
        self._reload()
        with self._lock:
            return self._records.get(token_id)

    def revoke(self, token_id: str) -> TokenRecord:
        """Revoke at once (``KeyError`` when unknown); revoking twice keeps the first time."""
        self._reload(force=True)
        with self._lock:
            record = self._records[token_id]
        if record.revoked_ms is not None:
            return record
        revoked = msgspec.structs.replace(record, revoked_ms=self._clock_ms())
        if self._table is not None:
            self._table.save(revoked)
        with self._lock:
            self._records[token_id] = revoked
        return revoked

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a live, matching token; ``None`` otherwise."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        token_id, secret = parsed
        self._reload()
        with self._lock:
            record = self._records.get(token_id)
        if record is None:
            # compare anyway: an unknown id costs the same as a wrong secret
            hmac.compare_digest(digest(secret), "0" * 64)
            return None
        if not hmac.compare_digest(digest(secret), record.digest):
            return None
        if not record.is_live(self._clock_ms()):
            return None
        return Principal(
            role=Role(record.role), tenant=record.tenant, via="token", subject=record.token_id
        )


def _ended_before(record: TokenRecord, cutoff_ms: int) -> bool:
    """Revoked or expired before ``cutoff_ms`` (the table's delete rule, in memory)."""
    revoked = record.revoked_ms is not None and record.revoked_ms < cutoff_ms
    expired = record.expires_ms is not None and record.expires_ms < cutoff_ms
    return revoked or expired
