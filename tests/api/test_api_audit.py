"""Every API write and every refused API credential lands in the hash-chained audit trail
(``store.audit``): who (token id or bootstrap role), what (the rule's action), on what, for
which tenant; refusals of a guessing client past its rate are counted but not each audited."""

from __future__ import annotations

from fastapi.testclient import TestClient

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.access import RULES, Role
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.store import DuckDbStore
from v2xcloud.store.audit import AuditTrail

from .conftest import ADMIN, T0

EVENT = {"event_id": 5, "event_type": 100, "source": "police", "lat_deg": 31.23, "lon_deg": 121.47}


def test_every_write_route_names_its_audit_action() -> None:
    writes = {key: rule for key, rule in RULES.items() if key[0] in ("POST", "PATCH", "DELETE")}
    assert writes and all(rule.audit for rule in writes.values())


def test_writes_and_refused_credentials_are_audited() -> None:
    store = DuckDbStore(data_dir=None)
    trail = AuditTrail(store)
    live = ScriptedLive(start_ms=T0)
    live.step(T0)
    settings = ApiSettings(admin_token=ADMIN, rate_per_s=0.001, rate_burst=5)
    app = create_app(live=live, store=store, settings=settings, audit=trail)
    token, record = app.state.tokens.create(role=Role.OPERATOR, tenant="north")
    with TestClient(app) as client:
        posted = client.post(
            "/api/events", json=EVENT, headers={"Authorization": f"Bearer {token}"}
        )
        assert posted.status_code == 201
        made = client.post(
            "/api/tokens",
            json={"role": "viewer", "tenant": "north"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert made.status_code == 201
        refused = [
            client.get("/api/participants", headers={"Authorization": "Bearer guess-" + "x" * 20})
            for _ in range(8)
        ]
    # the client's IP bucket holds 5; the bootstrap admin's call (keyed by IP) took one
    assert [r.status_code for r in refused] == [401] * 4 + [429] * 4
    entries = trail.entries()
    assert [(e.action, e.actor, e.tenant) for e in entries[:2]] == [
        ("event.posted", f"token:{record.token_id}", "north"),
        ("token.created", "bootstrap:admin", "*"),
    ]
    assert entries[0].target == "/api/events" and entries[0].detail["status"] == 201
    failures = [e for e in entries if e.action == "api.login_refused"]
    assert len(failures) == 4 and failures[0].actor == "client:testclient"
    assert trail.verify().is_ok
    assert app.state.access.stats()["refused"] == {"bad_token": 4, "client_rate": 4}


def test_refused_credentials_still_queued_at_shutdown_reach_the_chain(monkeypatch) -> None:
    """The gate only queues a refusal (``AuditTrail.submit``); stopping the API flushes the
    queue, so a slow store at shutdown loses no row (CI once read 3 of 4 right after exit)."""
    import time

    store = DuckDbStore(data_dir=None)
    trail = AuditTrail(store)
    slow_append = trail._append

    def append_slowly(items):  # type: ignore[no-untyped-def]
        time.sleep(0.3)
        return slow_append(items)

    monkeypatch.setattr(trail, "_append", append_slowly)
    live = ScriptedLive(start_ms=T0)
    live.step(T0)
    app = create_app(live=live, store=store, settings=ApiSettings(admin_token=ADMIN), audit=trail)
    with TestClient(app) as client:
        for _ in range(3):
            got = client.get("/api/participants", headers={"Authorization": "Bearer guess-x" * 3})
            assert got.status_code == 401
    assert len([e for e in trail.entries() if e.action == "api.login_refused"]) == 3
