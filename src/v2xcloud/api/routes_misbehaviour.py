"""Misbehaviour reports: senders the platform flagged, why, with the evidence (viewer reads).

``GET /api/misbehaviour`` lists the stored reports (newest first) of a time range, optionally
of one reason (``MisbehaviourCheck`` value) and/or one sender, with the number per reason over
what is listed and the running platform's detection counters (``live``: reports checked and
refused, evidence per check, senders flagged).
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from v2xcloud.api._common import UTC_MS_QUERY, json_response, time_range
from v2xcloud.api.access import Principal
from v2xcloud.api.auth import Caller
from v2xcloud.errors import StoreError
from v2xcloud.model import MisbehaviourCheck, MisbehaviourReport
from v2xcloud.store import HistoryStore

__all__ = ["router"]

router = APIRouter()
_DAY_MS = 86_400_000
_CHECKS = ", ".join(c.value for c in MisbehaviourCheck)


def _reason(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return MisbehaviourCheck(text).value
    except ValueError:
        raise HTTPException(
            422, f"reason {text!r} is not a misbehaviour check; one of: {_CHECKS}"
        ) from None


def _report(r: MisbehaviourReport) -> dict[str, Any]:
    return {
        "sender_id": r.sender_id,
        "certificate_digest": r.certificate_digest,
        "flagged_at_ms": r.flagged_at_ms,
        "reason": r.reason.value,
        "source": r.source,
        "evidence": [
            {"check": e.check.value, "at_ms": e.at_ms, "detail": e.detail, "other_id": e.other_id}
            for e in r.evidence
        ],
    }


def _visible(request: Request, caller: Principal, reports: list[MisbehaviourReport]
             ) -> list[MisbehaviourReport]:  # fmt: skip
    """A tenant's caller sees the reports about senders heard through its own devices."""
    if caller.is_platform:
        return reports
    directory = getattr(request.app.state, "devices", None)
    mine = set() if directory is None else set(directory.device_ids(caller.tenant))
    return [r for r in reports if r.source in mine]


@router.get("/misbehaviour", tags=["history"])
def misbehaviour(
    request: Request,
    caller: Caller,
    start_ms: Annotated[
        int | None, Query(description="UTC ms; default: end − 24 hours", **UTC_MS_QUERY)
    ] = None,
    end_ms: Annotated[
        int | None, Query(description="UTC ms; default: the platform's now", **UTC_MS_QUERY)
    ] = None,
    reason: Annotated[str | None, Query(description="one MisbehaviourCheck value")] = None,
    sender: Annotated[str | None, Query(max_length=200, description="participant id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Stored misbehaviour reports in the range (default: the last day), newest first; a
    tenant's caller sees those heard through its own devices, and no live counters."""
    start, end = time_range(request, start_ms, end_ms, _DAY_MS)
    store: HistoryStore = request.app.state.store
    try:
        reports = store.misbehaviour_reports(
            start_ms=start, end_ms=end, reason=_reason(reason), sender_id=sender, limit=limit
        )
    except StoreError as exc:
        raise HTTPException(503, f"history store unavailable: {exc}") from exc
    reports = _visible(request, caller, reports)
    live = request.app.state.live.stats().misbehaviour if caller.is_platform else None
    return json_response(
        {
            "start_ms": start,
            "end_ms": end,
            "reports": [_report(r) for r in reports],
            "by_reason": dict(Counter(r.reason.value for r in reports)),
            "live": live,
        }
    )
