"""The road-side picture the V2I apps read: participants as columns, junctions, RSI content.

``RoadsideScene`` keeps the latest state of each participant (dropped after ``ttl_ms`` without
a report), one ``Junction`` per MAP node joined with its SPAT, and the RSI events and signs
still valid. ``view(now_ms)`` freezes it into a ``RoadsideView`` of numpy columns for one tick.
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

from v2xcloud.geo.frame import LocalFrame
from v2xcloud.model import (
    Bsm,
    MapData,
    MapNode,
    NodeId,
    ParticipantState,
    RoadEvent,
    RoadSign,
    Rsi,
    Rsm,
    Spat,
)
from v2xcloud.twin.junction import Junction

__all__ = ["RoadsideScene", "RoadsideView"]

FloatArray = npt.NDArray[np.float64]


class RoadsideView(msgspec.Struct, frozen=True, kw_only=True):
    """One tick's read-only picture. Arrays are aligned with ``ids``; unknown speed is 0 and
    unknown heading NaN. ``x_m``/``y_m`` are in ``frame``."""

    now_ms: int
    frame: LocalFrame
    ids: tuple[str, ...]
    kinds: tuple[str, ...]
    x_m: FloatArray
    y_m: FloatArray
    lat_deg: FloatArray
    lon_deg: FloatArray
    speed_mps: FloatArray
    heading_deg: FloatArray
    junctions: tuple[Junction, ...] = ()
    events: tuple[RoadEvent, ...] = ()
    signs: tuple[RoadSign, ...] = ()

    def row_of(self, participant_id: str) -> int | None:
        """Row of a participant id, or ``None``."""
        try:
            return self.ids.index(participant_id)
        except ValueError:
            return None

    @property
    def is_vehicle(self) -> npt.NDArray[np.bool_]:
        """Mask of motor vehicles."""
        return np.array([k == "vehicle" for k in self.kinds], dtype=bool)


class RoadsideScene:
    """Mutable scene fed with model objects; see the module docstring."""

    def __init__(self, *, frame: LocalFrame, ttl_ms: int = 1000) -> None:
        self.frame = frame
        self.ttl_ms = ttl_ms
        self._states: dict[str, ParticipantState] = {}
        self._junctions: dict[NodeId, Junction] = {}
        self._events: dict[int, RoadEvent] = {}
        self._signs: dict[int, RoadSign] = {}

    def ingest(self, item: object, *, received_ms: int) -> None:
        """Take a ``ParticipantState``, ``Bsm``, ``Rsm``, ``MapData``, ``Spat`` or ``Rsi``."""
        if isinstance(item, ParticipantState):
            self._states[item.id] = item
        elif isinstance(item, Bsm):
            self._states[item.participant.id] = item.participant
        elif isinstance(item, Rsm):
            for p in item.participants:
                self._states[p.id] = p
        elif isinstance(item, MapData):
            for node in item.nodes:
                self._add_node(node)
        elif isinstance(item, Spat):
            for state in item.intersections:
                junction = self._junctions.get(state.node)
                if junction is not None:
                    junction.update_signals(state, received_ms=received_ms)
        elif isinstance(item, Rsi):
            self._events.update({e.event_id: e for e in item.events})
            self._signs.update({s.sign_id: s for s in item.signs})

    def _add_node(self, node: MapNode) -> None:
        """A MAP repeats: keep the junction if unchanged, else rebuild it with its signals."""
        old = self._junctions.get(node.id)
        if old is not None and old.node == node:
            return
        junction = Junction(node, self.frame)
        if old is not None:
            junction.take_signals_from(old)
        self._junctions[node.id] = junction

    def view(self, now_ms: int) -> RoadsideView:
        """Freeze the current state; stale participants and expired RSI content are dropped."""
        self._states = {
            k: s for k, s in self._states.items() if now_ms - s.timestamp_ms <= self.ttl_ms
        }
        self._events = {
            k: e for k, e in self._events.items() if e.end_ms is None or e.end_ms > now_ms
        }
        self._signs = {
            k: s for k, s in self._signs.items() if s.end_ms is None or s.end_ms > now_ms
        }
        states = list(self._states.values())
        lat = np.array([s.lat_deg for s in states], dtype=np.float64)
        lon = np.array([s.lon_deg for s in states], dtype=np.float64)
        x, y = self.frame.to_local(lat, lon)
        speed = np.array([s.speed_mps or 0.0 for s in states], dtype=np.float64)
        heading = np.array(
            [np.nan if s.heading_deg is None else s.heading_deg for s in states], dtype=np.float64
        )
        return RoadsideView(
            now_ms=now_ms,
            frame=self.frame,
            ids=tuple(s.id for s in states),
            kinds=tuple(str(s.kind) for s in states),
            x_m=np.atleast_1d(x),
            y_m=np.atleast_1d(y),
            lat_deg=lat,
            lon_deg=lon,
            speed_mps=speed,
            heading_deg=heading,
            junctions=tuple(self._junctions.values()),
            events=tuple(self._events.values()),
            signs=tuple(self._signs.values()),
        )
