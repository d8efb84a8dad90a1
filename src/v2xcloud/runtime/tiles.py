"""Geographic tiles: the unit of work an edge worker owns, and the halo it must also read.

The scheme is the web map tile grid ("slippy map" z/x/y on spherical Web Mercator, EPSG:3857)
at one fixed zoom, ``TILE_ZOOM`` = 16, each tile named by its **quadkey** (the Bing Maps
spelling of z/x/y: one base-4 digit per zoom level). Why this one: it is global and fixed (no
per-deployment origin to agree on, a tile's name is the same on every gateway and worker),
every GIS tool can draw it, a quadkey is a single subject token of digits (NATS subjects
``v2x.{tenant}.{tile}.{type}``), and sorting quadkeys walks the tiles in Z-order, so cutting
the sorted list into runs gives each worker a compact block with a short border (a small
halo). At zoom 16 a tile is 611.5 m × cos(latitude) on a side: ~540 m at Changsha (28.2° N),
~470 m at Beijing, large enough that a worker's halo reaches about one ring of neighbours.

Two granularities: a worker **owns** tiles (default zoom 16, configurable up to 16:
``Tiling(zoom=..)``, ``v2xcloud worker --tile-zoom``); own-position reports (BSM: the bulk)
are **filed** in zoom-18 cells (``place_of``/``cell_of``: the subject's ``{tile}.{cell}``), so
a worker reads its own tiles whole and, of its neighbours, only the cells within its halo
(``halo_cells``): at zoom 16 a 480 m halo taken as whole neighbour tiles is ~8 tiles' worth
of reading per owned tile; taken as cells it is the strip along the border of the worker's
whole block. Roadside messages (RSM, MAP, SPAT, RSI) describe an area around the point they
are filed at, so they are filed by tile (cell ``_``) and read from every tile within the halo
plus ``ROADSIDE_REACH_M``: few frames, read wider.

The **halo** of a set of tiles is every position within ``halo_m`` of it. ``halo_m`` is
derived from the applications, not chosen: the longest reach any registered application
looks from an ego for its partners or road items (``app_reach_m``: the largest
``*radius_m`` / ``*range_m`` setting of ``apps.default_apps()``; DNPW's 400 m today) plus
the distance a fast vehicle covers while an application still remembers it
(``MOTION_MARGIN_M``: 40 m/s over the scene's 1 s staleness and the warning hold), so the
partners of an ego that has just crossed into a worker's tile were in that worker's scene
before it crossed.

>>> tile_of(28.2, 112.9)
'1321202201021202'
>>> neighbours('1321202201021202')[:2]
['1321202201020311', '1321202201020313']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from v2xcloud.apps import default_apps
from v2xcloud.errors import ConfigError

__all__ = [
    "CELL_ZOOM",
    "MOTION_MARGIN_M",
    "OWN_REPORT_TYPES",
    "ROADSIDE_REACH_M",
    "TILE_ZOOM",
    "Tiling",
    "app_reach_m",
    "cell_of",
    "default_halo_m",
    "descendants",
    "neighbours",
    "place_of",
    "reference_position",
    "tile_of",
]

#: the default zoom of the ownership tiles (quadkeys of 16 digits; ``Tiling(zoom=...)``)
TILE_ZOOM = 16
#: the zoom of the cells own-position reports are filed in (~135 m at 28° N)
CELL_ZOOM = 18
#: the message types filed in their sender's cell: reports of the sender's own position
OWN_REPORT_TYPES = frozenset({"bsm", "psm"})
#: how far a roadside message's content reaches from the point it is filed at (an RSU's
#: perception range, a MAP's approach lanes, an RSI's zones): read that much wider
ROADSIDE_REACH_M = 300.0
#: 40 m/s (144 km/h) over 2 s: the scene keeps a silent vehicle 1 s, a warning holds ~1 s more
MOTION_MARGIN_M = 80.0
#: Web Mercator's latitude limit
_MAX_LAT_DEG = 85.05112878
_EARTH_RADIUS_M = 6_378_137.0
_REACH_SUFFIXES = ("radius_m", "range_m")


def app_reach_m() -> float:
    """The longest reach of the registered applications: the largest setting whose name ends
    in ``radius_m`` or ``range_m`` over ``apps.default_apps()``' configurations (how far from
    an ego an application looks for partners or road items)."""
    reach = 0.0
    for app in default_apps():
        cfg = getattr(app, "config", None)
        for name in getattr(type(cfg), "__struct_fields__", ()):  # the apps' msgspec configs
            value = getattr(cfg, name)
            if name.endswith(_REACH_SUFFIXES) and isinstance(value, int | float):
                reach = max(reach, float(value))
    return reach


def default_halo_m() -> float:
    """The halo width: the applications' reach plus ``MOTION_MARGIN_M``."""
    return app_reach_m() + MOTION_MARGIN_M


