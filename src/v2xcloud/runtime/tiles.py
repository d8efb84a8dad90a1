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
``Tiling(zoom=..)``, ``v2xcloud worker --tile-zoom``); own-position reports (BSM, PSM: the
bulk) are **filed** in cells (``place_of``: the subject's ``{tile}.{cell}``), so a worker reads
its own tiles whole and, of its neighbours, only the cells its applications can reach.
Roadside messages (RSM, MAP, SPAT, RSI) describe an area around the point they are filed at,
so they are filed by tile (cell ``_``) and read from every tile within the widest reach plus
``ROADSIDE_REACH_M``: few frames, read wide.

**The halo by reach** (``Reaches``, from each application's ``App.reach()``): what a worker
must read beyond its tiles is what its applications pair an ego in its tiles with, and most
look no farther than 150-175 m (``Partners.ROAD_USERS``: FCW, ICW, LTA, BSW, LCW, EBW, AVW,
CLW, VRUCW, DNPW's head-on check). Only a few kinds of partner are sought farther, and each
is either rare or a class its own report shows:

- ``SLOW`` (TJW's queue within 300 m) and ``EMERGENCY`` (EVW's emergency vehicles within
  300 m): a vehicle's own report is filed in its zoom-17 cell (``FAR_CELL_ZOOM``, a one-digit
  cell token) instead of its zoom-18 cell when it is an emergency vehicle (the BSM's
  emergency extension), has no speed, or is slower than the slowest ``SLOW`` bound plus
  ``SLOW_FILING_MARGIN_MPS`` (``files_far``); a worker reads those far cells within
  ``Reaches.far_m``, the zoom-18 cells only within ``Reaches.near_m``. The margin keeps the
  answers: the last far-filed report of a vehicle that sped up is never below the bound, so
  a worker that stops hearing it never holds it as slow.
- ``AHEAD_OF_PASSER`` (DNPW: oncoming traffic within 400 m ahead of a vehicle signalling to
  pass): any road user, but only ahead of a passer, which is rare and shows itself (left
  signal at DNPW's passing speed, ``is_passer``). A worker reads, while a passer it reads is
  signalling, the cells of the corridor ahead of it (``passing_corridor``) as well, caught up
  from the stream's last seconds (``gateways.tile_worker``).
- ``ROAD_ITEMS`` (MAP, SPAT, RSI: V2I apps within 300 m): the roadside frames, read by tile.

Each reach is widened by ``MOTION_MARGIN_M``: the distance a fast vehicle covers while an
application still remembers it (40 m/s over the scene's 1 s staleness and the warning hold),
so the partners of an ego that has just crossed into a worker's tile were in that worker's
scene before it crossed. The exactly-once rule is untouched: the advisory about an ego is
issued by the owner of the tile of the frame that last reported it, and that owner reads
every partner the ego's applications can pair it with (``tests/runtime/test_tiles.py``).

>>> tile_of(28.2, 112.9)
'1321202201021202'
>>> neighbours('1321202201021202')[:2]
['1321202201020311', '1321202201020313']
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from v2xcloud.apps import App, Partners, default_apps
from v2xcloud.errors import ConfigError
from v2xcloud.model import ParticipantKind

__all__ = [
    "CELL_ZOOM",
    "FAR_CELL_ZOOM",
    "MOTION_MARGIN_M",
    "OWN_REPORT_TYPES",
    "PASSING_CORRIDOR_HALF_M",
    "ROADSIDE_REACH_M",
    "SLOW_FILING_MARGIN_MPS",
    "TILE_ZOOM",
    "Reaches",
    "Tiling",
    "app_reach_m",
    "cell_of",
    "default_halo_m",
    "descendants",
    "files_far",
    "is_passer",
    "neighbours",
    "passing_corridor",
    "passing_keys",
    "place_of",
    "reaches",
    "reference_position",
    "tile_of",
]

#: the default zoom of the ownership tiles (quadkeys of 16 digits; ``Tiling(zoom=...)``)
TILE_ZOOM = 16
#: the zoom of the cells own-position reports are filed in (~135 m at 28° N)
CELL_ZOOM = 18
#: the zoom of the cells the own reports of far-reach partners are filed in (~270 m)
FAR_CELL_ZOOM = 17
#: own reports slower than the slowest ``Partners.SLOW`` bound plus this are filed far: a
#: vehicle whose last far-filed report was below the bound would have to gain this much before
#: its next report (BSMs every 100 ms: 25 m/s²; 0.5 s of lost reports at 5 m/s²) for a worker
#: that reads only its far-filed reports to hold it as slow while it is not
SLOW_FILING_MARGIN_MPS = 2.5
#: half the width of the corridor read ahead of a passer: DNPW's own corridor (its lane and
#: the opposing lane, ~5.3 m to the left) widened for a curving road and a changing heading
PASSING_CORRIDOR_HALF_M = 30.0
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


@dataclass(frozen=True)
class Reaches:
    """What a tile worker reads beyond its tiles, from its applications' ``App.reach()`` (see
    the module docstring); every distance already includes ``MOTION_MARGIN_M``.

    ``near_m``: every own report (zoom-18 cells); ``far_m``: own reports filed far (zoom-17
    cells: slow, speedless and emergency vehicles); ``passing_m``: the corridor ahead of a
    passer; ``roadside_m``: roadside frames (by tile), the widest reach plus
    ``ROADSIDE_REACH_M``; ``slow_filing_mps``: own reports of vehicles slower than this are
    filed far; ``passer_mps``: a vehicle signalling left at or above this speed is a passer
    (``None``: no application looks ahead of passers)."""

    near_m: float
    far_m: float
    passing_m: float
    roadside_m: float
    slow_filing_mps: float
    passer_mps: float | None

    @classmethod
    def of(cls, apps: Iterable[App]) -> Reaches:
        """The reaches of ``apps`` (``ConfigError`` for a negative reach)."""
        best: dict[Partners, float] = dict.fromkeys(Partners, 0.0)
        slow_mps = 0.0
        passer_mps: float | None = None
        for app in apps:
            for r in app.reach():
                if r.metres < 0:
                    raise ConfigError(f"{app.code}: reach {r} is negative")
                best[r.partners] = max(best[r.partners], r.metres)
                if r.partners is Partners.SLOW and r.speed_mps is not None:
                    slow_mps = max(slow_mps, r.speed_mps)
                if r.partners is Partners.AHEAD_OF_PASSER:
                    low = 0.0 if r.speed_mps is None else r.speed_mps
                    passer_mps = low if passer_mps is None else min(passer_mps, low)
        near = best[Partners.ROAD_USERS]
        far = max(near, best[Partners.SLOW], best[Partners.EMERGENCY])
        passing = max(far, best[Partners.AHEAD_OF_PASSER])
        widest = max(passing, best[Partners.ROAD_ITEMS])
        return cls(
            near_m=near + MOTION_MARGIN_M,
            far_m=far + MOTION_MARGIN_M,
            passing_m=passing + MOTION_MARGIN_M,
            roadside_m=widest + MOTION_MARGIN_M + ROADSIDE_REACH_M,
            slow_filing_mps=slow_mps + SLOW_FILING_MARGIN_MPS if slow_mps > 0 else 0.0,
            passer_mps=passer_mps,
        )


@functools.cache
def reaches() -> Reaches:
    """The reaches of the registered applications (``apps.default_apps()``)."""
    return Reaches.of(default_apps())


def app_reach_m() -> float:
    """The longest reach of the registered applications, to any kind of partner (DNPW's
    400 m ahead of a passer today)."""
    return max(r.metres for app in default_apps() for r in app.reach())


def default_halo_m() -> float:
    """The halo every own report is read in: the short reach to any road user plus
    ``MOTION_MARGIN_M`` (``Reaches.near_m``)."""
    return reaches().near_m


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


def _lat_of_row(y: float, zoom: int) -> float:
    """The latitude (degrees) of the fractional tile row ``y`` at ``zoom``."""
    n = 1 << zoom
    return math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * y / n))))


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
        return _lat_of_row(y, self.zoom)

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

    def halo_cells(
        self, owned: Iterable[str], *, halo_m: float | None = None, zoom: int = CELL_ZOOM
    ) -> list[str]:
        """The cells of ``zoom`` (default ``CELL_ZOOM``) outside the ``owned`` tiles that hold
        some point within ``halo_m`` (default: this grid's) of one of them, sorted: what a
        worker reads besides its own tiles (the border strip its applications can reach,
        cell-granular, not whole tiles)."""
        return sorted(_quadkey(x, y, zoom) for x, y in self.halo_cell_xy(owned, halo_m, zoom))

    def halo_cell_xy(
        self, owned: Iterable[str], halo_m: float | None = None, zoom: int = CELL_ZOOM
    ) -> set[tuple[int, int]]:
        """``halo_cells`` as cell (x, y) pairs at ``zoom`` (for sizing at scale). The owned
        units may be finer than this grid's tiles, down to ``zoom`` (a hot tile owned as its
        children, ``runtime.ownership.split_hot``); a cell inside any owned unit is no halo."""
        mine = set(owned)
        halo = self.halo_m if halo_m is None else float(halo_m)
        if not mine or halo <= 0:
            return set()
        if self.zoom > zoom:
            raise ConfigError(f"tile zoom {self.zoom} is finer than the cells' {zoom}")
        units: dict[int, set[tuple[int, int]]] = {}
        for unit in mine:
            x, y, z = _unquad(unit)
            if not self.zoom <= z <= zoom:
                raise ConfigError(
                    f"unit {unit!r} is of zoom {z}: owned units are of zoom {self.zoom}..{zoom}"
                )
            units.setdefault(z, set()).add((x, y))
        n_cells = 1 << zoom

        levels = [(zoom - z, xy) for z, xy in units.items()]

        def owned_cell(cx: int, cy: int) -> bool:
            return any((cx >> shift, cy >> shift) in xy for shift, xy in levels)

        found: set[tuple[int, int]] = set()
        for z, xys in units.items():
            shift = zoom - z
            size = 1 << shift  # cells per unit side
            for tx, ty in xys:
                rows = [r for r in (ty - 1, ty + 1) if 0 <= r < (1 << z)] or [ty]
                cos = min(math.cos(math.radians(_lat_of_row(r + 0.5, z))) for r in rows)
                cell_m = 2 * math.pi * _EARTH_RADIUS_M * cos / n_cells  # the narrower: never short
                reach = math.ceil(halo / cell_m)
                x0, y0 = tx * size, ty * size
                for cy in range(max(0, y0 - reach), min(n_cells, y0 + size + reach)):
                    gy = max(y0 - (cy + 1), cy - (y0 + size), 0)
                    for cx in range(x0 - reach, x0 + size + reach):
                        gx = max(x0 - (cx + 1), cx - (x0 + size), 0)
                        if math.hypot(gx, gy) * cell_m > halo:
                            continue
                        wx = cx % n_cells
                        if not owned_cell(wx, cy):
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


