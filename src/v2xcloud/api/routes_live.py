"""Live endpoints: the scene as it is now, platform health, and the tick stream.

The live road scene is the deployment's: every tenant's viewer reads all of it
(``api.access``); platform-wide counters of the gateways and of access are shown to
platform-wide callers only."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, WebSocket

from v2xcloud.api._common import BBoxParam, json_response, parse_bbox
from v2xcloud.api.auth import Caller
from v2xcloud.api.live import LiveSource
from v2xcloud.api.operator_events import OperatorEvents, in_force

__all__ = ["router"]

router = APIRouter()


def _live(request: Request) -> LiveSource:
    live: LiveSource = request.app.state.live
    return live


@router.get("/health", tags=["live"])
def health() -> dict[str, str]:
    """Liveness probe (no token needed)."""
    return {"status": "ok"}


@router.get("/participants", tags=["live"])
def participants(request: Request, _caller: Caller, bbox: BBoxParam = None) -> Response:
    """Current participants (full states), optionally inside a bounding box."""
    return json_response(_live(request).participants(parse_bbox(bbox)))


@router.get("/intersections", tags=["live"])
def intersections(request: Request, _caller: Caller) -> Response:
    """Intersections with MAP lane geometry and their current signal state."""
    return json_response(_live(request).intersections())


@router.get("/advisories", tags=["live"])
def advisories(request: Request, _caller: Caller, app: str | None = None) -> Response:
    """Advisories currently in force, optionally of one application (``app=FCW``)."""
    found = _live(request).advisories()
    return json_response([a for a in found if app is None or a.app == app])


@router.get("/events", tags=["live"])
def events(request: Request, _caller: Caller) -> Response:
    """Road events currently in force: those the platform detected or received, and those
    operators posted (``POST /api/events``) that have started and not ended."""
    live = _live(request)
    now_ms = live.stats().now_ms
    found = [e for e in live.road_events() if in_force(e, now_ms)]
    seen = {(e.source, e.event_id) for e in found}
    posted: OperatorEvents = request.app.state.operator_events
    found += [e for e in posted.in_force(now_ms) if (e.source, e.event_id) not in seen]
    return json_response(found)


@router.get("/console", tags=["live"])
def console(request: Request, _caller: Caller) -> dict[str, str | None]:
    """What the operator console needs to know about the deployment: ``time_zone``, the
    district's IANA time zone (e.g. ``Asia/Shanghai``; ``null``: show the browser's)."""
    return {"time_zone": request.app.state.settings.time_zone}


@router.get("/stats", tags=["live"])
def stats(request: Request, caller: Caller) -> Response:
    """Platform health (rates, tick time, latency percentiles), stream counters and, when the
    server records history, the history writer's counters (rows written, drops, retention),
    and with device gateways their counters (frames in, drops, reconnects, down-link)."""
    writer = request.app.state.writer
    devices = getattr(request.app.state, "devices", None) if caller.is_platform else None
    access = request.app.state.access.stats() if caller.is_platform else None
    guard = getattr(request.app.state, "server_guard", None) if caller.is_platform else None
    return json_response(
        {
            "platform": _live(request).stats(),
            "stream": request.app.state.hub.stats(),
            "history": writer.stats if writer is not None else None,
            "gateways": devices.stats() if devices is not None else None,
            "access": access,
            "server": guard.stats() if guard is not None else None,
        }
    )


@router.get("/security", tags=["live"])
def security(request: Request, _caller: Caller) -> Response:
    """Signed-frame verification: frames verified (in all, per second, per profile), refused
    per drop reason, the trust store's and replay window's figures, and what the platform
    signed on its down-link; ``{"enabled": false}`` when this platform does not verify
    (``serve --pki DIR``, ``demo --signed``). Refreshed once a second."""
    doc = _live(request).stats().security
    return json_response({"enabled": True, **doc} if doc else {"enabled": False})


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    """Per-tick frames (``{"type": "tick", ...}``); ``{"type": "drops"}`` after drops. The
    access gate checked the credential (header or ``?token=``) before the handshake."""
    await websocket.accept()
    await websocket.app.state.hub.serve(websocket)
