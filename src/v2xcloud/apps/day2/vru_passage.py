"""VSP — VRU safe passage: a pedestrian or cyclist reporting itself by PSM is crossing the
road ahead of connected vehicles; the platform holds each vehicle that would reach the
crossing point while the person is there, so it arrives after the person has cleared it.

Each tick, every fresh PSM (at most ``max_age_ms`` old) gives the person's track, projected
at constant velocity over ``horizon_s``. For every motor vehicle within ``range_m`` heading
for that track (its own straight path crosses the person's within the horizon, ahead of
it), the app computes when the vehicle's front reaches the crossing point at its current
speed and when the person occupies it (its radius plus ``margin_m`` either side). If the
vehicle would be there between the person's entry less ``gap_s`` and exit plus ``gap_s``,
the vehicle is held: an RSC suggesting ``slow-down`` (CoordinationInfo has no bit for a VRU
crossing, so none is set) with a path-guidance point ``stop_short_m`` before the crossing
point and the time to reach it: the person's exit plus ``gap_s``. A vehicle is held once per person while
the conflict lasts (remembered, bounded); a person standing still (slower than
``min_speed_mps``) is left to the driver and Day-1 VRUCW.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from v2xcloud.apps._select import motor
from v2xcloud.apps.day2.base import Day2App, Day2Config, Outbound, Request
from v2xcloud.model.day2 import PathPoint, Psm, Rsc, VehicleCoordination
from v2xcloud.twin import SceneView

__all__ = ["VruPassageConfig", "VruSafePassage"]


class VruPassageConfig(Day2Config, frozen=True, kw_only=True):
    """VSP settings (distances m, times s, speeds m/s)."""

    horizon_s: float = 10.0
    range_m: float = 150.0
    margin_m: float = 2.0
    gap_s: float = 1.5
    stop_short_m: float = 3.0
    min_speed_mps: float = 0.3
    max_age_ms: int = 1000
    max_entries: int = 1024


class VruSafePassage(Day2App):
    """VRU safe passage (see the module docstring)."""

    code = "VSP"
    config_type = VruPassageConfig
    accepts = (Psm,)
    config: VruPassageConfig

    def __init__(self, config: VruPassageConfig | None = None) -> None:
        super().__init__(config)
        self._persons: OrderedDict[str, tuple[Psm, int]] = OrderedDict()  # id -> (PSM, rx ms)
        self._held: OrderedDict[tuple[str, str], int] = OrderedDict()  # (vehicle, person)
        self._count = 0

    def on_tick(self, view: SceneView, requests: Sequence[Request], now_ms: int) -> list[Outbound]:
        """The RSCs holding vehicles for the persons crossing now (usually none)."""
        cfg = self.config
        for r in requests:
            self._persons[r.message.participant.id] = (r.message, r.received_at_ms)
            self._persons.move_to_end(r.message.participant.id)
        while len(self._persons) > cfg.max_entries:
            self._persons.popitem(last=False)
        for pid in [p for p, (_, t) in self._persons.items() if now_ms - t > cfg.max_age_ms]:
            del self._persons[pid]
        if not self._persons or len(view) == 0:
            return []
        rows = np.flatnonzero(motor(view) & (view.speed_mps > 0.5))
        out = []
        for person, (psm, _) in self._persons.items():
            out += self._hold_for(view, now_ms, person, psm, rows)
        return out

    def _hold_for(
        self, view: SceneView, now_ms: int, person: str, psm: Psm, rows: npt.NDArray[np.int64]
    ) -> list[Outbound]:
        cfg = self.config
        s = psm.participant
        if s.speed_mps is None or s.heading_deg is None or s.speed_mps < cfg.min_speed_mps:
            return []
        lx, ly = view.frame.to_local(s.lat_deg, s.lon_deg)
        age_s = max(0.0, (now_ms - s.timestamp_ms) / 1000.0)
        h = math.radians(s.heading_deg)
        pvx, pvy = s.speed_mps * math.sin(h), s.speed_mps * math.cos(h)
        px, py = float(lx) + pvx * age_s, float(ly) + pvy * age_s
        hits = self._conflicts(view, rows, px, py, pvx, pvy, s.speed_mps, psm.overall_radius_m)
        out = []
        for r, x, y, front, until in hits:
            vid = view.ids[r]
            if (vid, person) in self._held or vid == s.id:
                continue
            out.append(self._hold(view, now_ms, r, person, x, y, front, until))
        return out

    def _conflicts(
        self,
        view: SceneView,
        rows: npt.NDArray[np.int64],
        px: float,
        py: float,
        pvx: float,
        pvy: float,
        p_speed: float,
        radius_m: float,
    ) -> list[tuple[int, float, float, float, float]]:
        """(row, crossing point x, y, the vehicle front's distance to it, the person's exit
        time plus the gap) of every vehicle in ``rows`` that would reach the person's path
        while the person is there: all rows at once."""
        cfg = self.config
        vx, vy = view.x_m[rows], view.y_m[rows]
        sin_h, cos_h = view.sin_heading[rows], view.cos_heading[rows]
        dx, dy = px - vx, py - vy
        # vehicle ray v + a*(sin, cos), person ray p + b*(ux, uy): solve for a, b
        ux, uy = pvx / p_speed, pvy / p_speed
        det = cos_h * ux - sin_h * uy
        across = np.abs(det) >= 0.2  # not walking along the road
        safe = np.where(across, det, 1.0)
        a = (dy * ux - dx * uy) / safe  # along the vehicle's heading (m)
        b = (sin_h * dy - cos_h * dx) / safe  # along the person's walk (m)
        front = a - view.length_m[rows] / 2.0  # positions are centres
        reach = radius_m + cfg.margin_m + view.width_m[rows] / 2.0
        enter = np.maximum(0.0, (b - reach) / p_speed)
        leave = (b + reach) / p_speed
        arrive = front / view.speed_mps[rows]
        hit = (
            across
            & (np.hypot(dx, dy) <= cfg.range_m)
            & (front > 0.0)
            & (b + reach >= 0.0)
            & (b - reach <= p_speed * cfg.horizon_s)
            & (arrive >= enter - cfg.gap_s)
            & (arrive <= leave + cfg.gap_s)
        )
        k = np.flatnonzero(hit)
        return list(
            zip(
                rows[k].tolist(),
                (vx + a * sin_h)[k].tolist(),
                (vy + a * cos_h)[k].tolist(),
                front[k].tolist(),
                (leave + cfg.gap_s)[k].tolist(),
                strict=True,
            )
        )

    def _hold(
        self, view: SceneView, now_ms: int, r: int, person: str, x: float, y: float,
        front_m: float, until_s: float,
    ) -> Outbound:  # fmt: skip
        cfg = self.config
        vid = view.ids[r]
        self._held[(vid, person)] = now_ms
        while len(self._held) > cfg.max_entries:
            self._held.popitem(last=False)
        sin_h, cos_h = float(view.sin_heading[r]), float(view.cos_heading[r])
        sx, sy = x - cfg.stop_short_m * sin_h, y - cfg.stop_short_m * cos_h
        lat, lon = view.frame.to_wgs84(sx, sy)
        time_s = round(min(max(until_s, 0.01), 655.35), 2)
        point = PathPoint(lat_deg=float(lat), lon_deg=float(lon), time_s=time_s,
                          speed_mps=round(max(front_m - cfg.stop_short_m, 0.0) / time_s, 2))  # fmt: skip
        self._count = (self._count + 1) % 128
        rlat, rlon = view.frame.to_wgs84(x, y)
        rsc = Rsc(
            msg_count=self._count,
            rsu_id="0000000000000000",
            timestamp_ms=now_ms,
            ref_lat_deg=float(rlat),
            ref_lon_deg=float(rlon),
            coordinations=(
                VehicleCoordination(
                    vehicle_id=vid,
                    suggestion=frozenset({"slow-down"}),
                    life_time_s=time_s,
                    path_guidance=(point,),
                ),
            ),
        )
        return Outbound(app=self.code, message=rsc, recipients=(vid,), issued_ms=now_ms)
