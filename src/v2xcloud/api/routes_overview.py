"""The district overview and the warning heat map (viewer reads).

``GET /api/overview``: every intersection (name, place, signal heard, vehicles and vulnerable
road users near it now, distinct warnings near it over the last minute, its open alarms and
the worst of them), every RSU the caller may see (online, last seen, rates, dead letters,
open alarms) and the district's totals (``api.overview``).

``GET /api/warnings/heatmap``: warnings issued since ``since`` (default: the last hour)
counted per grid cell of about ``cell_m`` metres, from the history store (so it covers what
the platform recorded, restarts included).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from v2xcloud.api._common import UTC_MS_QUERY, json_response, time_range
from v2xcloud.api.access import Principal
from v2xcloud.api.auth import Caller
from v2xcloud.api.overview import DistrictOverview, grid_for
from v2xcloud.errors import StoreError
from v2xcloud.model import Alarm
from v2xcloud.store import AdvisoryCell, HistoryStore

__all__ = ["router"]

router = APIRouter()
_HOUR_MS = 3_600_000
_MINUTE_MS = 60_000
_COUNT_CELL_M = 25.0  # warnings near an intersection: counted on this grid, then placed


def _cells(
    request: Request, start_ms: int, end_ms: int, cell_m: float, lat_deg: float
) -> list[AdvisoryCell]:
    store: HistoryStore = request.app.state.store
    cell_lat, cell_lon = grid_for(cell_m, lat_deg)
    try:
        return store.advisory_cells(
            start_ms=start_ms, end_ms=end_ms, cell_lat_deg=cell_lat, cell_lon_deg=cell_lon
        )
    except StoreError as exc:
        raise HTTPException(503, f"history store unavailable: {exc}") from exc


def _alarms(request: Request, caller: Principal) -> list[Alarm]:
    book = getattr(request.app.state, "alarms", None)
    if book is None:
        return []
    return [a for a in book.live() if a.tenant is None or caller.sees(a.tenant)]


def _rsus(request: Request, caller: Principal, now_ms: int) -> list[dict[str, Any]]:
    directory = getattr(request.app.state, "devices", None)
    if directory is None:
        return []
    return [
        d
        for d in directory.devices(now_ms)
        if d.get("kind") == "rsu" and caller.sees(d.get("tenant"))
    ]


@router.get("/overview", tags=["live"])
def overview(
    request: Request,
    caller: Caller,
    radius_m: Annotated[
        float, Query(gt=0, le=2000, description="how far from an intersection counts as at it")
    ] = 200.0,
) -> Response:
    """Every intersection and RSU at a glance, with counts and open alarms."""
    live = request.app.state.live
    now = live.stats().now_ms
    district = DistrictOverview(live.intersections(), radius_m=radius_m)
    cells = _cells(request, now - _MINUTE_MS, now, _COUNT_CELL_M, district.mean_lat_deg)
    doc = district.build(
        live.participants(), cells, _alarms(request, caller), _rsus(request, caller, now)
    )
    return json_response({"now_ms": now, "radius_m": radius_m, **doc})


@router.get("/warnings/heatmap", tags=["history"])
def warnings_heatmap(
    request: Request,
    caller: Caller,
    since: Annotated[
        int | None, Query(description="UTC ms; default: until − 1 hour", **UTC_MS_QUERY)
    ] = None,
    until: Annotated[
        int | None, Query(description="UTC ms; default: the platform's now", **UTC_MS_QUERY)
    ] = None,
    cell_m: Annotated[float, Query(ge=5, le=5000, description="cell size in metres")] = 50.0,
) -> Response:
    """Warnings per grid cell over a time range (default: the last hour), busiest first:
    every issue (``advisories``), distinct (app, ego) pairs (``warned``), highest level."""
    start, end = time_range(request, since, until, _HOUR_MS)
    lat = DistrictOverview(request.app.state.live.intersections(), radius_m=1.0).mean_lat_deg
    cells = _cells(request, start, end, cell_m, lat)
    return json_response({"start_ms": start, "end_ms": end, "cell_m": cell_m, "cells": cells})
