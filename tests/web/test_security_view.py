"""The security view in headless Chromium: misbehaviour reports from the history, who called the
API lately and the audit trail (an operator's alarm acknowledgement in it) for an admin; a
viewer told those two are for admins; every label in Chinese."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.access import Role
from v2xcloud.api.server import ServerThread
from v2xcloud.api.settings import default_web_dir
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.model import AlarmSeverity, AlarmSource, MisbehaviourCheck, MisbehaviourReport
from v2xcloud.store import DuckDbStore
from v2xcloud.store.audit import AuditTrail

from .console import open_console, show_route, untranslated

ADMIN = "admin-token-for-the-security-view"


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerThread, dict[str, str]]]:
    web_dir = default_web_dir()
    if not (web_dir / "index.html").is_file():
        pytest.skip(f"dashboard not built at {web_dir}: run `make web` (make test does)")
    now = int(time.time() * 1000)
    store = DuckDbStore(data_dir=tmp_path_factory.mktemp("history"))
    store.write_misbehaviour([MisbehaviourReport(
        sender_id="veh-66", flagged_at_ms=now - 5000, reason=MisbehaviourCheck.SPEED_PLAUSIBILITY,
        evidence=(), source="RSU-1")])  # fmt: skip
    trail = AuditTrail(store)
    live = ScriptedLive(start_ms=now)
    app = create_app(
        live=live,
        store=store,
        settings=ApiSettings(web_dir=web_dir, admin_token=ADMIN),
        audit=trail,
    )
    alarm = app.state.alarms.raise_alarm(
        source=AlarmSource.DEVICE, subject="RSU-1", kind="offline", severity=AlarmSeverity.MAJOR,
        summary="RSU-1 offline", at_ms=now)  # fmt: skip
    tokens = {who: app.state.tokens.create(role=role, tenant="*", label=who)[0]
              for who, role in (("operator", Role.OPERATOR), ("viewer", Role.VIEWER))}  # fmt: skip
    tokens["admin"] = ADMIN
    with ServerThread(app) as server:
        live.start(hz=10.0)
        acked = httpx.post(f"{server.url}/api/alarms/{alarm.alarm_id}/ack",
                           headers={"Authorization": f"Bearer {tokens['operator']}"})  # fmt: skip
        assert acked.status_code == 200, acked.text
        trail.flush()
        try:
            yield server, tokens
        finally:
            live.stop()
            store.close()


def _cells(page: Any, tbody: str) -> list[list[str]]:
    rows: list[list[str]] = page.evaluate(
        f"() => [...document.querySelectorAll('#{tbody} tr')].map(r => [...r.cells].map(c => c.textContent))"
    )
    return rows


def test_an_admin_sees_misbehaviour_callers_and_the_audit_trail(
    world: Any, browser: Any, artifacts: Path
) -> None:
    server, tokens = world
    page = open_console(browser, f"{server.url}/#/security?token={tokens['admin']}", "zh-CN",
                        viewport={"width": 1500, "height": 800})  # fmt: skip
    show_route(page, "security", settle_ms=0)
    page.wait_for_function("() => document.querySelectorAll('#sec-audit tr').length >= 1 && "
                           "document.querySelector('#sec-audit td.num')")  # fmt: skip
    [report] = _cells(page, "sec-mb")
    # the history keeps senders under their day's pseudonym (store.pseudonyms), never the id
    assert len(report[0]) == 32 and report[0] != "veh-66" and report[1] == "速度合理性"
    assert report[3] == "RSU-1"
    callers = _cells(page, "sec-sessions")
    assert any(c[0] == "bootstrap:admin@*" and c[1] == "管理员" and c[2] == "平台" for c in callers)
    audit = _cells(page, "sec-audit")
    ack = next(r for r in audit if r[3] == "alarm.acknowledged")
    assert ack[2].startswith("token:") and ack[4].startswith("/api/alarms/")
    assert "链头" in page.inner_text("#sec-head")
    assert "未启用签名验证" in page.inner_text("#sec-verify")
    assert untranslated(page, "zh") == []
    page.screenshot(path=str(artifacts / "security-zh.png"))  # docs/console/security.png
    page.context.close()


def test_a_viewer_is_told_callers_and_audit_are_for_admins(world: Any, browser: Any) -> None:
    server, tokens = world
    page = open_console(browser, f"{server.url}/#/security?token={tokens['viewer']}", "en-US")
    show_route(page, "security", settle_ms=0)
    page.wait_for_function(
        "() => document.getElementById('sec-audit').textContent.includes('admins only')"
    )
    assert page.inner_text("#sec-sessions") == "admins only"
    assert [r[1] for r in _cells(page, "sec-mb")] == ["speed plausibility"]
    page.context.close()