def _check(lat_deg: float, lon_deg: float) -> None:
    if not (-_MAX_LAT_DEG <= lat_deg <= _MAX_LAT_DEG and -180.0 <= lon_deg <= 180.0):
        raise ConfigError(
            f"position ({lat_deg}, {lon_deg}) is outside the tile grid: latitude must be "
            f"within ±{_MAX_LAT_DEG}° and longitude within ±180°"
        )


def _xy(lat_deg: float, lon_deg: float, zoom: int) -> tuple[int, int]:
    n = 1 << zoom
    lat = math.radians(lat_deg)
    x = int((lon_deg + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(lat)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def _quadkey(x: int, y: int, zoom: int) -> str:
    digits = []
    for level in range(zoom, 0, -1):
        mask = 1 << (level - 1)
        digits.append(str((1 if x & mask else 0) + (2 if y & mask else 0)))
    return "".join(digits)


def _unquad(tile: str) -> tuple[int, int, int]:
    if not tile or any(c not in "0123" for c in tile):
        raise ConfigError(f"tile {tile!r} is not a quadkey (digits 0-3, one per zoom level)")
    x = y = 0
    for c in tile:
        d = int(c)
        x = (x << 1) | (d & 1)
        y = (y << 1) | (d >> 1)
    return x, y, len(tile)


class Tiling:
    """The tile grid at ``zoom`` with a halo of ``halo_m`` metres (default: derived from the
    applications, ``default_halo_m()``)."""

    def __init__(self, *, zoom: int = TILE_ZOOM, halo_m: float | None = None) -> None:
        if not 1 <= zoom <= 23:
            raise ConfigError(f"tile zoom must be within 1..23, got {zoom}")
        self.zoom = zoom
        self.halo_m = default_halo_m() if halo_m is None else float(halo_m)
        if self.halo_m < 0:
            raise ConfigError(f"halo must be >= 0 m, got {self.halo_m}")

    def tile_of(self, lat_deg: float, lon_deg: float) -> str:
        """The quadkey of the tile holding a WGS-84 position; ``ConfigError`` outside the grid."""
        _check(lat_deg, lon_deg)
        return _quadkey(*_xy(lat_deg, lon_deg, self.zoom), self.zoom)

    def tiles_of(
        self, lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Tile (x, y) of many positions at once (vectorised; for synthetic load and sizing)."""
        n = 1 << self.zoom
        lat = np.radians(np.clip(np.asarray(lat_deg, np.float64), -_MAX_LAT_DEG, _MAX_LAT_DEG))
        lon = np.asarray(lon_deg, np.float64)
        x = np.floor((lon + 180.0) / 360.0 * n).astype(np.int64)
        y = np.floor((1.0 - np.arcsinh(np.tan(lat)) / math.pi) / 2.0 * n).astype(np.int64)
        return np.clip(x, 0, n - 1), np.clip(y, 0, n - 1)

    def name(self, x: int, y: int) -> str:
        """The quadkey of tile (x, y) at this zoom."""
        return _quadkey(x, y, self.zoom)

    def xy(self, tile: str) -> tuple[int, int]:
        """Tile (x, y) of a quadkey of this zoom; ``ConfigError`` otherwise."""
        x, y, zoom = _unquad(tile)
        if zoom != self.zoom:
            raise ConfigError(f"tile {tile!r} is of zoom {zoom}, this grid is zoom {self.zoom}")
        return x, y

    def side_m(self, tile: str) -> float:
        """The ground length of a tile's side at its centre latitude (metres)."""
        _x, y = self.xy(tile)
        lat = self._lat_of_row(y + 0.5)
        return 2 * math.pi * _EARTH_RADIUS_M * math.cos(math.radians(lat)) / (1 << self.zoom)

    def _lat_of_row(self, y: float) -> float:
        n = 1 << self.zoom
        return math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * y / n))))

    def rings(self, tile: str) -> int:
        """How many rings of neighbours the halo of ``tile`` reaches into."""
        side = self.side_m(tile)
        return max(1, math.ceil(self.halo_m / side)) if self.halo_m > 0 else 0

    def neighbours(self, tile: str, rings: int = 1) -> list[str]:
        """The tiles within ``rings`` rings around ``tile`` (not itself), sorted; x wraps
        around the antimeridian, y stops at the grid's edge."""
        x, y = self.xy(tile)
        n = 1 << self.zoom
        out = set()
        for dy in range(-rings, rings + 1):
            for dx in range(-rings, rings + 1):
                if (dx or dy) and 0 <= y + dy < n:
                    out.add(self.name((x + dx) % n, y + dy))
        return sorted(out)

    def distance_m(self, lat_deg: float, lon_deg: float, tile: str) -> float:
        """Ground distance (m) from a position to the nearest point of ``tile`` (0 inside):
        in Web Mercator metres scaled by cos(latitude), exact enough at a few hundred metres."""
        x, y = self.xy(tile)
        n = 1 << self.zoom
        px, py = self._fractional(lat_deg, lon_deg)
        dx = max(x - px, 0.0, px - (x + 1))
        dx = min(dx, n - dx)  # across the antimeridian
        dy = max(y - py, 0.0, py - (y + 1))
        scale = 2 * math.pi * _EARTH_RADIUS_M * math.cos(math.radians(lat_deg)) / n
        return math.hypot(dx, dy) * scale

    def _fractional(self, lat_deg: float, lon_deg: float) -> tuple[float, float]:
        _check(lat_deg, lon_deg)
        n = 1 << self.zoom
        lat = math.radians(lat_deg)
        return (lon_deg + 180.0) / 360.0 * n, (1.0 - math.asinh(math.tan(lat)) / math.pi) / 2 * n

    def halo_tiles(self, owned: Iterable[str]) -> list[str]:
        """The tiles, not in ``owned``, that hold some point within ``halo_m`` of an owned
        tile (a worker reads their frames too), sorted."""
        mine = set(owned)
        out: set[str] = set()
        for tile in mine:
            for other in self.neighbours(tile, self.rings(tile)):
                if other not in mine and self._tile_gap_m(tile, other) <= self.halo_m:
                    out.add(other)
        return sorted(out)

    def _tile_gap_m(self, a: str, b: str) -> float:
        """Ground distance between the nearest points of two tiles (0 when adjacent)."""
        ax, ay = self.xy(a)
        bx, by = self.xy(b)
        n = 1 << self.zoom
        gx = abs(ax - bx)
        gx = max(min(gx, n - gx) - 1, 0)
        gy = max(abs(ay - by) - 1, 0)
        cos = min(math.cos(math.radians(self._lat_of_row(r + 0.5))) for r in (ay, by))
        scale = 2 * math.pi * _EARTH_RADIUS_M * cos / n  # the narrower row: never too far
        return math.hypot(gx, gy) * scale

    def tile_of_place(self, place: str) -> str:
        """The tile (this zoom) of a frame's place: the first ``zoom`` digits of its quadkey
        (a place coarser than the grid, or no quadkey, is returned as it is)."""
        return place[: self.zoom] if len(place) >= self.zoom else place

    def cells(self, tile: str) -> list[str]:
        """The ``CELL_ZOOM`` cells (quadkeys) inside a tile of this zoom, sorted."""
        self.xy(tile)
        return descendants(tile, CELL_ZOOM)

    def halo_cells(self, owned: Iterable[str]) -> list[str]:
        """The ``CELL_ZOOM`` cells outside the ``owned`` tiles that hold some point within
        ``halo_m`` of one of them, sorted: what a worker reads besides its own tiles (the
        border strip its applications can reach, ~135 m granular, not whole tiles)."""
        return sorted(_quadkey(x, y, CELL_ZOOM) for x, y in self.halo_cell_xy(owned))

    def halo_cell_xy(self, owned: Iterable[str]) -> set[tuple[int, int]]:
        """``halo_cells`` as ``CELL_ZOOM`` cell (x, y) pairs (for sizing at scale)."""
        mine = set(owned)
        if not mine or self.halo_m <= 0:
            return set()
        if self.zoom > CELL_ZOOM:
            raise ConfigError(f"tile zoom {self.zoom} is finer than the cells' {CELL_ZOOM}")
        shift = CELL_ZOOM - self.zoom
        size = 1 << shift  # cells per tile side
        n_cells = 1 << CELL_ZOOM
        mine_xy = {self.xy(t) for t in mine}
        found: set[tuple[int, int]] = set()
        for tx, ty in mine_xy:
            rows = [r for r in (ty - 1, ty + 1) if 0 <= r < (1 << self.zoom)] or [ty]
            cos = min(math.cos(math.radians(self._lat_of_row(r + 0.5))) for r in rows)
            cell_m = 2 * math.pi * _EARTH_RADIUS_M * cos / n_cells  # the narrower: never short
            reach = math.ceil(self.halo_m / cell_m)
            x0, y0 = tx * size, ty * size
            for cy in range(max(0, y0 - reach), min(n_cells, y0 + size + reach)):
                gy = max(y0 - (cy + 1), cy - (y0 + size), 0)
                for cx in range(x0 - reach, x0 + size + reach):
                    gx = max(x0 - (cx + 1), cx - (x0 + size), 0)
                    if math.hypot(gx, gy) * cell_m > self.halo_m:
                        continue
                    wx = cx % n_cells
                    if (wx >> shift, cy >> shift) not in mine_xy:
                        found.add((wx, cy))
        return found

    def in_halo(self, lat_deg: float, lon_deg: float, owned: Sequence[str]) -> bool:
        """Whether a position is within ``halo_m`` of some owned tile (inside one counts)."""
        return any(self.distance_m(lat_deg, lon_deg, t) <= self.halo_m for t in owned)


