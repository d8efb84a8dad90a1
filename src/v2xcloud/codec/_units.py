"""Wire units ⇄ SI, the CSAE "unavailable" sentinels, and relative positions.

Every scaled quantity of the message layer passes through here, in both directions, so the
conversion functions per message stay short and the rounding rules live in one place.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

from v2xcloud.errors import DecodeError, EncodeError
from v2xcloud.model import DropReason

DEG_DIV = 10_000_000  # wire lat/lon unit: 1e-7 degree
LAT_UNAVAILABLE = 900000001
LON_UNAVAILABLE = 1800000001
ELEVATION_UNAVAILABLE = -4096
SPEED_UNAVAILABLE = 8191
HEADING_UNAVAILABLE = 28800
ANGLE_UNAVAILABLE = 127
ACCEL_UNAVAILABLE = 2001
VERT_ACCEL_UNAVAILABLE = -127
SEC_MARK_UNAVAILABLE_FROM = 60000  # DSecond 60000..65535: not a millisecond of a minute
MOY_UNAVAILABLE = 527040
G_MPS2 = 9.80665

# SI value = wire * numerator / divisor (dividing keeps 1e-7°, 0.02 m/s, ... correctly rounded):
# (numerator, divisor, unavailable sentinel or None, min, max)
SCALES: dict[str, tuple[float, int, int | None, int, int]] = {
    "speed": (1, 50, SPEED_UNAVAILABLE, 0, 8191),  # 0.02 m/s
    "heading": (1, 80, HEADING_UNAVAILABLE, 0, 28800),  # 0.0125°
    "angle": (3, 2, ANGLE_UNAVAILABLE, -126, 127),  # 1.5°
    "accel": (1, 100, ACCEL_UNAVAILABLE, -2000, 2001),  # 0.01 m/s²
    "vert": (G_MPS2, 50, VERT_ACCEL_UNAVAILABLE, -127, 127),  # 0.02 g
    "yaw": (1, 100, None, -32767, 32767),  # 0.01 °/s
    "elevation": (1, 10, ELEVATION_UNAVAILABLE, -4096, 61439),  # 0.1 m
    "width": (1, 100, 0, 0, 1023),  # 1 cm, 0 = unknown
    "length": (1, 100, 0, 0, 4095),  # 1 cm, 0 = unknown
    "height": (1, 20, 0, 0, 127),  # 5 cm, 0 = unknown
    "lane_width": (1, 100, None, 0, 32767),  # 1 cm
    "radius": (1, 10, None, 0, 65535),  # 0.1 m
    "timemark": (1, 10, 36001, 0, 36001),  # 0.1 s
    "accuracy": (1, 20, 255, 0, 255),  # 0.05 m
}


def _to_si(kind: str) -> Callable[[int | None], float | None]:
    numerator, divisor, sentinel, _, _ = SCALES[kind]
    if numerator == 1:  # value * 1 / divisor is value / divisor exactly

        def convert(value: int | None) -> float | None:
            return None if value is None or value == sentinel else value / divisor

    else:

        def convert(value: int | None) -> float | None:
            return None if value is None or value == sentinel else value * numerator / divisor

    convert.__doc__ = f"Wire {kind} → SI float, ``None`` for absent or unavailable."
    return convert


class ToWire(Protocol):
    """SI → wire converter of one quantity; the error names ``where + field``."""

    def __call__(self, value: float | None, where: str, message: str, field: str = "") -> int: ...


def _to_wire(kind: str) -> ToWire:
    numerator, divisor, sentinel, low, high = SCALES[kind]
    # a heading is an angle on a circle: 359.9995° and -0.01° are sent as 0 and 359.9875°
    full_circle = high if kind == "heading" else None

    def convert(value: float | None, where: str, message: str, field: str = "") -> int:
        if value is None:
            if sentinel is None:
                raise EncodeError(
                    message,
                    f"{kind} has no 'unavailable' value; give a number",
                    where=where + field,
                )
            return sentinel
        if not math.isfinite(value):
            raise EncodeError(message, f"{kind} {value} is not a number", where=where + field)
        number = round(value * divisor / numerator)
        if full_circle is not None:
            number %= full_circle
        if not low <= number <= high or number == sentinel:
            raise EncodeError(
                message, f"{value} is outside the wire range of {kind}", where=where + field
            )
        return number

    convert.__doc__ = f"SI {kind} → wire integer; ``None`` → the sentinel; raises EncodeError."
    return convert


# One converter per quantity, made once from SCALES: the conversion functions per message call
# these directly instead of looking the scale up by name for every field of every frame.
SI = {kind: _to_si(kind) for kind in SCALES}
WIRE = {kind: _to_wire(kind) for kind in SCALES}
_ELEVATION_M = SI["elevation"]


def si(kind: str, value: int | None) -> float | None:
    """Wire integer → SI float, ``None`` for absent or the unavailable sentinel."""
    return SI[kind](value)


def wire(kind: str, value: float | None, where: str, message: str) -> int:
    """SI float → wire integer (rounded to the wire resolution); ``None`` → the sentinel.

    Raises ``EncodeError`` naming ``where`` when the value does not fit the wire range.
    """
    return WIRE[kind](value, where, message)


def position_deg(lat: int, lon: int, where: str, message: str) -> tuple[float, float]:
    """A required lat/lon (1e-7°) → degrees; raises ``DecodeError`` (``no_position``) when the
    sender marked it unavailable, since the SI model has no place for a missing position."""
    if lat == LAT_UNAVAILABLE or lon == LON_UNAVAILABLE:
        raise DecodeError(
            message, DropReason.NO_POSITION, "position marked unavailable", where=where
        )
    return lat / DEG_DIV, lon / DEG_DIV


def position3d(
    lat: float, lon: float, elevation_m: float | None, where: str, message: str
) -> dict[str, Any]:
    """Absolute position in degrees/m → CSAE ``Position3D``."""
    lat_i, lon_i = round(lat * DEG_DIV), round(lon * DEG_DIV)
    if not -900000000 <= lat_i <= 900000000 or not -1799999999 <= lon_i <= 1800000000:
        raise EncodeError(message, f"position ({lat}, {lon}) is not on Earth", where=where)
    out: dict[str, Any] = {"lat": lat_i, "long": lon_i}
    if elevation_m is not None:
        out["elevation"] = wire("elevation", elevation_m, f"{where}.elevation", message)
    return out


_LL_CHOICES = [  # (alternative, bound), smallest first
    ("position-LL1", 2047),
    ("position-LL2", 8191),
    ("position-LL3", 32767),
    ("position-LL4", 131071),
    ("position-LL5", 2097151),
    ("position-LL6", 8388607),
]
_V_CHOICES = [
    ("offset1", 63),
    ("offset2", 127),
    ("offset3", 255),
    ("offset4", 511),
    ("offset5", 1023),
    ("offset6", 2047),
]


def absolute(offset: dict[str, Any], ref: dict[str, Any]) -> tuple[float, float, float | None]:
    """A ``PositionOffsetLLV`` relative to ``ref`` (a Position3D) → (lat°, lon°, elevation m)."""
    kind, ll = offset["offsetLL"]
    if kind == "position-LatLon":
        lat, lon = ll["lat"], ll["lon"]
        if lat == LAT_UNAVAILABLE or lon == LON_UNAVAILABLE:
            position_deg(lat, lon, "offsetLL.position-LatLon", "MessageFrame")  # raises
    else:
        lat, lon = ref["lat"] + ll["lat"], ref["long"] + ll["lon"]
    vertical = offset.get("offsetV")
    if vertical is None:
        return lat / DEG_DIV, lon / DEG_DIV, None
    vkind, v = vertical
    elevation = None
    if vkind == "elevation":
        elevation = _ELEVATION_M(v)
    elif ref.get("elevation", ELEVATION_UNAVAILABLE) != ELEVATION_UNAVAILABLE:
        elevation = (ref["elevation"] + v) / 10
    return lat / DEG_DIV, lon / DEG_DIV, elevation


def offset(
    lat: float, lon: float, elevation_m: float | None, ref: dict[str, Any]
) -> dict[str, Any]:
    """Absolute (lat°, lon°, m) → the smallest ``PositionOffsetLLV`` relative to ``ref``."""
    lat_i, lon_i = round(lat * DEG_DIV), round(lon * DEG_DIV)
    dlat, dlon = lat_i - ref["lat"], lon_i - ref["long"]
    out: dict[str, Any] = {}
    for name, bound in _LL_CHOICES:
        if -bound <= dlat <= bound and -bound <= dlon <= bound:
            out["offsetLL"] = (name, {"lon": dlon, "lat": dlat})
            break
    else:
        out["offsetLL"] = ("position-LatLon", {"lon": lon_i, "lat": lat_i})
    if elevation_m is not None:
        out["offsetV"] = _vertical_offset(round(elevation_m * 10), ref)
    return out


def _vertical_offset(elevation: int, ref: dict[str, Any]) -> tuple[str, int]:
    """Elevation (0.1 m) → the smallest ``VerticalOffset`` from ``ref``, else absolute."""
    ref_e = ref.get("elevation", ELEVATION_UNAVAILABLE)
    if ref_e != ELEVATION_UNAVAILABLE:
        dv = elevation - ref_e
        for name, bound in _V_CHOICES:
            if -bound <= dv <= bound:
                return name, dv
    return "elevation", elevation


def bits_of(value: tuple[bytes, int] | None, names: list[tuple[str, int]]) -> frozenset[str]:
    """A BIT STRING native value → the names of its set bits."""
    if value is None:
        return frozenset()
    data, length = value
    number = int.from_bytes(data, "big")
    total = len(data) * 8
    return frozenset(n for n, b in names if b < length and number >> (total - 1 - b) & 1)


def bits_from(
    names: frozenset[str], named: list[tuple[str, int]], length: int
) -> tuple[bytes, int]:
    """Set-bit names → BIT STRING native value of ``length`` bits."""
    number = 0
    positions = dict(named)
    for name in names:
        number |= 1 << (length - 1 - positions[name])
    size = (length + 7) // 8
    return (number << (size * 8 - length)).to_bytes(size, "big"), length


NO_NAMES: frozenset[str] = frozenset()
_PATTERNS_CACHED = 1024  # per BIT STRING type; a fleet sends a handful of distinct patterns


class BitNames:
    """The named bits of one BIT STRING type, both ways, cached by bit pattern.

    ``bits_of``/``bits_from`` build a frozenset (or bytes) per call; senders repeat a few
    patterns, so each distinct one is converted once and the frozen result shared.
    """

    __slots__ = ("_load", "_loaded", "_names", "_wire")

    def __init__(self, named: list[tuple[str, int]] | Callable[[], list[tuple[str, int]]]) -> None:
        # the names may come from a schema not compiled yet: then they are read on first use
        self._loaded: list[tuple[str, int]] | None = None if callable(named) else named
        self._load: Callable[[], list[tuple[str, int]]] | None = named if callable(named) else None
        self._names: dict[tuple[bytes, int], frozenset[str]] = {}
        self._wire: dict[tuple[frozenset[str], int], tuple[bytes, int]] = {}

    @property
    def _named(self) -> list[tuple[str, int]]:
        if self._loaded is None:
            assert self._load is not None
            self._loaded = self._load()
        return self._loaded

    def names(self, value: tuple[bytes, int] | None) -> frozenset[str]:
        """A BIT STRING native value (or ``None``) → the names of its set bits."""
        if value is None:
            return NO_NAMES
        names = self._names.get(value)
        if names is None:
            names = bits_of(value, self._named)
            if len(self._names) < _PATTERNS_CACHED:
                self._names[value] = names
        return names

    def to_wire(self, names: frozenset[str], length: int) -> tuple[bytes, int]:
        """Set-bit names → BIT STRING native value of ``length`` bits."""
        if not isinstance(names, frozenset):  # a set built by hand is not hashable
            return bits_from(names, self._named, length)
        key = (names, length)
        value = self._wire.get(key)
        if value is None:
            value = bits_from(names, self._named, length)
            if len(self._wire) < _PATTERNS_CACHED:
                self._wire[key] = value
        return value
