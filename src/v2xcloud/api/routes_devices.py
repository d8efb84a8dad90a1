"""Device endpoints: the registry with each device's health, and its administration.

``GET /api/devices`` lists every registered device (id, kind, tenant, message set, position,
vendor shape, state, rate limits) with its ``health``: ``online`` (heard within 15 s),
``last_seen_ms``, ``last_heartbeat_ms``, message counts and ``rates_per_s`` per type,
``dead_letters`` per reason, ``is_flooding`` (throttled lately) and ``downlink`` (sent, acked,
resent, unanswered, gave_up, ack_rate, ack latency mean/max, ``link_abnormal``, pending).
Access (``api.access``): a caller sees and changes only the devices of its tenant (a device of
another tenant is 404, as if it did not exist); platform-wide callers (tenant ``*``) see all.
Operators change and disable devices (never moving one to another tenant), admins register
them in their tenant and remove them (``DELETE``). GB/T 32960 vehicles are under ``/api/ev``
(``api.routes_ev``), each shown to the tenant of its vehicle's (VIN's) registry entry only.

The routes read a ``DeviceDirectory`` from ``app.state.devices`` (the platform service wires
it; without gateways there is none and the routes answer 404 saying so).
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Body, HTTPException, Request, Response

from v2xcloud.api._common import json_response
from v2xcloud.api.access import Principal
from v2xcloud.api.auth import Caller
from v2xcloud.errors import ConfigError, QuotaExceeded

__all__ = ["DeviceDirectory", "router"]

router = APIRouter()


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

    def tenant_of(self, device_id: str) -> str | None:
        """The tenant of a registered device, or None."""
        ...

    def device_ids(self, tenant: str) -> list[str]:
        """The ids of every device of ``tenant``."""
        ...


def _directory(request: Request) -> DeviceDirectory:
    found: DeviceDirectory | None = getattr(request.app.state, "devices", None)
    if found is None:
        raise HTTPException(404, "no device registry: serve runs without device gateways")
    return found


def _now(request: Request) -> int:
    now_ms: int = request.app.state.live.stats().now_ms
    return now_ms


def _visible(
    request: Request, caller: Principal, device_id: str
) -> tuple[DeviceDirectory, dict[str, Any]]:
    """The device if the caller may see it; 404 otherwise (other tenants' ids do not leak)."""
    directory = _directory(request)
    found = directory.device(device_id, _now(request))
    if found is None or not caller.sees(found.get("tenant")):
        raise HTTPException(404, f"device {device_id!r} is not registered")
    return directory, found


@router.get("/devices", tags=["devices"])
def list_devices(request: Request, caller: Caller) -> Response:
    """Every registered device of the caller's tenant with its health."""
    found = _directory(request).devices(_now(request))
    return json_response([d for d in found if caller.sees(d.get("tenant"))])


@router.get("/devices/{device_id}", tags=["devices"])
def get_device(request: Request, caller: Caller, device_id: str) -> Response:
    """One device with its health (404 if not registered or of another tenant)."""
    return json_response(_visible(request, caller, device_id)[1])


@router.post(
    "/devices",
    tags=["admin"],
    status_code=201,
    responses={
        409: {"description": "already registered, or the registry or tenant is full"},
        422: {"description": "invalid"},
    },
)
def add_device(
    request: Request,
    caller: Caller,
    body: Annotated[dict[str, Any], Body(description="a Device")],
) -> Response:
    """Register a device (admin; in the caller's tenant, which is the default ``tenant``)."""
    directory = _directory(request)
    body = dict(body)
    if not caller.is_platform:
        tenant = body.setdefault("tenant", caller.tenant)
        if tenant != caller.tenant:
            raise HTTPException(
                403, f"tenant {caller.tenant!r} cannot register a device of tenant {tenant!r}"
            )
    existing = directory.device(str(body.get("device_id", "")), _now(request))
    if existing is not None:
        if not caller.sees(existing.get("tenant")):
            raise HTTPException(409, "this device id is taken; choose another")
        raise HTTPException(409, f"device {body.get('device_id')!r} is already registered")
    try:
        return json_response(directory.add(body, _now(request)), status_code=201)
    except QuotaExceeded as exc:  # valid, but a bound (the tenant's device quota) holds
        raise HTTPException(409, str(exc)) from exc
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.patch("/devices/{device_id}", tags=["admin"])
def update_device(
    request: Request,
    caller: Caller,
    device_id: str,
    changes: Annotated[dict[str, Any], Body(description="fields to change")],
) -> Response:
    """Change a device's message set, shape, position, range, state or rate limits (operator;
    only a platform-wide caller moves a device to another tenant)."""
    directory, found = _visible(request, caller, device_id)
    if "tenant" in changes and changes["tenant"] != found.get("tenant") and not caller.is_platform:
        raise HTTPException(403, "only the platform's admin moves a device to another tenant")
    try:
        return json_response(directory.update(device_id, changes, _now(request)))
    except KeyError as exc:
        raise HTTPException(404, f"device {device_id!r} is not registered") from exc
    except QuotaExceeded as exc:  # moved to a tenant that holds its quota
        raise HTTPException(409, str(exc)) from exc
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.post("/devices/{device_id}/disable", tags=["admin"])
def disable_device(request: Request, caller: Caller, device_id: str) -> Response:
    """Refuse the device's traffic from now on (its frames become DEVICE_DISABLED; operator)."""
    directory, _ = _visible(request, caller, device_id)
    try:
        return json_response(directory.disable(device_id, _now(request)))
    except KeyError as exc:
        raise HTTPException(404, f"device {device_id!r} is not registered") from exc


@router.delete("/devices/{device_id}", tags=["admin"])
def remove_device(request: Request, caller: Caller, device_id: str) -> Response:
    """Forget the device (admin of its tenant): its traffic is refused (unknown device) and,
    on an authenticated broker, its rights and live connection are gone."""
    directory, _ = _visible(request, caller, device_id)
    try:
        return json_response(directory.remove(device_id, _now(request)))
    except KeyError as exc:
        raise HTTPException(404, f"device {device_id!r} is not registered") from exc
