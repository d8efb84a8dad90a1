"""History endpoints (the store) and the write/admin endpoints (admin token)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response

from v2xcloud.api._common import BBoxParam, json_response, parse_bbox, time_range
from v2xcloud.api.auth import require_admin, require_viewer
from v2xcloud.errors import StoreError
from v2xcloud.model import RoadEvent
from v2xcloud.store import HistoryStore

__all__ = ["router"]

router = APIRouter()
Viewer = Annotated[str, Depends(require_viewer)]
Admin = Annotated[str, Depends(require_admin)]
StartMs = Annotated[int | None, Query(description="UTC ms; default: end − span")]
EndMs = Annotated[int | None, Query(description="UTC ms; default: the platform's now")]
Limit = Annotated[int, Query(ge=1, le=10_000)]
_HOUR_MS = 3_600_000


def _store(request: Request) -> HistoryStore:
    store: HistoryStore = request.app.state.store
    return store


def _unavailable(exc: StoreError) -> HTTPException:
    return HTTPException(503, f"history store unavailable: {exc}")


@router.get("/participants/{participant_id}/trajectory", tags=["history"])
def trajectory(
    request: Request,
    participant_id: str,
    _role: Viewer,
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
    _role: Viewer,
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
    _role: Viewer,
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


@router.get("/dead-letters", tags=["history"])
def dead_letters(
    request: Request, _role: Viewer, start_ms: StartMs = None, end_ms: EndMs = None
) -> Response:
    """Dead letters per reason: stored in the range (default: last hour) and live counters."""
    start, end = time_range(request, start_ms, end_ms, _HOUR_MS)
    try:
        stored = _store(request).dead_letter_counts(start_ms=start, end_ms=end)
    except StoreError as exc:
        raise _unavailable(exc) from exc
    live = request.app.state.live.stats().dead_letters
    return json_response({"stored": stored, "live": live})


@router.post("/events", tags=["admin"], status_code=201)
def post_event(
    request: Request, _role: Admin, body: Annotated[dict[str, Any], Body(description="a RoadEvent")]
) -> Response:
    """Record an operator road event (admin token)."""
    try:
        event = msgspec.convert(body, type=RoadEvent)
    except msgspec.ValidationError as exc:
        raise HTTPException(422, f"road event: {exc}") from exc
    now_ms = request.app.state.live.stats().now_ms
    try:
        _store(request).write_road_events([event], recorded_ms=now_ms)
    except StoreError as exc:
        raise _unavailable(exc) from exc
    return json_response({"recorded_ms": now_ms}, status_code=201)


@router.post("/admin/retention", tags=["admin"])
def apply_retention(request: Request, _role: Admin) -> Response:
    """Delete history older than each table's retention now (admin token)."""
    now_ms = request.app.state.live.stats().now_ms
    try:
        return json_response({"deleted": _store(request).apply_retention(now_ms=now_ms)})
    except StoreError as exc:
        raise _unavailable(exc) from exc
