"""Request-rate limits per client and per tenant: each client has its own bucket, all of a
tenant's clients share the tenant's, platform-wide callers are not tenant-limited, and
``/api/health`` is never limited."""

from __future__ import annotations

from fastapi.testclient import TestClient

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.access import Role
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.store import DuckDbStore

from .conftest import ADMIN, T0


def test_client_and_tenant_buckets() -> None:
    live = ScriptedLive(start_ms=T0)
    live.step(T0)
    settings = ApiSettings(
        admin_token=ADMIN,
        rate_per_s=0.001,
        rate_burst=4,
        tenant_rate_per_s=0.001,
        tenant_rate_burst=6,
    )
    app = create_app(live=live, store=DuckDbStore(data_dir=None), settings=settings)
    book = app.state.tokens
    north_a, _ = book.create(role=Role.VIEWER, tenant="north")
    north_b, _ = book.create(role=Role.VIEWER, tenant="north")
    south, _ = book.create(role=Role.VIEWER, tenant="south")
    platform, _ = book.create(role=Role.VIEWER, tenant="*")

    def statuses(client: TestClient, token: str, n: int) -> list[int]:
        auth = {"Authorization": f"Bearer {token}"}
        return [client.get("/api/events", headers=auth).status_code for _ in range(n)]

    with TestClient(app) as client:
        assert statuses(client, north_a, 5) == [200] * 4 + [429]  # its own bucket: 4
        assert statuses(client, north_b, 4) == [200, 200, 429, 429]  # the tenant's 6 are used
        assert statuses(client, south, 4) == [200] * 4  # another tenant: untouched
        assert statuses(client, platform, 5) == [200] * 4 + [429]  # client bucket only
        assert [client.get("/api/health").status_code for _ in range(50)] == [200] * 50
        refused = client.get("/api/events", headers={"Authorization": f"Bearer {south}"})
        assert refused.status_code == 429 and "client" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) >= 1
    counts = app.state.access.stats()["refused"]
    assert counts == {"client_rate": 3, "tenant_rate": 2}
