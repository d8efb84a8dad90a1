"""``/api/ev``: the fleet with its filters, one vehicle's detail, alarms, charging and reports,
over the real EV monitor fed by simulated vehicles; documented in ``/openapi.json``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.ev.alarms import AlarmMonitor
from v2xcloud.ev.monitor import EvMonitor
from v2xcloud.ev.vehicle_sim import FaultPlan, SimulatedVehicle
from v2xcloud.model.ev_fleet import Charger
from v2xcloud.runtime.clock import ManualClock
from v2xcloud.store import DuckDbStore

from .conftest import T0

HOT, CALM, LOW = "LHOT0000000000001", "LCALM000000000001", "LLOW0000000000001"


@pytest.fixture
def fleet() -> tuple[EvMonitor, ManualClock]:
    clock = ManualClock(T0)
    chargers = [Charger(id="depot", lat_deg=31.5, lon_deg=121.47, power_kw=60.0, ports=2)]
    ev = EvMonitor(clock=clock.now_ms, chargers=chargers)
    alarms = AlarmMonitor(ev, clock=clock.now_ms, chargers=chargers, on_charging=ev.on_charging)
    cars = [
        SimulatedVehicle(HOT, seed=1, start_ms=T0, faults=FaultPlan(thermal_runaway_at_s=10)),
        SimulatedVehicle(CALM, seed=2, start_ms=T0),
        SimulatedVehicle(LOW, seed=3, start_ms=T0),
    ]
    cars[2].soc = 3.0
    for _ in range(20):
        clock.advance(1000)
        for car in cars:
            report = car.step()
            ev.write(report)
            alarms.on_report(report, received_at_ms=clock.now_ms())
    live = {HOT, CALM, LOW}
    ev.connected = live.__contains__
    live.discard(CALM)  # CALM's terminal logged out
    return ev, clock


@pytest.fixture
def client(fleet: tuple[EvMonitor, ManualClock]) -> Iterator[TestClient]:
    app = create_app(
        live=ScriptedLive(start_ms=T0),
        store=DuckDbStore(data_dir=None),
        settings=ApiSettings(),
        ev=fleet[0],
    )
    with TestClient(app) as c:
        yield c


def test_fleet_and_its_filters(client: TestClient) -> None:
    doc = client.get("/api/ev/vehicles").json()
    assert [v["vin"] for v in doc["vehicles"]] == [CALM, HOT, LOW]
    assert (doc["total"], doc["online"], doc["alarmed"], doc["evicted"]) == (3, 2, 1, 0)
    by_vin = {v["vin"]: v for v in doc["vehicles"]}
    hot = by_vin[HOT]
    assert hot["alarm_level"] == 3 and hot["is_online"] and hot["active_alarms"] >= 2
    assert 30.9 < hot["lat_deg"] < 31.5 and 121.2 < hot["lon_deg"] < 121.7
    assert hot["pack_voltage_v"] > 250 and hot["cell_spread_v"] > 0.5
    assert by_vin[CALM]["is_online"] is False and by_vin[CALM]["alarm_level"] == 0
    assert by_vin[LOW]["charging_level"] in ("critical", "warning")
    online = client.get("/api/ev/vehicles", params={"online": "true"}).json()
    assert [v["vin"] for v in online["vehicles"]] == [HOT, LOW] and online["total"] == 3
    offline = client.get("/api/ev/vehicles", params={"online": "false"}).json()
    assert [v["vin"] for v in offline["vehicles"]] == [CALM]
    urgent = client.get("/api/ev/vehicles", params={"min_level": 3}).json()
    assert [v["vin"] for v in urgent["vehicles"]] == [HOT]
    assert client.get("/api/ev/vehicles", params={"min_level": 4}).status_code == 422


def test_one_vehicle_with_its_series_and_explained_alarms(client: TestClient) -> None:
    doc = client.get(f"/api/ev/vehicles/{HOT}").json()
    series = doc["series"]
    assert series["source"] == "memory" and len(series["t_ms"]) == 20
    assert series["t_ms"][1] - series["t_ms"][0] == 1000
    for column in ("pack_voltage_v", "pack_current_a", "cell_spread_v", "temp_max_c"):
        assert len(series[column]) == 20 and all(v is not None for v in series[column])
    assert series["temp_max_c"][-1] > series["temp_max_c"][0] + 20  # the runaway's climb
    alarms = doc["alarms"]
    assert alarms[0]["alarm"]["raised_at_ms"] >= alarms[-1]["alarm"]["raised_at_ms"]
    kinds = {a["alarm"]["kind"]: a for a in alarms}
    assert kinds["vehicle_alarm"]["alarm"]["level"] == 3 and kinds["vehicle_alarm"]["is_active"]
    assert "battery_high_temperature" in kinds["vehicle_alarm"]["alarm"]["reason"]
    assert any(k.startswith("anomaly:") and a["alarm"]["reason"] for k, a in kinds.items())
    assert len(doc["cell_voltages_v"]) == 96 and len(doc["probe_temps_c"]) == 16
    since = client.get(f"/api/ev/vehicles/{HOT}", params={"since_ms": series["t_ms"][15]})
    assert since.json()["series"]["t_ms"] == series["t_ms"][15:]
    missing = client.get("/api/ev/vehicles/LNOBODY0000000001")
    assert missing.status_code == 404 and "has not reported" in missing.json()["detail"]


def test_alarms_filtered_by_level_activity_and_vin(
    client: TestClient, fleet: tuple[EvMonitor, ManualClock]
) -> None:
    every = client.get("/api/ev/alarms", params={"limit": 1000}).json()
    assert every and {a["alarm"]["vin"] for a in every} >= {HOT}
    urgent = client.get("/api/ev/alarms", params={"min_level": 3}).json()
    assert urgent and all(a["alarm"]["level"] == 3 for a in urgent)
    assert len(urgent) < len(every)
    low = client.get("/api/ev/alarms", params={"vin": LOW}).json()
    assert low and {a["alarm"]["kind"] for a in low} <= {"charging:critical", "charging:warning"}
    assert len(client.get("/api/ev/alarms", params={"limit": 2}).json()) == 2
    fleet[1].advance(151_000)  # nothing raised again: every alarm is over
    assert client.get("/api/ev/alarms", params={"active": "true"}).json() == []
    assert len(client.get("/api/ev/alarms", params={"active": "false", "limit": 1000}).json()) == (
        len(every)
    )


def test_charging_warnings_and_plan(client: TestClient) -> None:
    doc = client.get("/api/ev/charging").json()
    assert doc["is_enabled"] and doc["chargers"][0]["id"] == "depot"
    assert doc["warnings"][0]["vin"] == LOW and "kWh" in doc["warnings"][0]["reason"]
    plan = doc["plan"]
    assert plan["strategy"] == "balanced" and doc["baseline"]["strategy"] == "nearest"
    assert LOW in {a["vin"] for a in plan["assignments"]} | set(plan["unserved"])


def test_reports_newest_last(client: TestClient) -> None:
    reports = client.get("/api/ev/reports", params={"limit": 3}).json()
    assert [r["vin"] for r in reports] == [HOT, CALM, LOW]
    assert reports[0]["vehicle"]["speed_kmh"] is not None


def test_documented_in_openapi(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for path, name in (
        ("/api/ev/vehicles", "EvFleet"),
        ("/api/ev/vehicles/{vin}", "EvVehicleDetail"),
        ("/api/ev/charging", "EvChargingOverview"),
    ):
        op = doc["paths"][path]["get"]
        assert op["summary"] and op["description"]
        schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{name}"}
    alarms = doc["paths"]["/api/ev/alarms"]["get"]["responses"]["200"]
    items = alarms["content"]["application/json"]["schema"]["items"]
    assert items == {"$ref": "#/components/schemas/EvAlarmEntry"}
    assert {"EvVehicleStatus", "EvSeries", "ChargingWarning", "ChargePlan", "EvReport"} <= set(
        schemas
    )
    status = schemas["EvVehicleStatus"]["properties"]
    assert {"soc_pct", "speed_kmh", "cell_spread_v", "alarm_level", "is_online"} <= set(status)
    params = {p["name"] for p in doc["paths"]["/api/ev/vehicles"]["get"]["parameters"]}
    assert {"online", "min_level"} <= params
    # every reference resolves
    text = client.get("/openapi.json").text
    for ref in {r.split('"')[0] for r in text.split('"$ref":"#/components/schemas/')[1:]}:
        assert ref in schemas, ref


def test_without_a_gb32960_server_the_routes_say_so() -> None:
    app = create_app(
        live=ScriptedLive(start_ms=T0), store=DuckDbStore(data_dir=None), settings=ApiSettings()
    )
    with TestClient(app) as c:
        answer = c.get("/api/ev/vehicles")
    assert answer.status_code == 404 and "--gb32960" in answer.json()["detail"]
