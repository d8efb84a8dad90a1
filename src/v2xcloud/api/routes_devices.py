"""Device endpoints: the registry with each device's health, and its administration.

``GET /api/devices`` lists every registered device (id, kind, tenant, message set, position,
vendor shape, state, rate limits) with its ``health``: ``online`` (heard within 15 s),
``last_seen_ms``, ``last_heartbeat_ms``, message counts and ``rates_per_s`` per type,
``dead_letters`` per reason, ``is_flooding`` (throttled lately) and ``downlink`` (sent, acked,
resent, unanswered, gave_up, ack_rate, ack latency mean/max, ``link_abnormal``, pending).
Writes (add, update, disable, ``DELETE``) need the admin token like every write route. GB/T 32960 reports
and alarms received by the in-process server are under ``/api/ev``.

The routes read a ``DeviceDirectory`` from ``app.state.devices`` (the platform service wires
it; without gateways there is none and the routes answer 404 saying so).
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response

from v2xcloud.api._common import json_response
from v2xcloud.api.auth import require_admin, require_viewer
from v2xcloud.errors import ConfigError

__all__ = ["DeviceDirectory", "router"]

router = APIRouter()
Viewer = Annotated[str, Depends(require_viewer)]
Admin = Annotated[str, Depends(require_admin)]


class DeviceDirectory(Protocol):
    """What the device routes need (``cli``'s platform service provides it)."""

    def devices(self, now_ms: int) -> list[dict[str, Any]]:
        """Every device with its health."""
        ...

    def device(self, device_id: str, now_ms: int) -> dict[str, Any] | None:
        """One device with its health, or None."""
        ...

    def add(self, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
        """Register a device (``ConfigError`` when invalid or already there)."""
        ...

    def update(self, device_id: str, changes: dict[str, Any], now_ms: int) -> dict[str, Any]:
        """Change fields (``KeyError`` when unknown, ``ConfigError`` when invalid)."""
        ...

    def disable(self, device_id: str, now_ms: int) -> dict[str, Any]:
        """Refuse the device's traffic (``KeyError`` when unknown)."""
        ...

    def remove(self, device_id: str, now_ms: int) -> dict[str, Any]:
        """Forget the device (``KeyError`` when unknown); it as it was, disabled."""
        ...

    def stats(self) -> dict[str, Any]:
        """Gateway, ingest and down-link counters."""
        ...

    def ev_reports(self, limit: int) -> list[Any]:
        """The newest GB/T 32960 reports."""
        ...

    def ev_alarms(self, limit: int) -> list[Any]:
        """The newest battery alarms and charging warnings."""
        ...


def _directory(request: Request) -> DeviceDirectory:
    found: DeviceDirectory | None = getattr(request.app.state, "devices", None)
    if found is None:
        raise HTTPException(404, "no device registry: serve runs without device gateways")
    return found


def _now(request: Request) -> int:
    now_ms: int = request.app.state.live.stats().now_ms
    return now_ms


@router.get("/devices", tags=["devices"])
def list_devices(request: Request, _role: Viewer) -> Response:
    """Every registered device with its health."""
    return json_response(_directory(request).devices(_now(request)))


@router.get("/devices/{device_id}", tags=["devices"])
def get_device(request: Request, _role: Viewer, device_id: str) -> Response:
    """One device with its health (404 if not registered)."""
    found = _directory(request).device(device_id, _now(request))
    if found is None:
        raise HTTPException(404, f"device {device_id!r} is not registered")
    return json_response(found)


@router.post(
    "/devices",
    tags=["admin"],
    status_code=201,
    responses={409: {"description": "already registered"}, 422: {"description": "invalid"}},
)
def add_device(
    request: Request, _role: Admin, body: Annotated[dict[str, Any], Body(description="a Device")]
) -> Response:
    """Register a device (admin token)."""
    directory = _directory(request)
    if directory.device(str(body.get("device_id", "")), _now(request)) is not None:
        raise HTTPException(409, f"device {body.get('device_id')!r} is already registered")
    try:
        return json_response(directory.add(body, _now(request)), status_code=201)
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.patch("/devices/{device_id}", tags=["admin"])
def update_device(
    request: Request,
    _role: Admin,
    device_id: str,
    changes: Annotated[dict[str, Any], Body(description="fields to change")],
) -> Response:
    """Change a device's tenant, message set, shape, position, range, state or rate limits."""
    try:
        return json_response(_directory(request).update(device_id, changes, _now(request)))
    except KeyError as exc:
        raise HTTPException(404, f"device {device_id!r} is not registered") from exc
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.post("/devices/{device_id}/disable", tags=["admin"])
def disable_device(request: Request, _role: Admin, device_id: str) -> Response:
    """Refuse the device's traffic from now on (its frames become DEVICE_DISABLED)."""
    try:
        return json_response(_directory(request).disable(device_id, _now(request)))
    except KeyError as exc:
        raise HTTPException(404, f"device {device_id!r} is not registered") from exc


@router.delete("/devices/{device_id}", tags=["admin"])
def remove_device(request: Request, _role: Admin, device_id: str) -> Response:
    """Forget the device: its traffic is refused (unknown device) and, on an authenticated
    broker, its rights and live connection are gone."""
    try:
        return json_response(_directory(request).remove(device_id, _now(request)))
    except KeyError as exc:
        raise HTTPException(404, f"device {device_id!r} is not registered") from exc


@router.get("/ev/reports", tags=["ev"])
def ev_reports(
    request: Request, _role: Viewer, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> Response:
    """The newest GB/T 32960 real-time reports received by the in-process server."""
    return json_response(_directory(request).ev_reports(limit))


@router.get("/ev/alarms", tags=["ev"])
def ev_alarms(
    request: Request, _role: Viewer, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> Response:
    """The newest battery alarms and charging warnings (GB/T 32960)."""
    return json_response(_directory(request).ev_alarms(limit))
