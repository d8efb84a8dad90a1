"""moy (minute of the year) + DSecond ⇄ UTC ms, with the year taken from a reference time."""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache

from v2xcloud.codec import _units as u
from v2xcloud.model import utc_ms_from_moy

_DAY_MS = 86_400_000
_MINUTE_MS = 60_000


def year_of(reference_ms: int) -> int:
    """The UTC year of a UTC ms instant."""
    return _year_of_day(reference_ms // _DAY_MS)  # a UTC year is whole UTC days


@lru_cache(maxsize=64)
def _year_of_day(day: int) -> int:
    return _dt.datetime.fromtimestamp(day * 86_400, tz=_dt.UTC).year


def utc_ms(moy: int | None, sec_mark: int | None, reference_ms: int) -> int | None:
    """UTC ms of minute ``moy`` (+ ``sec_mark`` ms) in the reference's year; None if unknown."""
    if moy is None or moy >= u.MOY_UNAVAILABLE:
        return None
    mark = sec_mark if sec_mark is not None and sec_mark < u.SEC_MARK_UNAVAILABLE_FROM else 0
    return _year_start_ms(year_of(reference_ms)) + moy * _MINUTE_MS + mark


@lru_cache(maxsize=16)
def _year_start_ms(year: int) -> int:
    return utc_ms_from_moy(year, 0)


def moy_and_mark(timestamp_ms: int) -> tuple[int, int]:
    """UTC ms → (minute of its year, ms within the minute)."""
    start = _year_start_ms(year_of(timestamp_ms))
    minutes, mark = divmod(timestamp_ms - start, 60_000)
    return minutes, mark
