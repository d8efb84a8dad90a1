"""The alarm workflow: one list of road events, level-3 EV alarms, device faults and
misbehaviour reports; operators acknowledge and close, everyone who reads sees who and when.

``GET /api/alarms`` lists the live alarms (open or acknowledged: ``runtime.alarms.AlarmBook``),
most severe first, filtered by ``state``, ``severity``, ``source`` and ``since`` (updated at
or after, UTC ms). ``POST /api/alarms/{alarm_id}/ack`` and ``.../close`` take a workflow step
(operator; recorded with the caller's identity in the alarm and, by the access gate, in the
audit trail as ``alarm.acknowledged`` / ``alarm.closed``); a step that does not apply is 409
naming who took the earlier one. ``GET /api/alarms/history`` reads the stored alarms (closed
ones included, ``store.alarms.AlarmTable``). A caller sees the alarms of its tenant and the
deployment's (``tenant`` ``null``: the road's); another tenant's alarm is 404.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from v2xcloud.api._common import UTC_MS_QUERY, json_response
from v2xcloud.api.access import Principal
from v2xcloud.api.auth import Caller
from v2xcloud.errors import AlarmStateError, StoreError
from v2xcloud.model import Alarm, AlarmSeverity, AlarmSource, AlarmState
from v2xcloud.runtime.alarms import AlarmBook
from v2xcloud.store.alarms import AlarmTable

__all__ = ["caller_identity", "router"]

router = APIRouter()
_DAY_MS = 86_400_000

StateParam = Annotated[AlarmState | None, Query(description="open, acknowledged (or closed)")]
SeverityParam = Annotated[
    AlarmSeverity | None, Query(description="critical, major, minor or warning")
]
SourceParam = Annotated[
    AlarmSource | None, Query(description="road_event, ev, device or misbehaviour")
]


def caller_identity(caller: Principal) -> str:
    """How a caller is named in an alarm's ``acked_by``/``closed_by``: ``via:subject@tenant``."""
    return f"{caller.via}:{caller.subject}@{caller.tenant}"


def _book(request: Request) -> AlarmBook:
    found: AlarmBook | None = getattr(request.app.state, "alarms", None)
    if found is None:
        raise HTTPException(404, "no alarm book: the API runs without one")
    return found


def _table(request: Request) -> AlarmTable:
    found: AlarmTable | None = getattr(request.app.state, "alarm_table", None)
    if found is None:
        raise HTTPException(404, "no alarm history: the history store keeps no alarm table")
    return found


def _sees(caller: Principal, alarm: Alarm) -> bool:
    return alarm.tenant is None or caller.sees(alarm.tenant)


def _now(request: Request) -> int:
    now_ms: int = request.app.state.live.stats().now_ms
    return now_ms


@router.get("/alarms", tags=["alarms"])
def list_alarms(
    request: Request,
    caller: Caller,
    state: StateParam = None,
    severity: SeverityParam = None,
    source: SourceParam = None,
    since: Annotated[
        int | None, Query(description="updated at or after, UTC ms", **UTC_MS_QUERY)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Response:
    """The live alarms (open and acknowledged), most severe first, then newest; with the
    number per severity and state over all live alarms the caller sees. Closed alarms are in
    ``/api/alarms/history``."""
    if state is AlarmState.CLOSED:
        raise HTTPException(
            422, "closed alarms are not live: read /api/alarms/history?state=closed"
        )
    visible = [a for a in _book(request).live() if _sees(caller, a)]
    found = [
        a
        for a in visible
        if (state is None or a.state is state)
        and (severity is None or a.severity is severity)
        and (source is None or a.source is source)
        and (since is None or a.updated_ms >= since)
    ]
    return json_response(
        {
            "now_ms": _now(request),
            "alarms": found[:limit],
            "total": len(found),
            "by_severity": dict(Counter(a.severity.value for a in visible)),
            "by_state": dict(Counter(a.state.value for a in visible)),
        }
    )


def _step(request: Request, caller: Principal, alarm_id: str, step: str) -> Response:
    book = _book(request)
    live = book.get(alarm_id)
    if live is None or not _sees(caller, live):
        _refuse_unknown(request, caller, alarm_id)
    try:
        if step == "ack":
            done = book.acknowledge(alarm_id, by=caller_identity(caller), at_ms=_now(request))
        else:
            done = book.close(alarm_id, by=caller_identity(caller), at_ms=_now(request))
    except KeyError:  # closed meanwhile by another operator or the platform
        _refuse_unknown(request, caller, alarm_id)
    except AlarmStateError as exc:
        raise HTTPException(409, str(exc)) from exc
    book.flush()  # the step is stored before it is confirmed
    return json_response(done)


def _refuse_unknown(request: Request, caller: Principal, alarm_id: str) -> None:
    """404 for an alarm the caller cannot see; 409 for one that is closed already."""
    stored = None
    table = getattr(request.app.state, "alarm_table", None)
    if table is not None:
        try:
            stored = table.get(alarm_id)
        except StoreError as exc:
            raise HTTPException(503, f"history store unavailable: {exc}") from exc
    if stored is None or not _sees(caller, stored):
        raise HTTPException(404, f"alarm {alarm_id!r} not found")
    raise HTTPException(
        409, f"alarm {alarm_id} is closed (by {stored.closed_by} at {stored.closed_ms})"
    )


@router.post("/alarms/{alarm_id}/ack", tags=["alarms"])
def acknowledge_alarm(request: Request, caller: Caller, alarm_id: str) -> Response:
    """Acknowledge an open alarm (operator): it stays listed, marked with who and when."""
    return _step(request, caller, alarm_id, "ack")


@router.post("/alarms/{alarm_id}/close", tags=["alarms"])
def close_alarm(request: Request, caller: Caller, alarm_id: str) -> Response:
    """Close an open or acknowledged alarm (operator): it leaves the live list for the
    history, marked with who and when."""
    return _step(request, caller, alarm_id, "close")


@router.get("/alarms/history", tags=["alarms"])
def alarm_history(
    request: Request,
    caller: Caller,
    since: Annotated[
        int | None,
        Query(description="UTC ms; default: the platform's now − 24 hours", **UTC_MS_QUERY),
    ] = None,
    until: Annotated[
        int | None, Query(description="raised at or before, UTC ms", **UTC_MS_QUERY)
    ] = None,
    state: StateParam = None,
    severity: SeverityParam = None,
    source: SourceParam = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Response:
    """Stored alarms (live and closed) raised, updated or closed since ``since``, newest
    first, with who acknowledged and closed each and when."""
    start = since if since is not None else _now(request) - _DAY_MS
    try:
        found = _table(request).history(
            since_ms=start,
            until_ms=until,
            source=source,
            severity=severity,
            state=state,
            limit=limit if caller.is_platform else 5000,
        )
    except StoreError as exc:
        raise HTTPException(503, f"history store unavailable: {exc}") from exc
    visible: list[Any] = [a for a in found if _sees(caller, a)][:limit]
    return json_response({"since_ms": start, "alarms": visible})
