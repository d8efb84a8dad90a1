"""API tokens: created, listed and revoked through the API and the CLI, stored hashed, kept
across restarts in both history backends, refused once revoked or expired."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from v2xcloud.api.access import Role
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.api.tokens import TokenBook, parse_token
from v2xcloud.cli.audit_commands import ANCHOR_NAME
from v2xcloud.errors import ConfigError
from v2xcloud.store import DuckDbStore, HistoryStore
from v2xcloud.store.audit import AuditTrail, read_anchor
from v2xcloud.store.tokens import TokenTable

from .conftest import ADMIN, make_client


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_creates_lists_and_revokes(played: ScriptedLive, store: HistoryStore) -> None:
    with make_client(played, store, admin_token=ADMIN) as client:
        made = client.post(
            "/api/tokens",
            json={"role": "operator", "tenant": "north", "label": "ops desk"},
            headers=_auth(ADMIN),
        )
        assert made.status_code == 201, made.text
        token, token_id = made.json()["token"], made.json()["token_id"]
        assert parse_token(token) is not None and parse_token(token)[0] == token_id  # type: ignore[index]
        assert client.get("/api/devices", headers=_auth(token)).status_code == 404  # no registry
        assert client.get("/api/participants", headers=_auth(token)).status_code == 200
        listed = client.get("/api/tokens", headers=_auth(ADMIN)).json()
        assert [t["token_id"] for t in listed] == [token_id]
        assert "token" not in listed[0] and "digest" not in listed[0]
        assert listed[0]["created_by"] == "bootstrap:admin@*"
        revoked = client.delete(f"/api/tokens/{token_id}", headers=_auth(ADMIN))
        assert revoked.status_code == 200 and revoked.json()["revoked_ms"] is not None
        assert client.get("/api/participants", headers=_auth(token)).status_code == 401
        bad = client.post("/api/tokens", json={"role": "root"}, headers=_auth(ADMIN))
        assert bad.status_code == 422 and "role" in bad.json()["detail"]


def test_stored_hashed_and_kept_across_a_restart(store: HistoryStore) -> None:
    book = TokenBook.over(store)
    token, _ = book.create(role=Role.VIEWER, tenant="north", label="x")
    secret = parse_token(token)[1]  # type: ignore[index]
    rows = TokenTable(store).load_all()
    assert len(rows) == 1 and rows[0].digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(rows) and token not in repr(rows)
    again = TokenBook.over(store)  # a restarted server over the same history
    found = again.authenticate(token)
    assert found is not None and found.role is Role.VIEWER and found.tenant == "north"
    assert again.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert again.authenticate("v2x_" + "0" * 12 + "_" + secret) is None  # unknown id


def test_revocation_by_another_process_is_seen_within_the_refresh(store: HistoryStore) -> None:
    server = TokenBook.over(store, refresh_s=0.2)
    cli = TokenBook.over(store)
    token, record = cli.create(role=Role.ADMIN, tenant="north")
    time.sleep(0.25)
    assert server.authenticate(token) is not None
    cli.revoke(record.token_id)
    time.sleep(0.25)
    assert server.authenticate(token) is None


def test_expired_tokens_are_refused_and_the_table_is_bounded() -> None:
    now = [1_000_000]
    book = TokenBook(None, clock_ms=lambda: now[0], max_tokens=3, keep_ended_ms=1000)
    token, _ = book.create(role=Role.VIEWER, tenant="t", ttl_days=1)
    assert book.authenticate(token) is not None
    now[0] += 86_400_000
    assert book.authenticate(token) is None
    book.create(role=Role.VIEWER, tenant="t")
    book.create(role=Role.VIEWER, tenant="t")
    now[0] += 2000  # the expired one ended more than keep_ended_ms ago: its room is reused
    book.create(role=Role.VIEWER, tenant="t")
    with pytest.raises(ConfigError, match="token table full"):
        book.create(role=Role.VIEWER, tenant="t")
    with pytest.raises(ConfigError, match="tenant"):
        book.create(role=Role.VIEWER, tenant="no spaces")


def test_cli_create_list_revoke(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "v2xcloud", "token", *args, "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    made = cli("create", "--role", "operator", "--tenant", "north", "--label", "desk")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    token_id = parse_token(token)[0]  # type: ignore[index]
    listed = cli("list")
    assert token_id in listed.stdout and "operator" in listed.stdout and token not in listed.stdout
    store = DuckDbStore(data_dir=tmp_path)
    try:
        assert TokenBook.over(store).authenticate(token) is not None
    finally:
        store.close()
    assert cli("revoke", token_id).returncode == 0
    assert "revoked" in cli("list").stdout
    store = DuckDbStore(data_dir=tmp_path)
    try:
        trail = AuditTrail(store)
        actions = [(e.actor, e.action, e.target, e.tenant) for e in trail.entries()]
        assert trail.verify(anchor=read_anchor(tmp_path / ANCHOR_NAME)).is_ok
    finally:
        store.close()
    assert actions == [
        ("cli", "token.created", token_id, "north"),
        ("cli", "token.revoked", token_id, "north"),
    ]
    assert cli("revoke", "ffffffffffff").returncode == 2
    assert cli("create", "--role", "root", "--tenant", "x").returncode == 2
