"""The centre tier's live map: the edge workers' per-tile snapshots merged into one scene.

Each worker sends, every ``WorkerConfig.live_period_ms``, a ``backbone.TileSnapshot`` of each
tile it owns (``live.{tenant}.{tile}``, core NATS); the centre's reader hands every one to
``LiveMap.put`` (any thread) with the time it arrived on the centre's clock. At each tick the
centre's ``api.runtime_live.RuntimeLive`` asks ``states(now_ms)`` for the participants it
serves (``/api/participants``, the tick stream, the history), exactly as the single process
serves its own scene's. The merge:

- one snapshot per tile: a newer one replaces it (a snapshot older than the held one from the
  same worker, reordered on the way, is ignored: ``out_of_order``); one from another worker
  replaces it too (the tile changed hands: ``handed_over``), unless the heartbeats still name
  the held one's worker as the owner (the old owner's last send after its successor's first:
  ``not_owner``);
- a tile's snapshot not renewed within ``stale_ms`` of its arrival is dropped (``stale``: its
  worker died or lost the tile and nobody else sends it yet), and so is one whose sender the
  workers' heartbeats no longer name as the tile's owner (``owners``, e.g.
  ``gateways.tile_worker.WorkerRoster.owners``: ``not_owner``), so a tile that moved shows once;
- a road user in two snapshots (it crossed a border between the two workers' sends, or a
  split tile's old snapshot overlaps its children's) is shown once, as the newest report of
  it has it (``duplicates``);
- at most ``max_tiles`` tiles are held (past it the snapshot that arrived first goes:
  ``evicted``).

Between two snapshots ``states`` hands out the very same ``ParticipantState`` objects, so a
tick's delta lists as changed only the road users of the tiles that sent since the last tick.

>>> from v2xcloud.model import ParticipantKind, ParticipantSource, ParticipantState
>>> from v2xcloud.runtime.backbone import TileSnapshot
>>> def car(pid, t):
...     return ParticipantState(id=pid, kind=ParticipantKind.VEHICLE,
...                             source=ParticipantSource.BSM, timestamp_ms=t, lat_deg=28.2,
...                             lon_deg=112.9)
>>> m = LiveMap(stale_ms=2000)
>>> m.put(TileSnapshot(tile="a", at_ms=0, worker="w1", participants=(car("x", 0),)), received_at_ms=0)
>>> m.put(TileSnapshot(tile="b", at_ms=0, worker="w2", participants=(car("y", 0), car("x", 50))), received_at_ms=0)
>>> sorted((p.id, p.timestamp_ms) for p in m.states(1000).values())
[('x', 50), ('y', 0)]
>>> m.states(2500), m.counts["stale"]
({}, 2)
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping

from v2xcloud.model import ParticipantState
from v2xcloud.runtime.backbone import TileSnapshot

__all__ = ["MAX_TILES", "STALE_MS", "LiveMap"]

logger = logging.getLogger(__name__)

#: a tile's snapshot is shown this long after it arrived, unless renewed (ms): four periods
#: of the workers' 500 ms, so one or two lost snapshots do not blank a tile
STALE_MS = 2000
#: tiles held at most (a deployment's area: thousands of zoom-16 tiles at the most)
MAX_TILES = 100_000


class LiveMap:
    """The merged live scene of the workers' tile snapshots (see the module docstring)."""

    def __init__(
        self,
        *,
        stale_ms: int = STALE_MS,
        max_tiles: int = MAX_TILES,
        owners: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self.stale_ms = stale_ms
        self.max_tiles = max_tiles
        self.owners = owners  # tile -> its owner now (the workers' heartbeats); None: unknown
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        # tile -> (arrived ms on the centre's clock, snapshot); insertion order: arrival
        self._tiles: dict[str, tuple[int, TileSnapshot]] = {}
        self._merged: dict[str, ParticipantState] = {}
        self._dirty = False

    def put(self, snapshot: TileSnapshot, *, received_at_ms: int) -> None:
        """A worker's snapshot of one tile, arrived at ``received_at_ms`` (any thread)."""
        owner = self._owner(snapshot)
        with self._lock:
            held = self._tiles.get(snapshot.tile)
            if held is not None:
                before = held[1]
                if before.worker == snapshot.worker and snapshot.at_ms < before.at_ms:
                    self.counts["out_of_order"] += 1  # reordered on the way: keep the newer
                    return
                if before.worker != snapshot.worker:
                    if owner == before.worker:  # the previous owner's late one, or a stray
                        self.counts["not_owner"] += 1
                        return
                    self.counts["handed_over"] += 1
                del self._tiles[snapshot.tile]  # re-inserted last: arrival order
            self._tiles[snapshot.tile] = (received_at_ms, snapshot)
            self.counts["snapshots"] += 1
            if len(self._tiles) > self.max_tiles:
                del self._tiles[next(iter(self._tiles))]
                self.counts["evicted"] += 1
            self._dirty = True

    def _owner(self, snapshot: TileSnapshot) -> str | None:
        """The tile's owner by the heartbeats, asked only when another worker's snapshot of
        it is held (a handover, or a sender that is not the owner)."""
        if self.owners is None:
            return None
        with self._lock:
            held = self._tiles.get(snapshot.tile)
            if held is None or held[1].worker == snapshot.worker:
                return None
        return self.owners().get(snapshot.tile)

    def states(self, now_ms: int) -> dict[str, ParticipantState]:
        """Participant id -> state over every tile held at ``now_ms`` (the centre's clock),
        after dropping the stale snapshots and those of senders no longer the tile's owner."""
        owners = self.owners() if self.owners is not None else {}
        with self._lock:
            self._drop(now_ms, owners)
            if self._dirty:
                self._merged = self._merge()
                self._dirty = False
            return self._merged

    def _drop(self, now_ms: int, owners: Mapping[str, str]) -> None:
        cut = now_ms - self.stale_ms
        for tile, (arrived_ms, snapshot) in list(self._tiles.items()):
            owner = owners.get(tile)
            if arrived_ms < cut:
                reason = "stale"
            elif owner is not None and owner != snapshot.worker:
                reason = "not_owner"
            else:
                continue
            del self._tiles[tile]
            self.counts[reason] += 1
            self._dirty = True

    def _merge(self) -> dict[str, ParticipantState]:
        merged: dict[str, ParticipantState] = {}
        newest: dict[str, tuple[int, int]] = {}  # id -> (report ms, snapshot ms) of the one kept
        for _, snapshot in self._tiles.values():
            for state in snapshot.participants:
                rank = (state.timestamp_ms, snapshot.at_ms)
                kept = newest.get(state.id)
                if kept is not None:
                    self.counts["duplicates"] += 1
                    if kept >= rank:
                        continue
                merged[state.id] = state
                newest[state.id] = rank
        return merged

    def tiles(self) -> dict[str, str]:
        """tile -> the worker whose snapshot of it is held."""
        with self._lock:
            return {tile: snapshot.worker for tile, (_, snapshot) in self._tiles.items()}

    def stats(self) -> dict[str, int]:
        """Snapshots taken, dropped per reason, duplicates merged, and tiles held now."""
        with self._lock:
            return dict(self.counts) | {"tiles": len(self._tiles)}
