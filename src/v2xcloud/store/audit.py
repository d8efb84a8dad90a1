"""The audit trail: an append-only, hash-chained table of who did what (``audit_log``).

Every write an operator or a device makes through the platform (device added or disabled,
event posted, retention changed, token created, data exported) and every refused login is one
row: when (``at_ms``), who (``actor``), what (``action``, a dotted verb such as
``"export.made"`` or ``"ev.login_refused"``), on what (``target``), for which tenant, and a
JSON ``detail``. Rows are numbered from 1 (``seq``) and chained: each row's ``hash`` is
SHA-256 over the previous row's hash and the row's own canonical content (seq included), so

- an **edited** row no longer matches its hash;
- a **deleted** row leaves a gap in ``seq`` and a ``prev_hash`` that matches nothing;
- **reordered** rows (``seq`` or content swapped) break both rows' hashes;
- a **truncated tail** is found only against an anchor kept outside the database: after each
  append the head (``seq``, ``hash``) is written to the anchor file (``anchor_path``) and
  logged (logger ``v2xcloud.store.audit``, INFO, ``audit head seq=N hash=H``), so whoever
  ships logs off the host holds a copy too.

What an attacker with write access to the database can still do (SHA-256 has no key): rewrite
the rows *after* the last anchored head and recompute their hashes, or append forged rows at
the end. Rewriting anything up to the anchored head, deleting rows up to it, or truncating below
it is detected by ``verify(anchor=...)``. The anchor must therefore live where the database's
writers cannot reach (another host, a write-once log); on one machine a file beside the data is
only as safe as that file's permissions.

Retention keeps rows at least 180 days (``MIN_RETENTION_MS``; less is refused). It deletes
only a *prefix* of the chain (rows older than the cut-off up to the first newer row — never a
newer row), and first appends a ``audit.checkpoint`` row naming the last deleted ``seq`` and
its ``hash``, so ``verify`` accepts the shortened chain and still detects a prefix deleted
without a checkpoint. The table grows with operator activity only, bounded by that retention.

>>> from v2xcloud.store import DuckDbStore
>>> trail = AuditTrail(DuckDbStore(data_dir=None))
>>> trail.record("admin", "device.added", "rsu-1", tenant="t1", detail={"kind": "rsu"}, at_ms=5).seq
1
>>> trail.verify().is_ok
True
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from v2xcloud.errors import ConfigError, StoreError
from v2xcloud.store._sql_store import SqlHistoryStore
from v2xcloud.store.base import HistoryStore

__all__ = [
    "AUDIT_COLUMNS",
    "CHECKPOINT_ACTION",
    "GENESIS_HASH",
    "MIN_RETENTION_MS",
    "AuditCheck",
    "AuditEntry",
    "AuditTrail",
    "read_anchor",
]

logger = logging.getLogger(__name__)

MIN_RETENTION_MS = 180 * 86_400_000
"""Audit rows are kept at least this long (180 days)."""
GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of row 1."""
CHECKPOINT_ACTION = "audit.checkpoint"
"""The action of the row retention appends before deleting a prefix of the chain."""

AUDIT_COLUMNS = (
    "seq",
    "at_ms",
    "actor",
    "action",
    "target",
    "tenant",
    "detail",
    "prev_hash",
    "hash",
)

_CREATE = """CREATE TABLE IF NOT EXISTS audit_log (
    seq BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, tenant TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL)"""
