"""The security view's back ends: who called the API lately and the audit trail, each shown to a
tenant's admin for its tenant only and to the platform's admin for everyone."""

from __future__ import annotations

from fastapi.testclient import TestClient

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.access import Role
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.model import AlarmSeverity, AlarmSource
from v2xcloud.store import DuckDbStore
from v2xcloud.store.audit import AuditTrail

from .conftest import ADMIN, T0


def test_sessions_and_audit_by_tenant() -> None:
    store = DuckDbStore(data_dir=None)
    trail = AuditTrail(store)
    app = create_app(
        live=ScriptedLive(start_ms=T0),
        store=store,
        settings=ApiSettings(admin_token=ADMIN, alarm_poll_s=3600.0),
        audit=trail,
    )
    book = app.state.tokens
    headers = {"p_admin": {"Authorization": f"Bearer {ADMIN}"}}
    for who, role, tenant in (
        ("n_op", Role.OPERATOR, "north"),
        ("n_admin", Role.ADMIN, "north"),
        ("s_view", Role.VIEWER, "south"),
    ):
        token, _ = book.create(role=role, tenant=tenant, label=who)
        headers[who] = {"Authorization": f"Bearer {token}"}
    alarm = app.state.alarms.raise_alarm(
        source=AlarmSource.DEVICE, subject="R1", kind="offline", severity=AlarmSeverity.MAJOR,
        summary="R1 offline", tenant="north", at_ms=T0,
    )  # fmt: skip
    with TestClient(app) as client:
        assert client.get("/api/alarms", headers=headers["s_view"]).status_code == 200
        acked = client.post(f"/api/alarms/{alarm.alarm_id}/ack", headers=headers["n_op"])
        assert acked.status_code == 200
        trail.flush()
        north = client.get("/api/sessions", headers=headers["n_admin"]).json()["callers"]
        everyone = client.get("/api/sessions", headers=headers["p_admin"]).json()["callers"]
        rows = client.get("/api/audit?action=alarm.acknowledged", headers=headers["n_admin"])
        platform_rows = client.get("/api/audit", headers=headers["p_admin"]).json()
        assert client.get("/api/audit", headers=headers["n_op"]).status_code == 403
        assert client.get("/api/sessions?within_s=0", headers=headers["p_admin"]).status_code == 422
    assert {c["tenant"] for c in north} == {"north"}
    op = next(c for c in north if c["role"] == "operator")
    assert op["requests"] == 1 and op["last_path"] == f"/api/alarms/{alarm.alarm_id}/ack"
    assert {c["tenant"] for c in everyone} == {"north", "south", "*"}
    [row] = rows.json()["entries"]
    assert row["actor"] == op["caller"].rsplit("@", 1)[0] and row["tenant"] == "north"
    assert row["target"] == f"/api/alarms/{alarm.alarm_id}/ack"
    assert platform_rows["head"]["seq"] == len(platform_rows["entries"]) >= 1
    assert platform_rows["entries"][0]["seq"] == platform_rows["head"]["seq"]  # newest first
