"""Sensor data sharing (SDS, T/CSAE 157-2020): the platform sends each connected vehicle the
road users the roadside perceives that the vehicle cannot learn of from V2X itself.

Shared: the scene's roadside-perceived participants that no self-report was fused with (an
unconnected car, a pedestrian seen by a camera; a connected vehicle perceived by the roadside
is its BSM row, and every connected vehicle hears that BSM already). Relevant to a vehicle:
ahead on its path (along its heading, within ``horizon_m`` and ``corridor_m`` either side) or
anywhere within ``near_m`` (a road user crossing in front). Each vehicle with something
relevant gets one SSM per ``period_ms`` with up to ``max_objects`` of them, nearest first,
positions extrapolated to the tick. ``own_sensing_m`` leaves out what the vehicle's own
sensors see (objects closer than that; 0: vehicles are assumed to have none).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from v2xcloud.apps.day2.base import Day2App, Day2Config, Outbound, Request
from v2xcloud.model import ParticipantSource, ParticipantState
from v2xcloud.model.day2 import Ssm
from v2xcloud.twin import Kind, SceneView, SourceCode

__all__ = ["SdsConfig", "SensorDataSharing"]


class SdsConfig(Day2Config, frozen=True, kw_only=True):
    """Relevance filter (metres) and the SSM's sender id (the platform's, 16 hex digits)."""

    horizon_m: float = 250.0
    corridor_m: float = 8.0
    near_m: float = 30.0
    own_sensing_m: float = 0.0
    max_objects: int = 16
    sender_id: str = "5000000000000001"


class SensorDataSharing(Day2App):
    """Shares roadside perception with the connected vehicles it concerns (SSM)."""

    code: ClassVar[str] = "SDS"
    config_type: ClassVar[type[Day2Config]] = SdsConfig
    config: SdsConfig

    def __init__(self, config: SdsConfig | None = None) -> None:
        super().__init__(config)
        self._last_ms: int | None = None
        self._count = 0

    def on_tick(self, view: SceneView, requests: Sequence[Request], now_ms: int) -> list[Outbound]:
        """One SSM per vehicle with something relevant to share, every ``period_ms``."""
        if not self.is_due(now_ms, self._last_ms):
            return []
        self._last_ms = now_ms
        shared = np.flatnonzero(view.source == SourceCode.RSM)
        cars = np.flatnonzero((view.source == SourceCode.BSM) & (view.kind == Kind.VEHICLE))
        if shared.size == 0 or cars.size == 0:
            return []
        relevant, distance = self._relevance(view, cars, shared)
        senders = np.flatnonzero(relevant.any(axis=1))
        if senders.size == 0:
            return []
        used = np.flatnonzero(relevant[senders].any(axis=0))
        states = dict(zip(used.tolist(), self._states(view, shared[used], now_ms), strict=True))
        car_lat, car_lon = view.to_wgs84(cars[senders])
        out = []
        for j, k in enumerate(senders.tolist()):
            cols = np.flatnonzero(relevant[k])
            nearest = cols[np.argsort(distance[k, cols], kind="stable")][: self.config.max_objects]
            objects = tuple(states[c] for c in nearest.tolist())
            out.append(self._ssm(view.ids[int(cars[k])], objects, car_lat[j], car_lon[j], now_ms))
        return out

    def _relevance(
        self, view: SceneView, cars: np.ndarray, shared: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(vehicles × shared objects) relevance mask and distances (m)."""
        cfg = self.config
        dx = view.x_m[shared][None, :] - view.x_m[cars][:, None]
        dy = view.y_m[shared][None, :] - view.y_m[cars][:, None]
        sin_h, cos_h = view.sin_heading[cars][:, None], view.cos_heading[cars][:, None]
        along = dx * sin_h + dy * cos_h
        across = np.abs(dx * cos_h - dy * sin_h)
        distance = np.hypot(dx, dy)
        ahead = (along > 0.0) & (along <= cfg.horizon_m) & (across <= cfg.corridor_m)
        relevant = (ahead | (distance <= cfg.near_m)) & (distance >= cfg.own_sensing_m)
        return relevant, distance

    def _states(self, view: SceneView, rows: np.ndarray, now_ms: int) -> list[ParticipantState]:
        """The shared road users at this tick (extrapolated), built once for every SSM."""
        lat, lon = view.to_wgs84(rows)
        return [
            ParticipantState(
                id=view.ids[r],
                kind=view.state(r).kind,
                source=ParticipantSource.SSM,
                timestamp_ms=now_ms,
                lat_deg=float(lat[k]),
                lon_deg=float(lon[k]),
                speed_mps=float(view.speed_mps[r]),
                heading_deg=float(view.heading_deg[r]) % 360.0,
                length_m=float(view.length_m[r]),
                width_m=float(view.width_m[r]),
                detection_source=view.state(r).detection_source,
            )
            for k, r in enumerate(rows.tolist())
        ]

    def _ssm(
        self,
        to: str,
        objects: tuple[ParticipantState, ...],
        lat_deg: float,
        lon_deg: float,
        now_ms: int,
    ) -> Outbound:
        self._count = (self._count + 1) % 128
        ssm = Ssm(
            msg_count=self._count,
            sender_id=self.config.sender_id,
            equipment_type="rsu",  # the road's perception, relayed by the platform
            timestamp_ms=now_ms,
            sensor_lat_deg=float(lat_deg),  # the reference point: the recipient's position
            sensor_lon_deg=float(lon_deg),
            participants=objects,
        )
        return Outbound(app=self.code, message=ssm, recipients=(to,), issued_ms=now_ms)
