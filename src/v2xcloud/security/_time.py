"""The security standards' clock: Time32 (s) and Time64 (µs) since 2004-01-01 00:00:00 UTC,
counted in TAI (IEEE 1609.2 §6.4.13/6.4.14; YD/T 3957 takes the same definition), to and from
UTC milliseconds.

TAI runs ahead of UTC by every leap second inserted since the epoch; the table below holds the
five inserted since 2004 (the IERS announces each one six months ahead; none is announced
after 2016-12-31, and the CGPM decided in 2022 to stop inserting them before 2035).

>>> time64_from_utc_ms(EPOCH_2004_MS)
0
>>> utc_ms_from_time64(time64_from_utc_ms(1_700_000_000_123))
1700000000123
"""

from __future__ import annotations

__all__ = [
    "EPOCH_2004_MS",
    "time32_from_utc_ms",
    "time64_from_utc_ms",
    "utc_ms_from_time32",
    "utc_ms_from_time64",
]

EPOCH_2004_MS = 1_072_915_200_000  # 2004-01-01T00:00:00Z

# (first UTC ms after the leap second, leap seconds since 2004 from then on)
_LEAPS: tuple[tuple[int, int], ...] = (
    (1_136_073_600_000, 1),  # 2006-01-01
    (1_230_768_000_000, 2),  # 2009-01-01
    (1_341_100_800_000, 3),  # 2012-07-01
    (1_435_708_800_000, 4),  # 2015-07-01
    (1_483_228_800_000, 5),  # 2017-01-01
)
_LEAPS_NEWEST_FIRST = tuple(reversed(_LEAPS))
_LATEST_UTC_MS, _LATEST_LEAPS = _LEAPS[-1]


def _leaps_at_utc(utc_ms: int) -> int:
    for start_ms, count in _LEAPS_NEWEST_FIRST:
        if utc_ms >= start_ms:
            return count
    return 0


def _utc_from_tai_ms(tai_ms: int) -> int:
    """``tai_ms``: ms since the epoch on the TAI scale → UTC ms since 1970."""
    if tai_ms - _LATEST_LEAPS * 1000 + EPOCH_2004_MS >= _LATEST_UTC_MS:  # the common case
        return tai_ms - _LATEST_LEAPS * 1000 + EPOCH_2004_MS
    for start_ms, count in _LEAPS_NEWEST_FIRST:
        utc = tai_ms - count * 1000 + EPOCH_2004_MS
        if utc >= start_ms:
            return utc
    return tai_ms + EPOCH_2004_MS


def time64_from_utc_ms(utc_ms: int) -> int:
    """Time64 (µs, TAI since 2004) of a UTC ms instant."""
    return (utc_ms - EPOCH_2004_MS + _leaps_at_utc(utc_ms) * 1000) * 1000


def utc_ms_from_time64(time64_us: int) -> int:
    """UTC ms of a Time64 (µs, TAI since 2004), rounded down to the millisecond."""
    return _utc_from_tai_ms(time64_us // 1000)


def time32_from_utc_ms(utc_ms: int) -> int:
    """Time32 (s, TAI since 2004) of a UTC ms instant, rounded down to the second."""
    return (utc_ms - EPOCH_2004_MS) // 1000 + _leaps_at_utc(utc_ms)


def utc_ms_from_time32(time32_s: int) -> int:
    """UTC ms of a Time32 (s, TAI since 2004)."""
    return _utc_from_tai_ms(time32_s * 1000)
