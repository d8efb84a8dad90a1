"""Intersections (MAP joined with SPAT) and road events (RSI) held by the scene."""

from __future__ import annotations

import msgspec

from v2xcloud.bounded import LruTable
from v2xcloud.model import (
    IntersectionView,
    MapData,
    NodeId,
    RoadEvent,
    RoadSign,
    Rsi,
    Spat,
)

__all__ = ["ActiveEvent", "ActiveSign", "IntersectionView", "Places"]


class ActiveEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A road event as last announced by ``rsu_id``; ``received_ms`` on the platform clock."""

    rsu_id: str
    event: RoadEvent
    received_ms: int


class ActiveSign(msgspec.Struct, frozen=True, kw_only=True):
    """A road sign as last announced by ``rsu_id``; ``received_ms`` on the platform clock."""

    rsu_id: str
    sign: RoadSign
    received_ms: int


class Places:
    """Mutable store of intersections and road events; the scene exposes read-only copies.

    Events and signs expire at their ``end_ms`` or, without one, ``ttl_ms`` after they were
    last announced (RSUs repeat active events). Each table is also limited in size
    (``max_intersections`` nodes, ``max_events`` events and as many signs): past it the entry
    announced least recently is dropped and counted (:meth:`evicted`), so a sender inventing
    node or event ids cannot grow the scene without bound.
    """

    def __init__(
        self, *, ttl_ms: int = 60_000, max_intersections: int = 2_048, max_events: int = 10_000
    ) -> None:
        self.ttl_ms = ttl_ms
        self.intersections: LruTable[NodeId, IntersectionView] = LruTable(
            limit=max_intersections, name="scene intersections (MAP/SPAT node ids)"
        )
        self.maps: LruTable[NodeId, MapData] = LruTable(
            limit=max_intersections, name="scene MAPs (node ids)"
        )
        self.events: LruTable[tuple[str, int], ActiveEvent] = LruTable(
            limit=max_events, name="scene road events (RSU, event id)"
        )
        self.signs: LruTable[tuple[str, int], ActiveSign] = LruTable(
            limit=max_events, name="scene road signs (RSU, sign id)"
        )

    def evicted(self) -> dict[str, int]:
        """Entries dropped for the size limits, per table."""
        return {
            "intersections": self.intersections.evicted,
            "maps": self.maps.evicted,
            "events": self.events.evicted,
            "signs": self.signs.evicted,
        }

    def add_map(self, map_data: MapData, positions: dict[NodeId, tuple[float, float]]) -> None:
        """Add or replace the nodes of a MAP; ``positions`` are their local (x, y) in metres."""
        for node in map_data.nodes:
            old = self.intersections.get(node.id) or IntersectionView(node_id=node.id)
            x, y = positions[node.id]
            self.intersections[node.id] = msgspec.structs.replace(old, node=node, x_m=x, y_m=y)
            self.maps[node.id] = map_data

    def add_spat(self, spat: Spat, received_ms: int) -> None:
        """Join each intersection state to its node (creating the entry if no MAP yet)."""
        for state in spat.intersections:
            old = self.intersections.get(state.node) or IntersectionView(node_id=state.node)
            self.intersections[state.node] = msgspec.structs.replace(
                old, signal=state, signal_received_ms=received_ms
            )

    def add_rsi(self, rsi: Rsi, received_ms: int) -> None:
        """Store (or refresh) the RSI's events and signs under its RSU."""
        for event in rsi.events:
            self.events[(rsi.rsu_id, event.event_id)] = ActiveEvent(
                rsu_id=rsi.rsu_id, event=event, received_ms=received_ms
            )
        for sign in rsi.signs:
            self.signs[(rsi.rsu_id, sign.sign_id)] = ActiveSign(
                rsu_id=rsi.rsu_id, sign=sign, received_ms=received_ms
            )

    def expire(self, now_ms: int) -> None:
        """Drop events and signs that ended or were not repeated within ``ttl_ms``."""
        for key in [
            k for k, v in self.events.items() if self._ended(v.event.end_ms, v.received_ms, now_ms)
        ]:
            del self.events[key]
        for key in [
            k for k, v in self.signs.items() if self._ended(v.sign.end_ms, v.received_ms, now_ms)
        ]:
            del self.signs[key]

    def _ended(self, end_ms: int | None, received_ms: int, now_ms: int) -> bool:
        if end_ms is not None and end_ms < now_ms:
            return True
        return now_ms - received_ms > self.ttl_ms
