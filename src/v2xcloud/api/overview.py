"""The district at a glance: every intersection and RSU with its counts and open alarms.

Road users, warnings and alarms are counted at the intersection nearest to them within
``radius_m`` (in the deployment's local frame, ``geo.LocalFrame`` at the intersections' mean
position); what lies farther from every intersection counts only in the district's totals.
Warnings are distinct (application, ego) pairs warned in the window (``AdvisoryCell.warned``),
not every re-issue of the same warning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from v2xcloud.geo import LocalFrame
from v2xcloud.model import (
    Alarm,
    AlarmSeverity,
    IntersectionView,
    ParticipantKind,
    ParticipantState,
)
from v2xcloud.store import AdvisoryCell

__all__ = ["DistrictOverview", "grid_for"]

_M_PER_DEG_LAT = 111_320.0


def grid_for(cell_m: float, lat_deg: float) -> tuple[float, float]:
    """A grid cell of about ``cell_m`` × ``cell_m`` metres at ``lat_deg`` in degrees
    (latitude, longitude)."""
    cos = max(float(np.cos(np.radians(lat_deg))), 0.01)
    return cell_m / _M_PER_DEG_LAT, cell_m / (_M_PER_DEG_LAT * cos)


@lru_cache(maxsize=4)
def _frame(lat_deg: float, lon_deg: float) -> LocalFrame:
    return LocalFrame(origin_lat_deg=lat_deg, origin_lon_deg=lon_deg)  # pyproj set-up: ms


class DistrictOverview:
    """Assigns points to the nearest intersection within ``radius_m``; see the module
    docstring. Built per request from the live intersections."""

    def __init__(self, intersections: Sequence[IntersectionView], *, radius_m: float) -> None:
        self.places = [v for v in intersections if v.node is not None]
        self.radius_m = radius_m
        if self.places:
            lat0 = float(np.mean([v.node.lat_deg for v in self.places if v.node]))
            lon0 = float(np.mean([v.node.lon_deg for v in self.places if v.node]))
        else:
            lat0, lon0 = 0.0, 0.0
        self.frame = _frame(round(lat0, 4), round(lon0, 4))
        x, y = self.frame.to_local(
            [v.node.lat_deg for v in self.places if v.node],
            [v.node.lon_deg for v in self.places if v.node],
        )
        self._xy = np.column_stack([np.atleast_1d(x), np.atleast_1d(y)]).reshape(-1, 2)

    @property
    def mean_lat_deg(self) -> float:
        """The latitude of the frame's origin (the intersections' mean)."""
        return float(self.frame.origin_lat_deg)

    def nearest(self, lat_deg: Sequence[float], lon_deg: Sequence[float]) -> np.ndarray:
        """Index of the nearest intersection within ``radius_m`` per point, -1 for none."""
        if not self.places or not len(lat_deg):
            return np.full(len(lat_deg), -1, dtype=np.int64)
        x, y = self.frame.to_local(np.asarray(lat_deg, float), np.asarray(lon_deg, float))
        points = np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])
        d = np.hypot(*(points[:, None, :] - self._xy[None, :, :]).transpose(2, 0, 1))
        best = d.argmin(axis=1)
        return np.where(d[np.arange(len(best)), best] <= self.radius_m, best, -1)

    def build(
        self,
        participants: Sequence[ParticipantState],
        cells: Sequence[AdvisoryCell],
        alarms: Sequence[Alarm],
        rsus: Sequence[dict[str, Any]],
    ) -> dict[str, Any]:
        """The overview document: ``intersections``, ``rsus`` and ``totals``."""
        n = len(self.places)
        vehicles, vrus, warned, alarm_counts = (np.zeros(n, dtype=np.int64) for _ in range(4))
        at = self.nearest([p.lat_deg for p in participants], [p.lon_deg for p in participants])
        for p, i in zip(participants, at, strict=True):
            if i >= 0:
                if p.kind is ParticipantKind.VEHICLE:
                    vehicles[i] += 1
                elif p.kind in (ParticipantKind.PEDESTRIAN, ParticipantKind.CYCLIST):
                    vrus[i] += 1
        for c, i in zip(
            cells, self.nearest([c.lat_deg for c in cells], [c.lon_deg for c in cells]), strict=True
        ):
            if i >= 0:
                warned[i] += c.warned
        placed = [a for a in alarms if a.lat_deg is not None and a.lon_deg is not None]
        worst: dict[int, str] = {}
        at_alarm = self.nearest(
            [a.lat_deg or 0.0 for a in placed], [a.lon_deg or 0.0 for a in placed]
        )
        for a, i in zip(placed, at_alarm, strict=True):
            if i >= 0:
                alarm_counts[i] += 1
                if i not in worst or a.severity.rank > AlarmSeverity(worst[i]).rank:
                    worst[i] = a.severity.value
        return {
            "intersections": [
                _intersection(
                    v,
                    int(vehicles[i]),
                    int(vrus[i]),
                    int(warned[i]),
                    int(alarm_counts[i]),
                    worst.get(i),
                )
                for i, v in enumerate(self.places)
            ],
            "rsus": [_rsu(d, alarms) for d in rsus],
            "totals": {
                "participants": len(participants),
                "vehicles": sum(p.kind is ParticipantKind.VEHICLE for p in participants),
                "warned": sum(c.warned for c in cells),
                "alarms": len(alarms),
                "alarms_by_severity": dict(Counter(a.severity.value for a in alarms)),
            },
        }


def _intersection(
    v: IntersectionView, vehicles: int, vrus: int, warned: int, alarms: int, worst: str | None
) -> dict[str, Any]:
    assert v.node is not None
    return {
        "node_id": {"region": v.node_id.region, "id": v.node_id.id},
        "name": v.node.name,
        "lat_deg": v.node.lat_deg,
        "lon_deg": v.node.lon_deg,
        "has_signal": v.signal is not None,
        "signal_received_ms": v.signal_received_ms,
        "vehicles": vehicles,
        "vrus": vrus,
        "warned_last_min": warned,
        "open_alarms": alarms,
        "worst_alarm": worst,
    }


def _rsu(d: dict[str, Any], alarms: Sequence[Alarm]) -> dict[str, Any]:
    health = d.get("health") or {}
    mine = [a for a in alarms if a.subject == d.get("device_id")]
    return {
        "device_id": d.get("device_id"),
        "tenant": d.get("tenant"),
        "state": d.get("state"),
        "lat_deg": d.get("lat_deg"),
        "lon_deg": d.get("lon_deg"),
        "range_m": d.get("range_m"),
        "online": health.get("online"),
        "last_seen_ms": health.get("last_seen_ms"),
        "rates_per_s": health.get("rates_per_s", {}),
        "dead_letters": sum(int(n) for n in (health.get("dead_letters") or {}).values()),
        "open_alarms": len(mine),
    }