def place_of(message_type: str, lat_deg: float, lon_deg: float, *, far: bool = False) -> str:
    """Where a frame is filed (``runtime.backbone.frame_subject``): an own-position report
    (``OWN_REPORT_TYPES``) in its ``CELL_ZOOM`` cell, or its ``FAR_CELL_ZOOM`` cell when
    ``far`` (``files_far``: a far-reach partner); any other message (RSM, MAP, SPAT, RSI,
    ...: content spread around its reference point) in its ``TILE_ZOOM`` tile, cell ``_``."""
    if message_type.lower() in OWN_REPORT_TYPES:
        if far:
            _check(lat_deg, lon_deg)
            return _quadkey(*_xy(lat_deg, lon_deg, FAR_CELL_ZOOM), FAR_CELL_ZOOM)
        return cell_of(lat_deg, lon_deg)
    return tile_of(lat_deg, lon_deg)


_VEHICLE_KINDS = frozenset({ParticipantKind.VEHICLE, ParticipantKind.UNKNOWN})


def files_far(model: object, reach: Reaches | None = None) -> bool:
    """Whether a message is the own report of a far-reach partner (filed in its zoom-17 cell,
    read within ``Reaches.far_m``): a vehicle (or unknown object) that is an emergency vehicle
    (its BSM carries the emergency extension), reports no speed, or is slower than
    ``Reaches.slow_filing_mps``."""
    state = getattr(model, "participant", None)
    if state is None or getattr(state, "kind", None) not in _VEHICLE_KINDS:
        return False
    if state.emergency is not None:
        return True
    bound = (reach or reaches()).slow_filing_mps
    return state.speed_mps is None or state.speed_mps < bound


