"""Dead letters as data: what the platform dropped, why, from whom, with its bytes (viewer reads).

``GET /api/dead-letters`` lists the stored letters (newest first) of a time range, optionally
of one reason and/or one source, with counts by reason and by source over the same range and
the live counters of the running platform. Raw bytes are shown as hex, cut to ``raw_bytes``
bytes for display, with the full length given. ``GET /api/dead-letters/counts`` gives only
the counts. ``GET /api/dead-letters/raw`` downloads one source's letters whole, one hex line
per letter (oldest first, ``#`` lines naming time, reason and detail), which ``v2xcloud decode
--format hex`` reads back (it skips nothing but blank lines: strip the ``#`` lines first, e.g.
``grep -v '^#'``).

Access: a letter belongs to the tenant of the registered device it came from (its
``source``); a tenant's caller sees only those, and only the platform-wide caller (tenant
``*``) sees letters no registered device owns (unknown senders, broker topics) and the
running platform's live counters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import PlainTextResponse

from v2xcloud.api._common import UTC_MS_QUERY, json_response, time_range
from v2xcloud.api.access import Principal
from v2xcloud.api.auth import Caller
from v2xcloud.errors import StoreError
from v2xcloud.model import DeadLetter, DropReason
from v2xcloud.store import HistoryStore

__all__ = ["router"]

router = APIRouter()
StartMs = Annotated[
    int | None,
    Query(description="UTC ms (alias: since); default: end − 1 hour", **UTC_MS_QUERY),
]
EndMs = Annotated[
    int | None, Query(description="UTC ms; default: the platform's now", **UTC_MS_QUERY)
]
_HOUR_MS = 3_600_000
_REASONS = ", ".join(r.value for r in DropReason)


def _store(request: Request) -> HistoryStore:
    store: HistoryStore = request.app.state.store
    return store


def _reason(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return DropReason(text).value
    except ValueError:
        raise HTTPException(
            422, f"reason {text!r} is not a drop reason; one of: {_REASONS}"
        ) from None


def _letter(letter: DeadLetter, raw_bytes: int) -> dict[str, Any]:
    return {
        "received_at_ms": letter.received_at_ms,
        "source": letter.source,
        "reason": letter.reason.value,
        "where": letter.where,
        "detail": letter.detail,
        "raw_hex": letter.raw[:raw_bytes].hex(),
        "raw_len": len(letter.raw),
        "raw_truncated": len(letter.raw) > raw_bytes,
    }


def _sources(request: Request, caller: Principal) -> Sequence[str] | None:
    """The sources whose letters the caller sees (``None``: all)."""
    if caller.is_platform:
        return None
    directory = getattr(request.app.state, "devices", None)
    return [] if directory is None else directory.device_ids(caller.tenant)


def _counts(
    store: HistoryStore, start: int, end: int, sources: Sequence[str] | None
) -> dict[str, dict[str, int]]:
    return {
        "by_reason": store.dead_letter_counts(
            start_ms=start, end_ms=end, by="reason", sources=sources
        ),
        "by_source": store.dead_letter_counts(
            start_ms=start, end_ms=end, by="source", sources=sources
        ),
    }


def _live(request: Request, caller: Principal) -> dict[str, int] | None:
    counts: dict[str, int] = request.app.state.live.stats().dead_letters
    return counts if caller.is_platform else None


@router.get("/dead-letters", tags=["history"])
def dead_letters(
    request: Request,
    caller: Caller,
    start_ms: StartMs = None,
    end_ms: EndMs = None,
    since: Annotated[
        int | None, Query(description="UTC ms; same as start_ms", **UTC_MS_QUERY)
    ] = None,
    reason: Annotated[str | None, Query(description="one DropReason value")] = None,
    source: Annotated[str | None, Query(max_length=200, description="gateway/device id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    raw_bytes: Annotated[int, Query(ge=0, le=4096, description="raw bytes shown")] = 64,
) -> Response:
    """Stored dead letters in the range (default: the last hour), newest first, with counts
    by reason and by source over the range and (platform-wide callers) the live counters per reason."""
    if start_ms is not None and since is not None and start_ms != since:
        raise HTTPException(422, "give start_ms or since, not two different values")
    start, end = time_range(request, start_ms if start_ms is not None else since, end_ms, _HOUR_MS)
    store = _store(request)
    sources = _sources(request, caller)
    try:
        letters = store.dead_letters(
            start_ms=start,
            end_ms=end,
            reason=_reason(reason),
            source=source,
            limit=limit,
            sources=sources,
        )
        counts = _counts(store, start, end, sources)
    except StoreError as exc:
        raise HTTPException(503, f"history store unavailable: {exc}") from exc
    return json_response(
        {
            "start_ms": start,
            "end_ms": end,
            "letters": [_letter(letter, raw_bytes) for letter in letters],
            "counts": counts,
            "live": _live(request, caller),
        }
    )


@router.get(
    "/dead-letters/raw",
    tags=["history"],
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "hex lines, # comments"}},
)
def dead_letters_raw(
    request: Request,
    caller: Caller,
    source: Annotated[str, Query(min_length=1, max_length=200, description="gateway/device id")],
    start_ms: StartMs = None,
    end_ms: EndMs = None,
    reason: Annotated[str | None, Query(description="one DropReason value")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> Response:
    """The raw bytes of one source's dead letters in the range (default: the last hour) as a
    download: per letter a ``#`` line (UTC ms, reason, where, detail) and its bytes in hex."""
    start, end = time_range(request, start_ms, end_ms, _HOUR_MS)
    sources = _sources(request, caller)
    if sources is not None and source not in sources:
        raise HTTPException(404, f"no dead letters of {source!r} for this caller")
    try:
        letters = _store(request).dead_letters(
            start_ms=start, end_ms=end, reason=_reason(reason), source=source, limit=limit
        )
    except StoreError as exc:
        raise HTTPException(503, f"history store unavailable: {exc}") from exc
    lines = []
    for letter in reversed(letters):  # the store answers newest first
        where = f" at {letter.where}" if letter.where else ""
        detail = " ".join(letter.detail.split())  # one line, whatever the detail held
        lines += [
            f"# {letter.received_at_ms} {letter.reason.value}{where}: {detail}",
            letter.raw.hex(),
        ]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in source)[:80]
    return PlainTextResponse(
        "\n".join(lines) + ("\n" if lines else ""),
        headers={"Content-Disposition": f'attachment; filename="dead-letters-{safe}.hex"'},
    )


@router.get("/dead-letters/counts", tags=["history"])
def dead_letter_counts(
    request: Request, caller: Caller, start_ms: StartMs = None, end_ms: EndMs = None
) -> Response:
    """Stored dead letters per reason and per source in the range (default: the last hour),
    and the running platform's counters per reason."""
    start, end = time_range(request, start_ms, end_ms, _HOUR_MS)
    try:
        counts = _counts(_store(request), start, end, _sources(request, caller))
    except StoreError as exc:
        raise HTTPException(503, f"history store unavailable: {exc}") from exc
    live = _live(request, caller)
    return json_response({"start_ms": start, "end_ms": end, **counts, "live": live})
