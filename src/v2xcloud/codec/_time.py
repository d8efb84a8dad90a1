"""moy (minute of the year) + DSecond ⇄ UTC ms, with the year taken from a reference time."""

from __future__ import annotations

import datetime as _dt

from v2xcloud.codec import _units as u
from v2xcloud.model import utc_ms_from_moy


def year_of(reference_ms: int) -> int:
    """The UTC year of a UTC ms instant."""
    return _dt.datetime.fromtimestamp(reference_ms / 1000, tz=_dt.UTC).year


def utc_ms(moy: int | None, sec_mark: int | None, reference_ms: int) -> int | None:
    """UTC ms of minute ``moy`` (+ ``sec_mark`` ms) in the reference's year; None if unknown."""
    if moy is None or moy >= u.MOY_UNAVAILABLE:
        return None
    mark = sec_mark if sec_mark is not None and sec_mark < u.SEC_MARK_UNAVAILABLE_FROM else 0
    return utc_ms_from_moy(year_of(reference_ms), moy, mark)


def moy_and_mark(timestamp_ms: int) -> tuple[int, int]:
    """UTC ms → (minute of its year, ms within the minute)."""
    start = utc_ms_from_moy(year_of(timestamp_ms), 0)
    minutes, mark = divmod(timestamp_ms - start, 60_000)
    return minutes, mark
