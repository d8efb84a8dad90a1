"""EV monitoring endpoints (GB/T 32960): the fleet, one vehicle, alarms, charging, reports.

Fed live by the GB/T 32960 server running in the same process (``serve --gb32960``): the
routes read an ``EvFleetView`` from ``app.state.ev`` (``ev.monitor.EvMonitor``, wired by the
platform service; without a GB/T 32960 server there is none and the routes answer 404 saying
so). Each vehicle belongs to the tenant of its VIN's registry entry (``api.access``): a caller
sees only its tenant's vehicles, their alarms and charging warnings, and a vehicle of another
tenant is 404 as if unknown; platform-wide callers see all.

Units are GB/T 32960's (volts, amperes, degrees Celsius, km/h, percent); times UTC ms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Protocol

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from v2xcloud.api._common import UTC_MS_QUERY, json_response
from v2xcloud.api._schema import documented
from v2xcloud.api.auth import Caller
from v2xcloud.model.ev import EvReport
from v2xcloud.model.ev_fleet import (
    EvAlarmEntry,
    EvChargingOverview,
    EvFleet,
    EvVehicleDetail,
)

__all__ = ["EvFleetView", "router"]

router = APIRouter()

Visible = Callable[[str], bool] | None


class EvFleetView(Protocol):
    """What the EV routes need (``ev.monitor.EvMonitor`` provides it)."""

    def fleet(
        self,
        *,
        is_online: bool | None = None,
        min_level: int | None = None,
        visible: Visible = None,
    ) -> EvFleet:
        """The vehicles, filtered, with fleet counts."""
        ...

    def vehicle(self, vin: str, *, since_ms: int | None = None) -> EvVehicleDetail | None:
        """One vehicle's detail, or None."""
        ...

    def alarms(
        self,
        *,
        min_level: int | None = None,
        is_active: bool | None = None,
        vin: str | None = None,
        limit: int = 100,
        visible: Visible = None,
    ) -> list[EvAlarmEntry]:
        """Alarms, newest first."""
        ...

    def charging(self, *, visible: Visible = None) -> EvChargingOverview:
        """Charging warnings and the plan."""
        ...

    def reports(self, limit: int) -> list[EvReport]:
        """The newest reports."""
        ...


def _ev(request: Request) -> EvFleetView:
    found: EvFleetView | None = getattr(request.app.state, "ev", None)
    if found is None:
        raise HTTPException(
            404, "no GB/T 32960 server in this process: run serve --gb32960 HOST:PORT"
        )
    return found


def _visible(request: Request, caller: Caller) -> Visible:
    """None for a platform-wide caller (sees all), else "is this VIN's tenant the caller's"."""
    if caller.is_platform:
        return None
    devices = getattr(request.app.state, "devices", None)
    if devices is None:
        return lambda vin: False  # no registry to say whose a vehicle is: none is the caller's
    return lambda vin: caller.sees(devices.tenant_of(vin))


Level = Annotated[
    int | None, Query(ge=0, le=3, description="only alarm level >= this (0-3; 3 is urgent)")
]


@router.get(
    "/ev/vehicles",
    tags=["ev"],
    summary="The EV fleet: latest state of each vehicle",
    responses=documented(EvFleet, "the vehicles matching the filters and the fleet counts"),
)
def ev_vehicles(
    request: Request,
    caller: Caller,
    online: Annotated[bool | None, Query(description="only online (true) / offline")] = None,
    min_level: Level = None,
) -> Response:
    """Each vehicle of the caller's tenant (VIN order) with its online state and last-seen
    time, SOC, speed, position, pack voltage and current, cell voltage spread, hottest and
    coolest probe, and its alarm level (the vehicle's own, raised by active operator alarms);
    ``total``/``online``/``alarmed`` count every visible vehicle, ``evicted`` the VINs dropped
    for the monitor's bound (``max_vehicles``)."""
    fleet = _ev(request).fleet(
        is_online=online, min_level=min_level, visible=_visible(request, caller)
    )
    return json_response(fleet)


@router.get(
    "/ev/vehicles/{vin}",
    tags=["ev"],
    summary="One EV: status, recent series, alarms, charging",
    responses=documented(EvVehicleDetail, "the vehicle's detail")
    | {404: {"description": "not known to the monitor, or of another tenant"}},
)
def ev_vehicle(
    request: Request,
    caller: Caller,
    vin: Annotated[str, Path(min_length=1, max_length=17, description="the 17-character VIN")],
    since_ms: Annotated[
        int | None,
        Query(
            **UTC_MS_QUERY,
            description="series from this time (UTC ms); older than the monitor keeps: from "
            "the history store",
        ),
    ] = None,
) -> Response:
    """The vehicle's status, its recent series (pack voltage and current, cell voltage
    max/min/spread, temperatures, SOC, speed: columns, oldest first), its alarms and anomalies
    with their explanation (newest first), its charging verdict and its newest cell voltages
    and probe temperatures."""
    visible = _visible(request, caller)
    monitor = _ev(request)
    detail = (
        None
        if visible is not None and not visible(vin)
        else monitor.vehicle(vin, since_ms=since_ms)
    )
    if detail is None:
        raise HTTPException(404, f"vehicle {vin!r} has not reported to this platform")
    return json_response(detail)


@router.get(
    "/ev/alarms",
    tags=["ev"],
    summary="EV operator alarms, newest first",
    responses=documented(list[EvAlarmEntry], "alarms with whether each is still active"),
)
def ev_alarms(
    request: Request,
    caller: Caller,
    min_level: Level = None,
    active: Annotated[bool | None, Query(description="only active (true) / ended")] = None,
    vin: Annotated[str | None, Query(max_length=17)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Battery alarms of the caller's tenant's vehicles: their own level-3 alarms, detected
    anomalies (cell spread and outliers, temperature rise, insulation, SOC jumps) and charging
    alarms, each with its explanation; ``is_active`` while the condition is still raised."""
    found = _ev(request).alarms(
        min_level=min_level,
        is_active=active,
        vin=vin,
        limit=limit,
        visible=_visible(request, caller),
    )
    return json_response(found)


@router.get(
    "/ev/charging",
    tags=["ev"],
    summary="Charging warnings and the charging plan",
    responses=documented(EvChargingOverview, "warnings worst first, balanced plan, baseline"),
)
def ev_charging(request: Request, caller: Caller) -> Response:
    """Vehicles whose energy barely or no longer reaches the nearest charger (worst first),
    and the scheduler's plan for those needing charge: the balanced schedule and, to compare
    waiting times, nearest-station-first (``is_enabled`` false without chargers:
    ``serve --ev-chargers FILE``)."""
    return json_response(_ev(request).charging(visible=_visible(request, caller)))


@router.get(
    "/ev/reports",
    tags=["ev"],
    summary="The newest GB/T 32960 reports",
    responses=documented(list[EvReport], "decoded real-time reports, oldest first"),
)
def ev_reports(
    request: Request, caller: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> Response:
    """The newest real-time reports received by the in-process server (of the caller's
    tenant's vehicles), as decoded."""
    visible = _visible(request, caller)
    found = _ev(request).reports(limit if visible is None else 1000)
    return json_response([r for r in found if visible is None or visible(r.vin)][-limit:])
