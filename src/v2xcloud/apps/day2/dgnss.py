"""Differential positioning (DGNSS): the platform relays each reference station's RTCM
corrections to the connected vehicles within the station's range.

A station registers with a ``ReferenceStation`` request; its corrections arrive as ``Rtcm``
messages from the device named by its ``station_id``. Each new correction is sent once, as it
came, to every connected vehicle within ``range_m`` of the station at that tick, through the
station's RSU. A correction older than ``max_age_ms`` on arrival is not relayed (``stale``):
a receiver would apply it to the wrong epoch. Corrections from an unregistered sender are
counted (``unknown_source``) and dropped: the platform cannot say who is in range of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from v2xcloud.apps.day2.base import Day2App, Day2Config, Outbound, Request
from v2xcloud.model.day2 import ReferenceStation, Rtcm
from v2xcloud.twin import Kind, SceneView, SourceCode

__all__ = ["DgnssConfig", "DifferentialPositioning"]


class DgnssConfig(Day2Config, frozen=True, kw_only=True):
    """The oldest correction worth relaying (ms since it reached the platform)."""

    max_age_ms: int = 1000


class DifferentialPositioning(Day2App):
    """Relays RTCM corrections to the vehicles in range; see the module docstring."""

    code: ClassVar[str] = "DGNSS"
    config_type: ClassVar[type[Day2Config]] = DgnssConfig
    accepts: ClassVar[tuple[type, ...]] = (ReferenceStation, Rtcm)
    config: DgnssConfig

    def __init__(self, config: DgnssConfig | None = None) -> None:
        super().__init__(config)
        self.stations: dict[str, ReferenceStation] = {}
        self.stale = 0
        self.unknown_source = 0

    def on_tick(self, view: SceneView, requests: Sequence[Request], now_ms: int) -> list[Outbound]:
        """Each fresh correction from a registered station to the vehicles in its range."""
        out: list[Outbound] = []
        for r in requests:
            if isinstance(r.message, ReferenceStation):
                self.stations[r.message.station_id] = r.message
        for r in requests:
            if not isinstance(r.message, Rtcm):
                continue
            station = self.stations.get(r.source)
            if station is None:
                self.unknown_source += 1
            elif now_ms - r.received_at_ms > self.config.max_age_ms:
                self.stale += 1
            else:
                to = self._in_range(view, station)
                if to:
                    out.append(Outbound(app=self.code, message=r.message, recipients=to,
                                        issued_ms=now_ms, via_rsu=station.station_id))  # fmt: skip
        return out

    def _in_range(self, view: SceneView, station: ReferenceStation) -> tuple[str, ...]:
        cars = np.flatnonzero((view.source == SourceCode.BSM) & (view.kind == Kind.VEHICLE))
        x, y = view.frame.to_local(station.lat_deg, station.lon_deg)
        near = np.hypot(view.x_m[cars] - float(x), view.y_m[cars] - float(y)) <= station.range_m
        return tuple(view.ids[int(r)] for r in cars[near])
