"""Time on the wire (minute of the year + milliseconds in the minute) to UTC milliseconds."""

from __future__ import annotations

import datetime as _dt

__all__ = ["MINUTE_MS", "utc_ms_from_moy", "utc_ms_from_sec_mark"]

MINUTE_MS = 60_000


def _year_start_ms(year: int) -> int:
    start = _dt.datetime(year, 1, 1, tzinfo=_dt.UTC)
    return int(start.timestamp() * 1000)


def utc_ms_from_moy(year: int, moy: int, sec_mark_ms: int = 0) -> int:
    """UTC ms of ``sec_mark_ms`` milliseconds into minute ``moy`` of ``year``.

    >>> utc_ms_from_moy(2020, 0, 1500)
    1577836801500
    """
    return _year_start_ms(year) + moy * MINUTE_MS + sec_mark_ms


def utc_ms_from_sec_mark(sec_mark_ms: int, reference_ms: int) -> int:
    """Resolve a bare secMark (ms within the minute) against a nearby reference time.

    BSM and RSM carry only ``secMark``; the minute comes from the receiver's clock
    (``reference_ms``, UTC ms). The result is the instant with that secMark closest to the
    reference, so a frame sent just before a minute boundary and received just after it
    resolves to the previous minute.
    """
    minute_start = reference_ms - reference_ms % MINUTE_MS
    candidate = minute_start + sec_mark_ms
    if candidate - reference_ms > MINUTE_MS // 2:
        candidate -= MINUTE_MS
    elif reference_ms - candidate > MINUTE_MS // 2:
        candidate += MINUTE_MS
    return candidate
