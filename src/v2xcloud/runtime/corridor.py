"""Corridor detectors of the centre tier: congestion measured over every worker's tiles.

A queue on an approach lane can reach back across a tile border, so no edge worker sees a
whole corridor's traffic as its own. Each detection round every worker publishes, per tile it
owns, a ``backbone.TileTraffic``: the lane part of the lanes whose stop line is in the tile
and the vehicles placed in the tile (``apps.events.LaneSample``). ``CorridorCongestion`` keeps
the latest summary of each tile (``put``, from the centre's reader thread), and at each of the
centre runtime's detection rounds merges those not older than ``max_age_ms``
(``apps.events.merge_samples``: a vehicle reported by two tiles counts once) and runs the one
congestion measure (``CongestionDetector.measure``) on them: the events a single scene holding
every vehicle would raise. It is an event detector of the centre's ``Runtime`` (``detectors``):
its events are the centre's detected events (API, dashboard, history, RSI).

Bounded: one summary per tile, tiles not heard from for ``forget_ms`` dropped, and at most
``max_tiles`` (past it the stalest tile goes, counted ``tiles_evicted``).

On a wall clock the workers' rounds are not aligned: the summaries merged are each worker's
latest (up to a second apart), so a vehicle crossing a border in that second may be counted
in both tiles (once after the merge) or in neither for one round.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from v2xcloud.apps.events import CongestionDetector, LaneSample, merge_samples
from v2xcloud.model import RoadEvent
from v2xcloud.runtime.backbone import TileTraffic
from v2xcloud.runtime.tiles import Tiling

if TYPE_CHECKING:
    from v2xcloud.runtime.core import Runtime

__all__ = ["CorridorCongestion", "round_samples", "tile_traffic"]

logger = logging.getLogger(__name__)


def round_samples(runtime: Runtime) -> list[LaneSample] | None:
    """The lane samples of the runtime's last detection round (its congestion detector's),
    or None when it runs no congestion detector."""
    for detector in runtime.events.detectors:
        if isinstance(detector, CongestionDetector):
            return detector.samples
    return None


def tile_traffic(
    samples: Sequence[LaneSample],
    tiles: Collection[str],
    *,
    vehicle_tile: Callable[[str], str | None],
    tiling: Tiling,
    lane_tile: Callable[[float, float], str] | None = None,
) -> dict[str, list[LaneSample]]:
    """A worker's round of lane samples cut by its ``tiles`` (each of them a key, even
    without traffic): a lane's part (geometry, limit, light) goes to the tile of its stop line,
    each vehicle to ``vehicle_tile(id)`` (the tile of the frame that last reported it; None:
    nowhere). A tile with vehicles on a lane whose stop line is elsewhere gets a
    vehicles-only sample. ``lane_tile``: the tile (unit) of a stop line's (lat, lon), when
    not ``tiling.tile_of`` (a worker owning a hot tile's children)."""
    by_tile: dict[str, list[LaneSample]] = {tile: [] for tile in tiles}
    where = tiling.tile_of if lane_tile is None else lane_tile
    for sample in samples:
        stop = sample.tail[-1] if sample.tail else None
        stop_tile = None if stop is None else where(*stop)
        rows: dict[str, list[int]] = {}
        for i, pid in enumerate(sample.ids):
            tile = vehicle_tile(pid)
            if tile is not None and tile in by_tile:
                rows.setdefault(tile, []).append(i)
        keys = set(rows) | ({stop_tile} if stop_tile in by_tile else set())
        for tile in sorted(k for k in keys if k is not None):
            mine = rows.get(tile, [])
            part = msgspec.structs.replace(
                sample,
                ids=tuple(sample.ids[i] for i in mine),
                to_stop_m=tuple(sample.to_stop_m[i] for i in mine),
                speed_mps=tuple(sample.speed_mps[i] for i in mine),
            )
            if tile != stop_tile:  # vehicles only: the lane itself is another tile's
                part = LaneSample(
                    node_id=part.node_id,
                    lane=part.lane,
                    ids=part.ids,
                    to_stop_m=part.to_stop_m,
                    speed_mps=part.speed_mps,
                )
            by_tile[tile].append(part)
    return by_tile


class CorridorCongestion:
    """``congestion`` events from the workers' tile summaries (see the module docstring)."""

    kind = "congestion"

    def __init__(
        self,
        *,
        detector: CongestionDetector | None = None,
        max_age_ms: int = 2500,
        forget_ms: int = 10_000,
        max_tiles: int = 100_000,
    ) -> None:
        self.detector = detector if detector is not None else CongestionDetector()
        self.book = self.detector.book  # LiveEvents gives it its ids and grace
        self.max_age_ms = max_age_ms
        self.forget_ms = forget_ms
        self.max_tiles = max_tiles
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._latest: dict[str, TileTraffic] = {}

    def put(self, traffic: TileTraffic) -> None:
        """One tile's summary (any thread); an older round than the one kept is counted
        ``stale`` and ignored."""
        with self._lock:
            before = self._latest.get(traffic.tile)
            if before is not None and traffic.round_ms < before.round_ms:
                self.counts["stale"] += 1
                return
            self._latest[traffic.tile] = traffic
            self.counts["summaries"] += 1
            if len(self._latest) > self.max_tiles:
                oldest = min(self._latest, key=lambda t: self._latest[t].round_ms)
                del self._latest[oldest]
                self.counts["tiles_evicted"] += 1
                if self.counts["tiles_evicted"] % 1000 == 1:
                    logger.warning("corridor: more than %d tiles, stalest dropped", self.max_tiles)

    def on_tick(self, view: Any, now_ms: int) -> list[RoadEvent]:
        """Merge the fresh summaries and measure them (the runtime's detection round)."""
        with self._lock:
            for tile in [
                t for t, s in self._latest.items() if now_ms - s.round_ms > self.forget_ms
            ]:
                del self._latest[tile]
            fresh = [s for s in self._latest.values() if now_ms - s.round_ms <= self.max_age_ms]
        self.counts["rounds"] += 1
        samples = merge_samples(lane for summary in fresh for lane in summary.lanes)
        return self.detector.measure(samples, view.frame, now_ms)

    def stats(self) -> dict[str, int]:
        """Summaries received, stale ones, rounds run and tiles held now."""
        with self._lock:
            tiles = len(self._latest)
        return dict(self.counts) | {"tiles": tiles}