_DEFAULT: Tiling | None = None


def _default() -> Tiling:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Tiling()
    return _DEFAULT


def tile_of(lat_deg: float, lon_deg: float) -> str:
    """The quadkey of the ``TILE_ZOOM`` tile holding a WGS-84 position (the ``{tile}`` token
    of the backbone's subjects); ``ConfigError`` outside Web Mercator's latitude range."""
    _check(lat_deg, lon_deg)
    return _quadkey(*_xy(lat_deg, lon_deg, TILE_ZOOM), TILE_ZOOM)


def descendants(quadkey: str, zoom: int) -> list[str]:
    """The quadkeys of zoom ``zoom`` inside ``quadkey`` (itself when as fine already), sorted."""
    if not quadkey or any(c not in "0123" for c in quadkey):
        raise ConfigError(f"{quadkey!r} is not a quadkey (digits 0-3, one per zoom level)")
    out = [quadkey]
    for _ in range(zoom - len(quadkey)):
        out = [q + d for q in out for d in "0123"]
    return out


def place_of(message_type: str, lat_deg: float, lon_deg: float) -> str:
    """Where a frame is filed (``runtime.backbone.frame_subject``): an own-position report
    (``OWN_REPORT_TYPES``) in its ``CELL_ZOOM`` cell, any other message (RSM, MAP, SPAT, RSI,
    ...: content spread around its reference point) in its ``TILE_ZOOM`` tile, cell ``_``."""
    if message_type.lower() in OWN_REPORT_TYPES:
        return cell_of(lat_deg, lon_deg)
    return tile_of(lat_deg, lon_deg)


