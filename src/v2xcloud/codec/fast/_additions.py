"""Skipping the extension additions of a SEQUENCE whose schema knows none of them.

A sender on a newer version of the standard may set a SEQUENCE's extension bit and append
additions after its root members (X.691 §19.7-19.9): a "normally small length" count, one
presence bit per addition, then each present addition as an open type (a length determinant
and that many octets). asn1tools skips every addition it does not know and leaves the value
as it is; so does this, bit for bit as asn1tools reads them. Forms asn1tools does not read
either (more than 64 additions, fragmented lengths) raise ``Fallback``.
"""

from __future__ import annotations

from v2xcloud.codec.fast._plan import Fallback

__all__ = ["skip_unknown_additions"]


def _take(v: int, r: int, bits: int) -> tuple[int, int]:
    if bits > r:
        raise ValueError("out of data")
    r -= bits
    return (v >> r) & ((1 << bits) - 1), r


def skip_unknown_additions(v: int, r: int) -> int:
    """``r`` (bits left in ``v``) after the additions that start at ``r``."""
    more, r = _take(v, r, 1)
    if not more:
        count, r = _take(v, r, 6)
        count += 1
    else:
        wide, r = _take(v, r, 1)
        if wide:
            raise Fallback("more than 64 extension additions")
        count, r = _take(v, r, 7)
    present, r = _take(v, r, count)
    for i in range(count):
        if present & (1 << (count - 1 - i)):
            length, r = _take(v, r, 8)
            if length & 0xC0 == 0x80:
                low, r = _take(v, r, 8)
                length = ((length & 0x7F) << 8) | low
            elif length & 0x80:
                raise Fallback("fragmented extension addition")
            _, r = _take(v, r, 8 * length) if length else (0, r)
    return r