_INDEX = "CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at_ms)"
_APPEND_ATTEMPTS = 5
_Item = tuple[
    int, str, str, str, str, dict[str, Any]
]  # at_ms, actor, action, target, tenant, detail


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the audit trail (``detail`` is the decoded JSON object)."""

    seq: int
    at_ms: int
    actor: str
    action: str
    target: str
    tenant: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditCheck(msgspec.Struct, frozen=True, kw_only=True):
    """What ``AuditTrail.verify`` found: ``is_ok`` unless ``problems`` names something.

    ``first_seq``/``head_seq``/``head_hash`` describe the chain as stored (0/genesis when
    empty); each problem is one sentence naming the row (``seq``) and what is wrong.
    """

    is_ok: bool
    rows_checked: int
    first_seq: int
    head_seq: int
    head_hash: str
    problems: tuple[str, ...]


def _content_hash(prev_hash: str, e: Mapping[str, Any]) -> str:
    content = json.dumps(
        [e["seq"], e["at_ms"], e["actor"], e["action"], e["target"], e["tenant"], e["detail"]],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


def read_anchor(path: Path | str) -> tuple[int, str]:
    """The (seq, hash) an anchor file holds; raises ``ConfigError`` if unreadable."""
    try:
        doc = json.loads(Path(path).read_text())
        return int(doc["seq"]), str(doc["hash"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read the audit anchor {path}: {exc}") from exc


class AuditTrail:
    """Append to, list and verify the hash-chained ``audit_log`` of a SQL history store.

    ``record`` appends now (a command-line tool); ``submit`` queues for a background thread
    that appends in batches (a server: never blocks its loop; ``flush`` waits for it, and
    closing the store flushes first).
    ``anchor_path``: a file that receives the head (seq, hash) after every append (atomic
    replace); ``retention_ms`` at least ``MIN_RETENTION_MS``. Appends from several processes
    on one PostgreSQL database stay one chain: ``seq`` is the primary key, and an append that
    loses the race re-reads the head and retries. Raises ``StoreError`` when the store fails.
    """

    def __init__(
        self,
        store: HistoryStore,
        *,
        anchor_path: Path | str | None = None,
        retention_ms: int = MIN_RETENTION_MS,
        max_pending: int = 10_000,
    ) -> None:
        if not isinstance(store, SqlHistoryStore):
            raise StoreError(f"the audit trail needs a SQL history store, not {type(store)}")
        if retention_ms < MIN_RETENTION_MS:
            raise ConfigError(
                f"audit retention {retention_ms} ms is under the 180 days required; "
                f"use at least {MIN_RETENTION_MS} ms"
            )
        self._store = store
        self.anchor_path = Path(anchor_path) if anchor_path is not None else None
        self.retention_ms = retention_ms
        self.max_pending = max_pending
        self.dropped = 0  # submitted rows not kept: the queue was full
        self.failed = 0  # submitted rows the store refused
        self._lock = threading.Lock()
        self._wake = threading.Condition()
        self._pending: deque[_Item] = deque()
        self._is_draining = False
        self._thread: threading.Thread | None = None
        store._select(_CREATE)
        store._select(_INDEX)
        store.on_close(self.flush)  # rows still queued are written before the store closes

    # -- writing -------------------------------------------------------------------------------
    def record(
        self,
        actor: str,
        action: str,
        target: str,
        *,
        tenant: str = "",
        detail: Mapping[str, Any] | None = None,
        at_ms: int,
    ) -> AuditEntry:
        """Append one row; returns it with its ``seq`` and ``hash``.

        ``detail`` must be JSON-serialisable (``ConfigError`` otherwise). Raises
        ``StoreError`` if the store fails or the append keeps losing races to other writers.
        """
        doc = _json_detail(detail)
        return self._append([(at_ms, actor, action, target, tenant, doc)])[0]

    def submit(
        self,
        actor: str,
        action: str,
        target: str,
        *,
        tenant: str = "",
        detail: Mapping[str, Any] | None = None,
        at_ms: int,
    ) -> None:
        """Queue one row for a background thread that appends in batches; never blocks (an
        event loop under attack must not wait for the database). At most ``max_pending``
        rows wait; past that a row is not kept, counted in ``dropped`` and logged. Raises
        ``ConfigError`` for a ``detail`` that is not JSON-serialisable."""
        doc = _json_detail(detail)
        with self._wake:
            if len(self._pending) >= self.max_pending:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    logger.error(
                        "audit queue full (%d rows): %d rows lost", self.max_pending, self.dropped
                    )
                return
            self._pending.append((at_ms, actor, action, target, tenant, doc))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._drain_loop, name="audit-writer", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def flush(self, *, timeout_s: float = 10.0) -> None:
        """Block until every submitted row is appended (or failed, counted in ``failed``)."""
        deadline = time.monotonic() + timeout_s
        with self._wake:
            while self._pending or self._is_draining:
                if time.monotonic() >= deadline:
                    raise StoreError(f"audit rows still pending after {timeout_s} s")
                self._wake.wait(0.05)

    def _drain_loop(self) -> None:
        while True:
            with self._wake:
                while not self._pending:
                    self._wake.wait()
                batch = [self._pending.popleft() for _ in range(min(len(self._pending), 500))]
                self._is_draining = True
            try:
                self._append(batch)
            except StoreError as exc:  # kept trying; the rows are lost, said loudly
                self.failed += len(batch)
                logger.error("audit append of %d rows failed: %s", len(batch), exc, exc_info=exc)
            finally:
                with self._wake:
                    self._is_draining = False
                    self._wake.notify_all()

    def _append(self, items: list[_Item]) -> list[AuditEntry]:
        with self._lock:
            for _ in range(_APPEND_ATTEMPTS):
                seq, prev = self._head()
                entries = []
                for at_ms, actor, action, target, tenant, doc in items:
                    seq += 1
                    entry = _make_entry(seq, at_ms, actor, action, target, tenant, doc, prev)
                    entries.append(entry)
                    prev = entry.hash
                try:
                    self._insert(entries)
                except StoreError as exc:
                    if self._head()[0] == entries[0].seq - 1:  # not a lost race: a failure
                        raise
                    logger.info("audit append lost a race at seq %d; retrying (%s)", seq, exc)
                    continue
                self._anchor(entries[-1])
                return entries
        raise StoreError(f"audit append kept losing races after {_APPEND_ATTEMPTS} attempts")

    def apply_retention(self, *, now_ms: int) -> int:
        """Delete the chain's prefix older than the retention; returns rows deleted.

        Appends a checkpoint row (the last deleted seq and hash) before deleting, so
        ``verify`` still proves the rest of the chain.
        """
        cutoff = now_ms - self.retention_ms
        rows = self._store._select(
            "SELECT seq, hash FROM audit_log WHERE seq < coalesce("
            "(SELECT min(seq) FROM audit_log WHERE at_ms >= %s), "
            "(SELECT max(seq) + 1 FROM audit_log)) ORDER BY seq DESC LIMIT 1",
            [cutoff],
        )
        if not rows:
            return 0
        through_seq, through_hash = int(rows[0][0]), str(rows[0][1])
        deleted = self.count_through(through_seq)
        self.record(
            "v2xcloud",
            CHECKPOINT_ACTION,
            "audit_log",
            detail={"through_seq": through_seq, "through_hash": through_hash, "rows": deleted},
            at_ms=now_ms,
        )
        self._store._select("DELETE FROM audit_log WHERE seq <= %s", [through_seq])
        logger.info("audit retention deleted rows 1..%d (%d rows)", through_seq, deleted)
        return deleted

    def count_through(self, seq: int) -> int:
        """Rows stored with ``seq`` at most ``seq``."""
        return int(
            self._store._select("SELECT count(*) FROM audit_log WHERE seq <= %s", [seq])[0][0]
        )

    # -- reading -------------------------------------------------------------------------------
    def entries(
        self,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        action: str | None = None,
        limit: int = 1000,
        tenant: str | None = None,
        newest_first: bool = False,
    ) -> list[AuditEntry]:
        """Rows in ``[start_ms, end_ms]`` (either open), optionally of one action and one
        tenant, by seq (the newest ``limit`` first with ``newest_first``)."""
        sql = f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_log WHERE 1 = 1"
        params: list[Any] = []
        if start_ms is not None:
            sql += " AND at_ms >= %s"
            params.append(start_ms)
        if end_ms is not None:
            sql += " AND at_ms <= %s"
            params.append(end_ms)
        if action is not None:
            sql += " AND action = %s"
            params.append(action)
        if tenant is not None:
            sql += " AND tenant = %s"
            params.append(tenant)
        sql += " ORDER BY seq DESC LIMIT %s" if newest_first else " ORDER BY seq LIMIT %s"
        params.append(limit)
        return [_entry(r) for r in self._store._select(sql, params)]

    def head(self) -> tuple[int, str]:
        """The newest (seq, hash) stored, ``(0, GENESIS_HASH)`` when empty."""
        return self._head()

    def verify(self, *, anchor: tuple[int, str] | None = None) -> AuditCheck:
        """Walk the whole chain; with ``anchor`` (seq, hash) also detect a truncated tail or a
        rewritten chain up to that head. Without it, the anchor file (if configured and
        present) is used."""
        if anchor is None and self.anchor_path is not None and self.anchor_path.exists():
            anchor = read_anchor(self.anchor_path)
        rows = self._store._select(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_log ORDER BY seq")
        entries = [_entry(r) for r in rows]
        problems = _chain_problems(entries)
        if anchor is not None:
            problems += _anchor_problems(entries, anchor)
        first = entries[0].seq if entries else 0
        head = (entries[-1].seq, entries[-1].hash) if entries else (0, GENESIS_HASH)
        if problems:
            logger.warning("audit chain check failed: %s", "; ".join(problems[:5]))
        return AuditCheck(
            is_ok=not problems,
            rows_checked=len(entries),
            first_seq=first,
            head_seq=head[0],
            head_hash=head[1],
            problems=tuple(problems),
        )

    # -- plumbing ------------------------------------------------------------------------------
    def _head(self) -> tuple[int, str]:
        rows = self._store._select("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS_HASH)

    def _insert(self, entries: list[AuditEntry]) -> None:
        rows = [
            (
                e.seq,
                e.at_ms,
                e.actor,
                e.action,
                e.target,
                e.tenant,
                _dump(e.detail),
                e.prev_hash,
                e.hash,
            )
            for e in entries
        ]
        self._store._write("audit_log", AUDIT_COLUMNS, rows)  # one bulk insert, one commit

    def _anchor(self, e: AuditEntry) -> None:
        logger.info("audit head seq=%d hash=%s action=%s", e.seq, e.hash, e.action)
        if self.anchor_path is None:
            return
        tmp = self.anchor_path.with_name(self.anchor_path.name + ".tmp")
        try:
            self.anchor_path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"seq": e.seq, "hash": e.hash, "at_ms": e.at_ms}))
            os.replace(tmp, self.anchor_path)
        except OSError as exc:
            # the row is stored; only the outside copy of the head is stale (logged above)
            logger.error("cannot write the audit anchor %s: %s", self.anchor_path, exc)


def _json_detail(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    doc = dict(detail or {})
    try:
        return dict(json.loads(_dump(doc)))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"audit detail must be JSON-serialisable: {exc}") from exc


def _dump(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _make_entry(
    seq: int,
    at_ms: int,
    actor: str,
    action: str,
    target: str,
    tenant: str,
    detail: dict[str, Any],
    prev: str,
) -> AuditEntry:
    fields: dict[str, Any] = {
        "seq": seq,
        "at_ms": int(at_ms),
        "actor": actor,
        "action": action,
        "target": target,
        "tenant": tenant,
        "detail": detail,
    }
    return AuditEntry(**fields, prev_hash=prev, hash=_content_hash(prev, fields))


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    values = dict(zip(AUDIT_COLUMNS, row, strict=True))
    values["seq"] = int(values["seq"])
    values["at_ms"] = int(values["at_ms"])
    try:
        values["detail"] = json.loads(values["detail"])
    except ValueError:  # an edited row: keep the text so the hash check reports it
        values["detail"] = {"unparsable": values["detail"]}
    return AuditEntry(**values)


def _chain_problems(entries: list[AuditEntry]) -> list[str]:
    problems: list[str] = []
    for i, e in enumerate(entries):
        fields = {c: getattr(e, c) for c in AUDIT_COLUMNS[:7]}
        if _content_hash(e.prev_hash, fields) != e.hash:
            problems.append(f"row seq={e.seq}: content does not match its hash (edited or moved)")
        if i == 0:
            problems += _start_problems(e, entries)
            continue
        before = entries[i - 1]
        if e.seq != before.seq + 1:
            problems.append(f"rows seq={before.seq + 1}..{e.seq - 1} missing (deleted)")
        if e.prev_hash != before.hash:
            problems.append(
                f"row seq={e.seq}: prev_hash does not match row seq={before.seq} "
                "(a row deleted, inserted or reordered)"
            )
    return problems


def _start_problems(first: AuditEntry, entries: list[AuditEntry]) -> list[str]:
    if first.seq == 1:
        if first.prev_hash != GENESIS_HASH:
            return ["row seq=1: prev_hash is not the genesis hash"]
        return []
    for e in entries:
        if (
            e.action == CHECKPOINT_ACTION
            and e.detail.get("through_seq") == first.seq - 1
            and e.detail.get("through_hash") == first.prev_hash
        ):
            return []
    return [f"rows before seq={first.seq} missing and no retention checkpoint records them"]


def _anchor_problems(entries: list[AuditEntry], anchor: tuple[int, str]) -> list[str]:
    seq, digest = anchor
    if seq == 0:
        return []
    by_seq = {e.seq: e for e in entries}
    head = entries[-1].seq if entries else 0
    if entries and seq < entries[0].seq:  # retained out: the chain's start check covers it
        return []
    if head < seq:
        return [f"the anchor names seq={seq} but the chain ends at seq={head} (tail truncated)"]
    anchored = by_seq.get(seq)
    if anchored is None:
        return [f"the anchored row seq={seq} is missing"]
    if anchored.hash != digest:
        return [f"row seq={seq}: hash differs from the anchored head (chain rewritten)"]
    return []