def is_passer(state: object, reach: Reaches | None = None) -> bool:
    """Whether a road user's own report shows it about to pass (``Partners.AHEAD_OF_PASSER``):
    left turn signal on at or above ``Reaches.passer_mps``, with a heading."""
    bound = (reach or reaches()).passer_mps
    if bound is None or "leftTurnSignalOn" not in getattr(state, "exterior_lights", ()):
        return False
    speed, heading = getattr(state, "speed_mps", None), getattr(state, "heading_deg", None)
    return speed is not None and heading is not None and speed >= bound


def passing_corridor(
    lat_deg: float,
    lon_deg: float,
    heading_deg: float,
    length_m: float,
    *,
    half_width_m: float = PASSING_CORRIDOR_HALF_M,
    zoom: int = CELL_ZOOM,
) -> set[str]:
    """The cells of ``zoom`` (quadkeys) a corridor ``length_m`` long ahead of a position along
    ``heading_deg`` (degrees clockwise from north), ``half_width_m`` to either side, touches
    (from the position itself; sampled every few metres, and each sample widened to the
    cells within ``half_width_m`` + one sample spacing, so a cell the strip grazes is in)."""
    _check(lat_deg, lon_deg)
    n = 1 << zoom
    lat = math.radians(lat_deg)
    metres_per_cell = 2 * math.pi * _EARTH_RADIUS_M * math.cos(lat) / n
    px = (lon_deg + 180.0) / 360.0 * n
    py = (1.0 - math.asinh(math.tan(lat)) / math.pi) / 2.0 * n
    h = math.radians(heading_deg)
    ux, uy = math.sin(h), -math.cos(h)  # east, and north is -y on the grid
    step = min(10.0, metres_per_cell / 4)
    pad = (half_width_m + step) / metres_per_cell  # in cells
    out: set[str] = set()
    for k in range(int(length_m / step) + 2):
        along = min(k * step, length_m) / metres_per_cell
        cx, cy = px + ux * along, py + uy * along
        for x in range(math.floor(cx - pad), math.floor(cx + pad) + 1):
            gx = max(x - cx, 0.0, cx - (x + 1))
            for y in range(max(0, math.floor(cy - pad)), min(n - 1, math.floor(cy + pad)) + 1):
                gy = max(y - cy, 0.0, cy - (y + 1))
                if math.hypot(gx, gy) <= pad:
                    out.add(_quadkey(x % n, y, zoom))
    return out


def passing_keys(lat_deg: float, lon_deg: float, heading_deg: float, length_m: float) -> set[str]:
    """The cells a worker reads ahead of a passer: ``passing_corridor`` at ``CELL_ZOOM`` (own
    reports) and at ``FAR_CELL_ZOOM`` (own reports filed far)."""
    out = passing_corridor(lat_deg, lon_deg, heading_deg, length_m)
    return out | passing_corridor(lat_deg, lon_deg, heading_deg, length_m, zoom=FAR_CELL_ZOOM)


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
