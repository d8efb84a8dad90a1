"""Route × role × tenant: every route of the app, every caller, own and other tenant's data —
allowed or refused exactly as ``MATRIX`` says (one table).

The routes are enumerated from the app itself (``fastapi.routing.iter_route_contexts`` over
``app.routes``, of the app with and without a built dashboard): a route without a row here
fails ``test_every_route_has_a_row``, and ``api.access.RULES`` must have a rule for it too.
Tenants ``north`` (the callers' own) and ``south`` (the other); callers: no token, a bad
token, north's viewer / operator / admin (local tokens), a platform-wide viewer (local token,
tenant ``*``) and the platform's admin (the bootstrap admin token). Every cell runs on a
fresh app (writes change state), over a DuckDB history holding each tenant's dead letters.
Scoped listings are checked for content too: north's callers see north's items and never
south's; platform-wide callers see both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.access import RULES, Role
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.ev.alarms import AlarmMonitor
from v2xcloud.ev.monitor import EvMonitor
from v2xcloud.ev.vehicle_sim import FaultPlan, SimulatedVehicle
from v2xcloud.model import (
    AlarmSeverity,
    AlarmSource,
    DeadLetter,
    Device,
    DeviceKind,
    DeviceState,
    DropReason,
)
from v2xcloud.model.ev_fleet import Charger
from v2xcloud.runtime.clock import ManualClock
from v2xcloud.store import DuckDbStore
from v2xcloud.store.audit import AuditTrail

from .conftest import ADMIN, T0

NORTH_VIN, SOUTH_VIN = "LNORTH0000000001", "LSOUTH0000000001"
CALLERS = ("none", "bad", "viewer", "operator", "admin", "p_viewer", "p_admin")

# (method, route, target) -> expected status per caller, in CALLERS order. "WS" rows: 101 is
# "accepted and streaming", 1008 "closed before the handshake". Targets: "own" (north's item,
# or no item), "other" (south's item), "platform" (a platform-wide item).
MATRIX: dict[tuple[str, str, str], tuple[int, ...]] = {
    # public
    ("GET", "/api/health", "own"): (200, 401, 200, 200, 200, 200, 200),
    ("GET", "/openapi.json", "own"): (200, 401, 200, 200, 200, 200, 200),
    ("GET", "/docs", "own"): (200, 401, 200, 200, 200, 200, 200),
    ("GET", "/docs/oauth2-redirect", "own"): (200, 401, 200, 200, 200, 200, 200),
    ("GET", "/", "own"): (404, 401, 404, 404, 404, 404, 404),  # dashboard not built
    ("MOUNT", "/", "own"): (200, 401, 200, 200, 200, 200, 200),  # dashboard built
    # the road: the deployment's, read by every tenant
    ("GET", "/api/participants", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/intersections", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/advisories", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/events", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/stats", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/console", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/security", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("WS", "/api/stream", "own"): (1008, 1008, 101, 101, 101, 101, 101),
    ("GET", "/api/participants/{participant_id}/trajectory", "own"): (
        401,
        401,
        200,
        200,
        200,
        200,
        200,
    ),
    ("GET", "/api/overview", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/warnings/heatmap", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/evaluations", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/evaluations/{run}", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/history/advisories", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/history/events", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("POST", "/api/events", "own"): (401, 401, 403, 201, 201, 403, 201),
    ("POST", "/api/admin/retention", "own"): (401, 401, 403, 403, 403, 403, 200),
    # devices, their dead letters, EV data: by tenant (listings checked for content)
    ("GET", "/api/dead-letters", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/dead-letters/counts", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/dead-letters/raw", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/dead-letters/raw", "other"): (401, 401, 404, 404, 404, 200, 200),
    ("GET", "/api/misbehaviour", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/devices", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/devices/{device_id}", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/devices/{device_id}", "other"): (401, 401, 404, 404, 404, 200, 200),
    ("POST", "/api/devices", "own"): (401, 401, 403, 403, 201, 403, 201),
    ("POST", "/api/devices", "other"): (401, 401, 403, 403, 403, 403, 201),
    ("PATCH", "/api/devices/{device_id}", "own"): (401, 401, 403, 200, 200, 403, 200),
    ("PATCH", "/api/devices/{device_id}", "other"): (401, 401, 403, 404, 404, 403, 200),
    ("POST", "/api/devices/{device_id}/disable", "own"): (401, 401, 403, 200, 200, 403, 200),
    ("POST", "/api/devices/{device_id}/disable", "other"): (401, 401, 403, 404, 404, 403, 200),
    ("DELETE", "/api/devices/{device_id}", "own"): (401, 401, 403, 403, 200, 403, 200),
    ("DELETE", "/api/devices/{device_id}", "other"): (401, 401, 403, 403, 404, 403, 200),
    ("GET", "/api/ev/vehicles", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/ev/vehicles/{vin}", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/ev/vehicles/{vin}", "other"): (401, 401, 404, 404, 404, 200, 200),
    ("GET", "/api/ev/alarms", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/ev/charging", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/ev/reports", "own"): (401, 401, 200, 200, 200, 200, 200),
    # alarms: listings by tenant; operators acknowledge and close their tenant's
    ("GET", "/api/alarms", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("GET", "/api/alarms/history", "own"): (401, 401, 200, 200, 200, 200, 200),
    ("POST", "/api/alarms/{alarm_id}/ack", "own"): (401, 401, 403, 200, 200, 403, 200),
    ("POST", "/api/alarms/{alarm_id}/ack", "other"): (401, 401, 403, 404, 404, 403, 200),
    ("POST", "/api/alarms/{alarm_id}/close", "own"): (401, 401, 403, 200, 200, 403, 200),
    ("POST", "/api/alarms/{alarm_id}/close", "other"): (401, 401, 403, 404, 404, 403, 200),
    # tokens: a tenant's admin manages its tenant's; the platform's admin everyone's
    ("GET", "/api/tokens", "own"): (401, 401, 403, 403, 200, 403, 200),
    ("GET", "/api/sessions", "own"): (401, 401, 403, 403, 200, 403, 200),
    ("GET", "/api/audit", "own"): (401, 401, 403, 403, 200, 403, 200),
    ("POST", "/api/tokens", "own"): (401, 401, 403, 403, 201, 403, 201),
    ("POST", "/api/tokens", "other"): (401, 401, 403, 403, 403, 403, 201),
    ("POST", "/api/tokens", "platform"): (401, 401, 403, 403, 403, 403, 201),
    ("DELETE", "/api/tokens/{token_id}", "own"): (401, 401, 403, 403, 200, 403, 200),
    ("DELETE", "/api/tokens/{token_id}", "other"): (401, 401, 403, 403, 404, 403, 200),
}

# listings scoped by tenant: (marker of north's items, marker of south's items)
SCOPED_LISTINGS = {
    "/api/dead-letters": ("N-RSU-1", "S-RSU-1"),
    "/api/dead-letters/counts": ("N-RSU-1", "S-RSU-1"),
    "/api/devices": ("N-RSU-1", "S-RSU-1"),
    "/api/ev/vehicles": (NORTH_VIN, SOUTH_VIN),
    "/api/ev/alarms": (NORTH_VIN, SOUTH_VIN),
    "/api/ev/charging": (NORTH_VIN, SOUTH_VIN),
    "/api/ev/reports": (NORTH_VIN, SOUTH_VIN),
    "/api/tokens": ('"tenant":"north"', '"tenant":"south"'),
    "/api/alarms": ("N-RSU-1", "S-RSU-1"),
    "/api/overview": ("N-RSU-1", "S-RSU-1"),
    "/api/alarms/history": ("N-RSU-1", "S-RSU-1"),
}
UNOWNED = "mqtt:V2X/OBU/stranger/BSM/UP"  # a letter no registered device owns: platform only
EVALUATIONS: dict[str, Path | None] = {"dir": None}  # one evaluation run: set by a fixture

EVENT = {"event_id": 77, "event_type": 100, "source": "police", "lat_deg": 31.23, "lon_deg": 121.47}


class Directory:
    """The device routes' ``DeviceDirectory`` over a dict (two tenants, one EV each)."""

    def __init__(self) -> None:
        self._devices = {
            d.device_id: d
            for d in (
                Device(device_id="N-RSU-1", kind=DeviceKind.RSU, tenant="north"),
                Device(device_id="S-RSU-1", kind=DeviceKind.RSU, tenant="south"),
                Device(device_id=NORTH_VIN, kind=DeviceKind.EV_TERMINAL, tenant="north"),
                Device(device_id=SOUTH_VIN, kind=DeviceKind.EV_TERMINAL, tenant="south"),
            )
        }

    def devices(self, now_ms: int) -> list[dict[str, Any]]:
        return [msgspec.to_builtins(d) for d in self._devices.values()]

    def device(self, device_id: str, now_ms: int) -> dict[str, Any] | None:
        found = self._devices.get(device_id)
        return None if found is None else msgspec.to_builtins(found)

    def add(self, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        device = msgspec.convert(body, Device)
        self._devices[device.device_id] = device
        return msgspec.to_builtins(device)

    def update(self, device_id: str, changes: dict[str, Any], now_ms: int) -> dict[str, Any]:
        changed = msgspec.structs.replace(self._devices[device_id], **changes)
        self._devices[device_id] = changed
        return msgspec.to_builtins(changed)

    def disable(self, device_id: str, now_ms: int) -> dict[str, Any]:
        return self.update(device_id, {"state": DeviceState.DISABLED}, now_ms)

    def remove(self, device_id: str, now_ms: int) -> dict[str, Any]:
        return msgspec.to_builtins(self._devices.pop(device_id))

    def stats(self) -> dict[str, Any]:
        return {"frames_in": 0}

    def tenant_of(self, device_id: str) -> str | None:
        found = self._devices.get(device_id)
        return None if found is None else found.tenant

    def device_ids(self, tenant: str) -> list[str]:
        return [d.device_id for d in self._devices.values() if d.tenant == tenant]


def _ev_fleet() -> EvMonitor:
    """One EV of each tenant, both with a level-3 alarm and a charging warning (one far
    charger), through the real monitor."""
    clock = ManualClock(T0)
    chargers = [Charger(id="far", lat_deg=31.6, lon_deg=121.47, power_kw=60.0)]
    ev = EvMonitor(clock=clock.now_ms, chargers=chargers)
    alarms = AlarmMonitor(ev, clock=clock.now_ms, chargers=chargers, on_charging=ev.on_charging)
    faults = FaultPlan(thermal_runaway_at_s=1)
    cars = [SimulatedVehicle(v, seed=1, start_ms=T0, faults=faults) for v in (NORTH_VIN, SOUTH_VIN)]
    for _ in range(3):
        clock.advance(1000)
        for car in cars:
            car.soc = 5.0
            report = car.step()
            ev.write(report)
            alarms.on_report(report, received_at_ms=clock.now_ms())
    return ev


def _letters() -> list[DeadLetter]:
    return [
        DeadLetter(
            raw=b"\x01",
            source=source,
            received_at_ms=T0 + 1000,
            reason=DropReason.MALFORMED,
            detail="test letter",
        )
        for source in ("N-RSU-1", "S-RSU-1", UNOWNED)
    ]


class World:
    """One fresh app with its tokens: ``headers[caller]``, ``ids`` of tokens to revoke."""

    def __init__(self, web_dir: Path | None) -> None:
        store = DuckDbStore(data_dir=None)
        store.write_dead_letters(_letters())
        self.live = ScriptedLive(start_ms=T0)
        self.live.step(T0 + 2000)
        self.app = create_app(
            live=self.live,
            store=store,
            settings=ApiSettings(
                admin_token=ADMIN, web_dir=web_dir, evaluations_dir=EVALUATIONS["dir"]
            ),
            devices=Directory(),  # type: ignore[arg-type]
            ev=_ev_fleet(),
            audit=AuditTrail(store),
        )
        book = self.app.state.tokens
        tokens: dict[str, str] = {}
        for caller, role, tenant in (
            ("viewer", Role.VIEWER, "north"),
            ("operator", Role.OPERATOR, "north"),
            ("admin", Role.ADMIN, "north"),
            ("p_viewer", Role.VIEWER, "*"),
        ):
            tokens[caller], _ = book.create(role=role, tenant=tenant, label=f"{caller} token")
        _, north_spare = book.create(role=Role.VIEWER, tenant="north", label="spare")
        _, south_spare = book.create(role=Role.VIEWER, tenant="south", label="spare")
        self.ids = {"own": north_spare.token_id, "other": south_spare.token_id}
        tokens["p_admin"] = ADMIN
        self.alarm_ids = {
            # a misbehaviour alarm stays until an operator closes it; a device alarm would be
            # closed by the 1 Hz alarm feed (the device is not offline) between two callers
            target: self.app.state.alarms.raise_alarm(
                source=AlarmSource.MISBEHAVIOUR,
                subject=device,
                kind="flagged",
                severity=AlarmSeverity.MAJOR,
                summary=f"{device} flagged as misbehaving",
                tenant=tenant,
                at_ms=T0 + 1000,
            ).alarm_id
            for target, device, tenant in (
                ("own", "N-RSU-1", "north"),
                ("other", "S-RSU-1", "south"),
            )
        }
        self.app.state.alarms.flush()
        tokens["bad"] = "v2x_0123456789ab_" + "x" * 43
        self.headers = {c: {"Authorization": f"Bearer {t}"} for c, t in tokens.items()}
        self.headers["none"] = {}


def _url(path: str, target: str, world: World) -> str:
    device = "S-RSU-1" if target == "other" else "N-RSU-1"
    token_id = world.ids["other" if target == "other" else "own"]
    alarm_id = world.alarm_ids["other" if target == "other" else "own"]
    url = (
        path.replace("{device_id}", device)
        .replace("{vin}", SOUTH_VIN if target == "other" else NORTH_VIN)
        .replace("{participant_id}", "veh-01")
        .replace("{token_id}", token_id)
        .replace("{alarm_id}", alarm_id)
        .replace("{run}", "run-1")
    )
    return url + (f"?source={device}&start_ms={T0}" if path == "/api/dead-letters/raw" else "")


def _body(method: str, path: str, target: str) -> dict[str, Any] | None:
    if (method, path) == ("POST", "/api/events"):
        return EVENT
    if (method, path) == ("POST", "/api/devices"):
        body: dict[str, Any] = {"device_id": "NEW-1", "kind": "rsu"}
        return body | ({"tenant": "south"} if target == "other" else {})
    if (method, path) == ("PATCH", "/api/devices/{device_id}"):
        return {"range_m": 250.0}
    if (method, path) == ("POST", "/api/tokens"):
        tenant = {"own": None, "other": "south", "platform": "*"}[target]
        return {"role": "viewer", "label": "made in the matrix"} | (
            {"tenant": tenant} if tenant else {}
        )
    return None


def _call(world: World, method: str, path: str, target: str, caller: str) -> tuple[int, str]:
    headers = world.headers[caller]
    with TestClient(world.app) as client:
        if method == "WS":
            token = headers.get("Authorization", "")[7:]
            url = path + (f"?token={token}" if token else "")
            try:
                with client.websocket_connect(url) as ws:
                    world.live.step(T0 + 3000)
                    assert b'"type":"tick"' in ws.receive_bytes()
                    return 101, ""
            except WebSocketDisconnect as refused:
                return refused.code, ""
        url = "/index.html" if method == "MOUNT" else _url(path, target, world)
        response = client.request(
            "GET" if method == "MOUNT" else method,
            url,
            headers=headers,
            json=_body(method, path, target),
        )
        return response.status_code, response.text


def _route_keys(app: FastAPI) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        if isinstance(original, Mount):
            keys.add(("MOUNT", "/"))
        elif isinstance(original, WebSocketRoute):
            keys.add(("WS", str(route.path)))
        else:
            for method in route.methods or ():
                if method != "HEAD":
                    keys.add((method, str(route.path)))
    return keys


@pytest.fixture(scope="module", autouse=True)
def evaluations(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("evaluations")
    (root / "run-1").mkdir()
    (root / "run-1" / "report.json").write_text('{"title": "t", "apps": {}, "scenarios": []}')
    EVALUATIONS["dir"] = root


@pytest.fixture(scope="module")
def web_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = tmp_path_factory.mktemp("dist")
    (built / "index.html").write_text("<!doctype html><title>dashboard</title>")
    return built


def test_every_route_has_a_row(web_dir: Path) -> None:
    routes = _route_keys(World(None).app) | _route_keys(World(web_dir).app)
    covered = {(m, p) for m, p, _ in MATRIX}
    assert routes - covered == set(), "routes without a row in MATRIX"
    assert routes - set(RULES) == set(), "routes without a rule in access.RULES"
    assert covered - routes == set(), "rows for routes the app does not have"


@pytest.mark.parametrize(("method", "path", "target"), list(MATRIX))
def test_cell(method: str, path: str, target: str, web_dir: Path) -> None:
    got = {}
    shared = World(web_dir if method == "MOUNT" else None)
    for caller in CALLERS:
        # a write changes state: each caller gets a fresh app; reads share one
        world = shared if method in ("GET", "WS", "MOUNT") else World(None)
        status, text = _call(world, method, path, target, caller)
        got[caller] = status
        if status == 200 and path in SCOPED_LISTINGS:
            own, other = SCOPED_LISTINGS[path]
            assert own in text, f"{caller} misses its own items in {path}"
            if caller.startswith("p_"):
                assert other in text, f"{caller} (platform-wide) misses south's items in {path}"
            else:
                assert other not in text, f"{caller} of north sees south's items in {path}"
            if path.startswith("/api/dead-letters"):
                assert (UNOWNED in text) == caller.startswith("p_"), f"{caller}: unowned letter"
    expected = dict(zip(CALLERS, MATRIX[(method, path, target)], strict=True))
    assert got == expected
