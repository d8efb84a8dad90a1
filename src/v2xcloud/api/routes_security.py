"""Who uses the API and what they did: recent callers and the audit trail (admins).

``GET /api/sessions`` lists the callers that passed the access gate within ``within_s``
(default 15 min; the gate keeps the newest 1,000 callers): credential kind and id, tenant,
role, first and last request, request count, last path. Bearer tokens carry no session, so
"logged in" here means "called lately"; the tokens themselves are ``/api/tokens``.
``GET /api/audit`` reads the hash-chained audit trail (``store.audit``): rows of a time range,
optionally of one action, newest first, with the chain's head. A tenant's admin sees its own
tenant's callers and rows; the platform's admin everyone's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from v2xcloud.api._common import UTC_MS_QUERY, json_response
from v2xcloud.api.auth import Caller
from v2xcloud.api.tokens import wall_clock_ms
from v2xcloud.errors import StoreError
from v2xcloud.store.audit import AuditTrail

__all__ = ["router"]

router = APIRouter()
_DAY_MS = 86_400_000


@router.get("/sessions", tags=["admin"])
def sessions(
    request: Request,
    caller: Caller,
    within_s: Annotated[float, Query(gt=0, le=86_400, description="called within, seconds")] = 900,
) -> Response:
    """Callers of the API within ``within_s`` (their tenant's for a tenant's admin), most
    recent first; times are wall-clock UTC ms."""
    now = wall_clock_ms()
    recent = [
        dict(entry)
        for entry in list(request.app.state.access.callers.values())
        if now - entry["last_ms"] <= within_s * 1000 and caller.sees(entry["tenant"])
    ]
    recent.sort(key=lambda e: e["last_ms"], reverse=True)
    return json_response({"now_ms": now, "within_s": within_s, "callers": recent})


def _trail(request: Request) -> AuditTrail:
    found = request.app.state.access.audit
    if not isinstance(found, AuditTrail):
        raise HTTPException(404, "no audit trail: the API runs without one")
    return found


@router.get("/audit", tags=["admin"])
def audit(
    request: Request,
    caller: Caller,
    since: Annotated[
        int | None, Query(description="UTC ms; default: now − 24 hours", **UTC_MS_QUERY)
    ] = None,
    until: Annotated[int | None, Query(description="UTC ms", **UTC_MS_QUERY)] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="e.g. alarm.acknowledged")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """Audit-trail rows in the range (newest first) and the chain's head (seq, hash)."""
    trail = _trail(request)
    start = since if since is not None else wall_clock_ms() - _DAY_MS
    try:
        rows: list[Any] = trail.entries(
            start_ms=start,
            end_ms=until,
            action=action,
            limit=limit,
            tenant=None if caller.is_platform else caller.tenant,
            newest_first=True,
        )
        head = trail.head()
    except StoreError as exc:
        raise HTTPException(503, f"history store unavailable: {exc}") from exc
    return json_response(
        {"since_ms": start, "head": {"seq": head[0], "hash": head[1]}, "entries": rows}
    )