def cell_of(lat_deg: float, lon_deg: float) -> str:
    """The quadkey of the ``CELL_ZOOM`` cell holding a WGS-84 position: where a frame is filed
    (its subject's ``{tile}.{cell}``, ``runtime.backbone.frame_subject``); its first
    ``TILE_ZOOM`` digits are ``tile_of`` the same position."""
    _check(lat_deg, lon_deg)
    return _quadkey(*_xy(lat_deg, lon_deg, CELL_ZOOM), CELL_ZOOM)


def neighbours(tile: str, rings: int = 1) -> list[str]:
    """The tiles within ``rings`` rings around a ``TILE_ZOOM`` quadkey (not itself), sorted."""
    return _default().neighbours(tile, rings)


def reference_position(message: object) -> tuple[float, float] | None:
    """The position a frame is filed under (its tile): a BSM's or participant's own position,
    an RSM's or RSI's reference point, a MAP's first node; ``None`` for a message without one
    (SPAT: file it under its intersection's MAP node, or the sending RSU's position)."""
    participant = getattr(message, "participant", None)
    if participant is not None:
        return float(participant.lat_deg), float(participant.lon_deg)
    for lat_name, lon_name in (("ref_lat_deg", "ref_lon_deg"), ("lat_deg", "lon_deg")):
        lat, lon = getattr(message, lat_name, None), getattr(message, lon_name, None)
        if isinstance(lat, float | int) and isinstance(lon, float | int):
            return float(lat), float(lon)
    nodes = getattr(message, "nodes", None)
    if nodes:
        return float(nodes[0].lat_deg), float(nodes[0].lon_deg)
    return None
