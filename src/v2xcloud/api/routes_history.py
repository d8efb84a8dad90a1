"""History endpoints (the store) and the road's write endpoints (operator; retention: the
platform's admin). The road's history is the deployment's, read by every tenant (``api.access``)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, HTTPException, Query, Request, Response

from v2xcloud.api._common import UTC_MS_QUERY, BBoxParam, json_response, parse_bbox, time_range
from v2xcloud.api.auth import Caller
from v2xcloud.errors import StoreError
from v2xcloud.model import RoadEvent
from v2xcloud.store import HistoryStore

__all__ = ["router"]

router = APIRouter()
StartMs = Annotated[int | None, Query(description="UTC ms; default: end − span", **UTC_MS_QUERY)]
EndMs = Annotated[
    int | None, Query(description="UTC ms; default: the platform's now", **UTC_MS_QUERY)
]
Limit = Annotated[int, Query(ge=1, le=10_000)]
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS


def _store(request: Request) -> HistoryStore:
    store: HistoryStore = request.app.state.store
    return store


def _unavailable(exc: StoreError) -> HTTPException:
    return HTTPException(503, f"history store unavailable: {exc}")


@router.get("/participants/{participant_id}/trajectory", tags=["history"])
def trajectory(
    request: Request,
    participant_id: str,
    _caller: Caller,
    start_ms: StartMs = None,
    end_ms: EndMs = None,
) -> Response:
    """Stored positions ``[t_ms, lat, lon, speed_mps, heading_deg]`` of one participant
    (default: the last 10 minutes)."""
    span = request.app.state.settings.trajectory_default_ms
    start, end = time_range(request, start_ms, end_ms, span)
    try:
        return json_response(_store(request).trajectory(participant_id, start_ms=start, end_ms=end))
    except StoreError as exc:
        raise _unavailable(exc) from exc


@router.get("/history/advisories", tags=["history"])
def advisory_history(
    request: Request,
    _caller: Caller,
    start_ms: StartMs = None,
    end_ms: EndMs = None,
    bbox: BBoxParam = None,
    app: str | None = None,
    limit: Limit = 1000,
) -> Response:
    """Advisories by time range (default: last hour), bounding box and application."""
    start, end = time_range(request, start_ms, end_ms, _HOUR_MS)
    try:
        found = _store(request).advisories(
            start_ms=start, end_ms=end, bbox=parse_bbox(bbox), app=app, limit=limit
        )
    except StoreError as exc:
        raise _unavailable(exc) from exc
    return json_response(found)


@router.get("/history/events", tags=["history"])
def event_history(
    request: Request,
    _caller: Caller,
    start_ms: StartMs = None,
    end_ms: EndMs = None,
    bbox: BBoxParam = None,
    limit: Limit = 1000,
) -> Response:
    """Road events by time range (default: last hour) and bounding box."""
    start, end = time_range(request, start_ms, end_ms, _HOUR_MS)
    try:
        found = _store(request).road_events(
            start_ms=start, end_ms=end, bbox=parse_bbox(bbox), limit=limit
        )
    except StoreError as exc:
        raise _unavailable(exc) from exc
    return json_response(found)


@router.post(
    "/events",
    tags=["admin"],
    status_code=201,
    responses={
        409: {"description": "an event with this id is already in force"},
        413: {"description": "request body too large"},
        422: {"description": "not a valid road event (field, range, size, order)"},
    },
)
def post_event(
    request: Request,
    _caller: Caller,
    body: Annotated[dict[str, Any], Body(description="a RoadEvent")],
) -> Response:
    """Record an operator road event (operator); ``GET /api/events`` lists it while in force.

    The event is checked against the model's ranges (``model.road``: ids, WGS-84 degrees,
    radius, sizes, UTC ms; 422 naming the field), its times must be in order and its position
    whole (422), and its id must not clash with an event in force (409): a live one from the
    same source or detected by the platform (they share the platform's RSI id space), or one
    recorded in the last day from the same source that has not ended.
    """
    try:
        event = msgspec.convert(body, type=RoadEvent)
    except msgspec.ValidationError as exc:
        raise HTTPException(422, f"road event: {exc}") from exc
    _check_whole(event)
    now_ms = request.app.state.live.stats().now_ms
    clash = _clash(request, event, now_ms)
    if clash is not None:
        raise HTTPException(
            409,
            f"road event: event_id {event.event_id} is in use by a {clash.source} event "
            f"in force (type {clash.event_type}); choose another id or end that event first",
        )
    try:
        _store(request).write_road_events([event], recorded_ms=now_ms)
    except StoreError as exc:
        raise _unavailable(exc) from exc
    request.app.state.operator_events.add(event, now_ms)  # shown by GET /api/events while in force
    return json_response({"recorded_ms": now_ms}, status_code=201)


def _check_whole(event: RoadEvent) -> None:
    """Rules the per-field ranges cannot say; 422 naming the fields."""
    for name in ("source", "description", "kind"):
        text = getattr(event, name)
        if text is not None and "\x00" in text:  # PostgreSQL text cannot hold NUL
            raise HTTPException(422, f"road event: NUL character in $.{name}")
    if (event.lat_deg is None) != (event.lon_deg is None):
        raise HTTPException(422, "road event: lat_deg and lon_deg go together (both or neither)")
    if event.start_ms is not None and event.end_ms is not None and event.end_ms < event.start_ms:
        raise HTTPException(
            422, f"road event: end_ms {event.end_ms} is before start_ms {event.start_ms}"
        )


def _clash(request: Request, event: RoadEvent, now_ms: int) -> RoadEvent | None:
    """An event in force that ``event``'s id would be confused with, if any."""
    for live in request.app.state.live.road_events():
        if live.event_id == event.event_id and live.source in (event.source, "detection"):
            return live
    try:
        recorded = _store(request).road_events(
            start_ms=now_ms - _DAY_MS, end_ms=now_ms, limit=10_000
        )
    except StoreError as exc:
        raise _unavailable(exc) from exc
    for old in recorded:
        in_force = old.end_ms is None or old.end_ms > now_ms
        if in_force and (old.source, old.event_id) == (event.source, event.event_id):
            return old
    return None


@router.post("/admin/retention", tags=["admin"])
def apply_retention(request: Request, _caller: Caller) -> Response:
    """Delete history older than each table's retention now (the platform's admin)."""
    now_ms = request.app.state.live.stats().now_ms
    try:
        return json_response({"deleted": _store(request).apply_retention(now_ms=now_ms)})
    except StoreError as exc:
        raise _unavailable(exc) from exc
