"""Shared plumbing of the V2I apps and event detectors: who is on which junction approach, and
the ``RoadApp`` base that turns per-vehicle road hits into advisories through ``Hysteresis``.

Everything reads the live ``SceneView``: the scene's lane match (``lane``/``to_stop_m``
columns), the junctions joined with their SPAT (``twin.junction.junctions_of``), and the RSI
events and signs the scene holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import msgspec
import numpy as np
import numpy.typing as npt

from v2xcloud.apps._select import motor
from v2xcloud.apps.base import App, AppConfig
from v2xcloud.model import Advisory, AdvisoryLevel, RoadEvent, RoadSign
from v2xcloud.model.thresholds import MOVING_MPS
from v2xcloud.twin import SceneView
from v2xcloud.twin.flags import Flag
from v2xcloud.twin.junction import Junction, junctions_of
from v2xcloud.twin.movements import LEFT, RIGHT, STRAIGHT, UTURN, MovementPath
from v2xcloud.twin.relevance import concerned

__all__ = [
    "AHEAD_CONE_DEG",
    "CONGESTION_KINDS",
    "COS_EXIT_CONE",
    "Exit",
    "OnApproach",
    "RoadApp",
    "RoadHit",
    "approaching",
    "exit_of",
    "is_vehicle",
    "on_approaches",
    "on_exit_road",
    "road_events",
    "road_signs",
    "turns_taken",
]

#: road-event kinds that are traffic jams: TJW warns of them, HLW leaves them to TJW
CONGESTION_KINDS = frozenset({"congestion", "queue", "slow_traffic"})


def is_vehicle(view: SceneView) -> npt.NDArray[np.bool_]:
    """Mask of motor vehicles (``_select.motor``: the one definition of a vehicle)."""
    return motor(view)


def road_events(view: SceneView) -> list[RoadEvent]:
    """The RSI road events the scene holds (received, and the platform's own detections)."""
    return [active.event for active in view.events]


def road_signs(view: SceneView) -> list[RoadSign]:
    """The RSI road signs the scene holds."""
    return [active.sign for active in view.signs]


#: the road ahead of a vehicle, by geometry alone: within this cone of its heading (TJW's
#: queue ahead, HLW's hazard ahead); at 300 m it spans 80 m either side, a bend of ~600 m
#: radius, at 100 m one of ~200 m
AHEAD_CONE_DEG = 15.0


def approaching(
    view: SceneView,
    event: RoadEvent,
    *,
    range_m: float,
    min_speed_mps: float = MOVING_MPS,
    cone_deg: float = AHEAD_CONE_DEG,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """(mask, distance m) of the moving vehicles ``event`` concerns (on its reference paths,
    or heading for it within ``cone_deg`` and ``range_m``); a standing vehicle, such as the
    one an event is about, needs no warning."""
    mask, dist = concerned(
        view,
        lat_deg=event.lat_deg,
        lon_deg=event.lon_deg,
        radius_m=event.radius_m,
        paths=event.reference_paths,
        range_m=range_m,
        cone_deg=cone_deg,
    )
    return mask & is_vehicle(view) & (view.speed_mps >= min_speed_mps), dist


#: where a movement leaves its junction box: x, y, heading of the road it enters (degrees),
#: that heading's sine and cosine
Exit = tuple[float, float, float, float, float]


def exit_of(path: MovementPath) -> Exit:
    """(x, y) where ``path`` leaves the junction box, the heading of the road it enters
    (degrees) and that heading's sine and cosine."""
    ex, ey = path.point_at(path.box_end_s)
    dx_out, dy_out = path.xy[-1] - path.xy[-2]
    out_deg = float(np.degrees(np.arctan2(dx_out, dy_out)))
    rad = np.radians(out_deg)
    return ex, ey, out_deg, float(np.sin(rad)), float(np.cos(rad))


#: a point on the road an exit enters: within this cone of the exit's heading (or 3 m of it)
COS_EXIT_CONE = float(np.cos(np.radians(AHEAD_CONE_DEG)))


def on_exit_road(exits: list[Exit], x_m: float, y_m: float, *, range_m: float) -> bool:
    """Whether the point (``x_m``, ``y_m``) lies on the road one of ``exits`` enters: within
    ``range_m`` of the exit and a 15° cone along the road's heading, or within 3 m of it."""
    for ex, ey, _, sin_out, cos_out in exits:
        dx, dy = x_m - ex, y_m - ey
        dist = float(np.hypot(dx, dy))
        along = dx * sin_out + dy * cos_out
        if dist <= 3.0 or (dist <= range_m and along >= dist * COS_EXIT_CONE):
            return True
    return False


def turns_taken(paths: tuple[MovementPath, ...], signal: int) -> tuple[MovementPath, ...] | None:
    """The movements of a lane (``paths``) a vehicle signalling ``signal`` (its indicator
    flags) may take when it turns (``apps.tjw``'s docstring); ``None`` when it goes straight on."""
    if signal & int(Flag.LEFT_SIGNAL):
        taken = tuple(p for p in paths if p.turn in (LEFT, UTURN))
    elif signal & int(Flag.RIGHT_SIGNAL):
        taken = tuple(p for p in paths if p.turn == RIGHT)
    elif paths and all(p.turn != STRAIGHT for p in paths):
        taken = paths
    else:
        return None
    if any(p.turn == LEFT for p in taken):
        taken = tuple(p for p in taken if p.turn != UTURN)
    return taken


# gc=False: values only (no reference cycles); one per report or tick, untracked they add
# nothing to the cyclic GC's collections
class OnApproach(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A vehicle (row of the view) on ingress lane ``lane`` of ``junction``."""

    index: int
    junction: Junction
    lane: int
    to_stop_m: float


def _all_approaches(view: SceneView) -> tuple[list[OnApproach], list[float]]:
    """Every vehicle on an ingress lane before its stop line, with its distance to it (once
    per tick: every V2I app and detector walks this list)."""
    joined = junctions_of(view)
    if not joined.junctions or len(view) == 0:
        return [], []
    lane = view.lane
    to_stop = view.to_stop_m
    rows = np.flatnonzero(is_vehicle(view) & (lane >= 0) & (to_stop > 0.0))
    which = joined.junction_of_lane[lane[rows]]
    local = joined.local_lane[lane[rows]]
    found = which >= 0
    rows, which, local = rows[found], which[found], local[found]
    dist = to_stop[rows].tolist()
    junctions = joined.junctions
    out = [
        OnApproach(index=r, junction=junctions[j], lane=k, to_stop_m=d)
        for r, j, k, d in zip(rows.tolist(), which.tolist(), local.tolist(), dist, strict=True)
    ]
    return out, dist


def on_approaches(view: SceneView, *, range_m: float) -> Iterator[OnApproach]:
    """Vehicles matched (in their direction) to an ingress lane, before its stop line and
    within ``range_m`` of it."""
    found, dist = view.shared("apps.on_approaches", lambda: _all_approaches(view))
    for a, d in zip(found, dist, strict=True):
        if d <= range_m:
            yield a


@dataclass
class RoadHit:
    """One raw detection of a road-side app: vehicle ``row``, what it is about (``about``:
    the advisory's ``other_id``, e.g. ``"event:4"``), level, and the advisory's content.
    ``at`` is the hazard's local (x, y), default the vehicle's own position."""

    row: int
    level: AdvisoryLevel
    detail: str
    about: str | None = None
    ttc_s: float | None = None
    at: tuple[float, float] | None = None
    values: dict[str, float] = field(default_factory=dict)


class RoadApp(App):
    """Base of the road-side apps: ``road_hits(view, now_ms)`` per tick; ``on_tick`` keeps the
    strongest hit per (vehicle, ``about``) and issues advisories through the app's
    ``Hysteresis`` like every V2V app (at once when new or stronger, refreshed before they
    expire after ``validity_ms``, held ``hold_ticks`` after the last hit); a vehicle silent
    for more than ``max_silent_ms`` gets no hit (``AppConfig``)."""

    def __init__(self, config: AppConfig | None = None) -> None:
        super().__init__(config)
        self._about_codes: dict[str | None, int] = {None: 0}

    def road_hits(self, view: SceneView, now_ms: int) -> list[RoadHit]:
        """This tick's raw detections; implemented by each road-side app."""
        raise NotImplementedError(f"{type(self).__name__} must implement road_hits()")

    def _code(self, about: str | None) -> int:
        code = self._about_codes.get(about)
        if code is None:
            code = self._about_codes[about] = len(self._about_codes) % (1 << 31)
        return code

    def on_tick(self, view: SceneView, now_ms: int) -> list[Advisory]:
        """Detect, apply hysteresis, and return the advisories to issue now."""
        hits = self.road_hits(view, now_ms)
        if hits:
            # as the V2V apps (``App.on_tick``): a vehicle no report has come from for more
            # than ``max_silent_ms`` is no party to a detection; where it is and what it does
            # are the scene's extrapolation (demo_district's false RLVW: a roadside track lost
            # 0.8 s before, extrapolated speeding up towards a red while the car stopped)
            oldest, ts = now_ms - self.config.max_silent_ms, view.timestamp_ms
            hits = [h for h in hits if ts[h.row] >= oldest]
        if not hits and len(self.hysteresis) == 0:
            return []
        strongest: dict[int, RoadHit] = {}
        uid = view.uid
        for hit in hits:
            key = (int(uid[hit.row]) << 32) | self._code(hit.about)  # as ``pair_keys``
            held = strongest.get(key)
            if held is None or hit.level > held.level:
                strongest[key] = hit
        keys = np.array(sorted(strongest), dtype=np.int64)
        chosen = [strongest[k] for k in keys.tolist()]
        levels = np.array([int(h.level) for h in chosen], dtype=np.int64)
        decisions = self.hysteresis.update(keys, levels, now_ms)
        issued = [chosen[i] for i in decisions.index.tolist()]
        if not issued:
            return []
        own = view.x_m, view.y_m
        x = np.array([h.at[0] if h.at else own[0][h.row] for h in issued], dtype=np.float64)
        y = np.array([h.at[1] if h.at else own[1][h.row] for h in issued], dtype=np.float64)
        lat, lon = view.frame.to_wgs84(x, y)  # one conversion for the whole tick
        ids = view.ids
        return [
            Advisory(
                app=self.code,
                level=AdvisoryLevel(level),
                ego_id=ids[hit.row],
                issued_ms=now_ms,
                expires_ms=expires,
                other_id=hit.about,
                ttc_s=hit.ttc_s,
                lat_deg=la,
                lon_deg=lo,
                detail=hit.detail,
                values=hit.values,
            )
            for hit, level, expires, la, lo in zip(
                issued,
                decisions.level.tolist(),
                decisions.expires_ms.tolist(),
                np.atleast_1d(lat).tolist(),
                np.atleast_1d(lon).tolist(),
                strict=True,
            )
        ]
