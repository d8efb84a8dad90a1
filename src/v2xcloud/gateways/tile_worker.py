"""The edge worker: owns a set of tiles (leases in JetStream KV), reads their frames and its
halo's from ``V2X_FRAMES``, runs the scene and the applications, and publishes the advisories
of the egos in its own tiles (``adv.{tenant}.{tile}.{app}``) and the new warnings
(``dlv.{tenant}.{tile}.warning``).

Ownership (``runtime.ownership``): every worker heartbeats its key in the members bucket
(``V2X_MEMBERS``, entries expire after ``forget_s``) every ``heartbeat_s``; a member whose key
has not changed for ``lease_ttl_s`` is dead. Each worker computes the same contiguous
assignment of the known tiles (the tiles bucket ``V2X_TILES`` plus the tiles the frame stream
holds; with the stream clock the bench registers them) over the live members, claims with compare-and-set the tiles desired for it that are
unowned or held by a dead member, and hands over its tiles desired for another live member.
With the wall clock the assignment balances measured load (``ownership.assign_by_load``):
each worker counts the frames it reads per tile, and every ``load_window_s`` in which its
tiles and its consumer did not change it puts each owned tile's own frames/s
(``ownership.tile_loads``: not its halo's, which would move with every re-cut) in its
heartbeat (``"load"``; ``"measured"`` is false from a change of its tiles until a whole
window has passed: loads carried over or estimated); every worker takes a tile's load from
its owner's heartbeat only. The stream clock (the bench) keeps the tile-count assignment (``ownership.assign``): its runs must not depend on when a load was measured.
Hot tiles (wall clock): the owner of a unit that alone would have a worker read more than
``split_fps`` frames/s (its own frames and its halo's, measured from the places it reads) (and
which is coarser than ``ownership.FINEST_UNIT_ZOOM``) splits it: it creates the four child
keys owned by itself, then marks the tile ``SPLIT`` (compare-and-set), and the balance moves
the children like any tile, each child's load estimated from where the tile's frames were
filed until it is measured. A frame belongs to the unit its place lies in (``unit_of``; a
split tile's roadside frames to its first descendant), the same on every worker, so the
exactly-once rule holds across a split. A split tile that cools merges back
(``ownership.MergeWatch``: its children's loads together below ``merge_fps``, by default
``MERGE_SHARE`` of ``split_fps``, for ``merge_hold_s``, and split that long): the owner of
its first child marks it ``MERGING`` + itself (compare-and-set), every worker then wants all
its children there (the owners hand them over like any tile: the old owner stops issuing
for a child when it hands it over), and once it owns them all it makes the tile its own
(compare-and-set) and deletes the child keys. From that write on, every worker finds a frame
under the tile in the tile itself (``unit_of``: the coarsest unit first), which the same
worker owned as children: no pair changes issuer across the merge. A merge no longer due
(the load rose again) goes back to ``SPLIT``; a marker whose member died is taken over by
the next owner of the first child.
A worker that could not renew its own heartbeat for ``lease_ttl_s`` stops issuing (it may
have lost its tiles) until it renews. A claimed tile's frames (and its halo's) are read again
from ``rebuild_s`` back in the stream, so the new owner's scene is rebuilt before it issues.

Exactly once: the advisory about an (ego, other) pair is issued only by the owner of the tile
of the frame that last reported the ego (its own BSM's subject; an RSM's for a road user
without one), a rule every worker reading the ego's frames computes alike; its ``Nats-Msg-Id`` (``runtime.ownership.advisory_msg_id``)
is the same from any worker, so a copy from a worker that still thought it owned the tile is
dropped by the stream's duplicate window (counted ``duplicates``). A warning is new only when
the episodes bucket (``V2X_EPISODES``) has no live entry of the same level for its episode
(create / compare-and-set), so a new owner does not warn a vehicle its predecessor warned. "Live"
is: marked within ``episode_gap_ms`` (each issuer re-marks its episodes every
``EPISODE_TOUCH_S``), widened on a tile just taken over by the takeover's silence
(``_episode_gap_ms``; ``tests/cluster/test_worker_faults.py`` kills a worker mid-episode).

Road events: the worker runs the event detectors on its scene (``Runtime``'s, ids stable
across workers: ``EventBook.stable_ids``) and, each detection round, publishes the events of
the kinds that need only a tile and its halo (``LOCAL_EVENT_KINDS``: stopped, slow and
wrong-way vehicles) whose place is an owned tile: the tile of the frame that last reported
the vehicle (the advisories' rule), else the tile of the event's position. Each goes on
``evt.{tenant}.{tile}.{kind}`` and its RSI (``runtime.dissemination``: new / update / refresh
every second / expired) on ``dlv.{tenant}.{tile}.rsi`` (``backbone.RsiDelivery``) for the
gateways' down-link (the RSI sent under the tile's own sender id, ``identity.scope_sender_id``:
an ``rteId`` is unique per sender, and the worker numbers its tiles' events from one pool);
both with message ids of the event's identity and second
(``ownership.event_msg_id``), so a worker still reporting a tile its successor took is
stored once. The detectors' clocks travel with the tile: every ``CLOCKS_EVERY_MS`` (at a
detection round) a worker writes, per owned tile, the clocks of the road users placed there
(``backbone.DetectorClocks``: each detector's ``handover``) to the ``V2X_CLOCKS`` bucket
(TTL ``CLOCKS_TTL_S``), and a worker that takes a tile reads its entry and adopts them
(``adopt``) before its next round (each road user's once its rebuilt frames are read, within
``ADOPT_WAIT_MS``: a round without it would drop its clock), so a standing vehicle's event goes on under the same id
and start instead of waiting the new owner's own ``min_stopped_s`` (counted
``clocks_written`` / ``clocks_adopted``; a read or write that fails is counted and logged,
and the event then starts again as before). The entry also names the tile's events whose RSI
went out (``announced``): the new owner's first RSI for each is a ``refresh``, not ``new``
(counted ``events_continued``), so a receiver sees one event announced once. Congestion, which needs a whole corridor, the worker still
measures on its own scene (its TJW warnings use it) but does not publish: each round it
publishes each owned tile's lanes and vehicles (``backbone.TileTraffic`` on
``trf.{tenant}.{tile}``) and the centre measures the corridors (``runtime.corridor``).

Reading and issuing: the frames of the owned tiles and the halo come through one ack-none
consumer (a frame lost to a crash is replaced by the next one 100 ms later; a new owner
rebuilds from the stream) kept flowing by ``gateways.nats.ContinuousPull``, one message at a
time in stream order. A tick's advisories are published together in the background (their
PubAcks awaited at once), then its new warnings and episode marks, in tick order; the reading
goes on meanwhile and waits only when ``TICKS_IN_FLIGHT`` ticks are still being published.

The live map: every ``WorkerConfig.live_period_ms`` (500 ms, 2 Hz; 0: never) of its clock a
worker that is not fenced sends, for each tile it owns (not its halo), a
``backbone.TileSnapshot`` of the road users placed there (the advisories' rule: the tile of
the frame that last reported each, so each road user is in one worker's snapshot) as its
scene has them, even when empty, on ``live.{tenant}.{tile}`` (core NATS, fire and forget: why
no stream, ``runtime.backbone``); the centre merges them (``runtime.live_map``) into the live
endpoints (counted ``live_snapshots``; a failed send ``errors:live``).

Misbehaviour (with ``WorkerConfig.screen``, a factory of the detector: ``v2xcloud worker``
gives ``security.MisbehaviourDetector`` with ``--misbehaviour-detection``): the worker
screens every self-report it reads (its tiles' and its halo's: a sender's history is kept by
every worker that reads its frames, so when the sender crosses into a neighbour's tile the new
owner has judged its last seconds too, the window the checks look back over), and publishes
the misbehaviour reports of the senders placed in its own tiles on ``mbr.{tenant}.{tile}``
(``V2X_MISBEHAVIOUR``, message id of sender and flag time). Every worker reads that stream
and refuses the reports of every sender flagged there (``runtime.screen.TierScreen``), so the
verdict follows the sender into tiles whose worker never saw it misbehave; advisories naming
a flagged sender are suppressed; the centre records the reports (API, history). A worker's
flag on a halo sender stays local (counted ``flags_not_mine``).

Time: ``clock="wall"`` ticks every ``tick_ms`` on the wall clock (a deployment);
``clock="stream"`` ticks when a tick marker (``v2x.{tenant}.clock.tick``, header
``V2X-Tick-Ms``) arrives in the frame stream, after the frames published before it, and
answers each with ``wrk.{tenant}.ticked`` (worker, tick, count): the bench's deterministic
mode, in which N workers give the answers of one process; there the tiles a worker has at the
first tick marker are held for the run (``TileWorker.held``): failover is the wall clock's.

Sharded frames (``WorkerConfig.shard_zoom``, ``--shard-zoom``; ``runtime.backbone``): the
frames are in one stream per shard, ``V2X_FRAMES_{shard}``, and the worker runs one consumer
and pull per shard its reading keys touch, each with its keys' filters under the shard token
(``key_shard``); the last sequence read, the replaced consumers' epochs, the tick markers and
the catch-up are kept per stream (sequences are a stream's own). The wall clock creates a
shard stream it would read that does not exist yet (a gateway's first frame there is then
not missed); the stream clock reads the shard streams its bench made, the bench puts each
tick marker into every one of them, and a tick runs once every stream read is at its
marker (a stream at the marker holds its next message until then). A frame whose subject
lacks a valid shard token is counted ``bad_subjects`` and dead-lettered (``unknown_topic``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gc
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import msgspec
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from v2xcloud import processes
from v2xcloud.codec import MessageSet, Rejected, decode, message_set_of, prepare
from v2xcloud.errors import GatewayError
from v2xcloud.gateways.base import DeviceKind
from v2xcloud.gateways.ingest import parse_with_drivers
from v2xcloud.gateways.nats import (
    BackboneClient,
    ContinuousPull,
    PulledMsg,
    connect,
    dead_letter_outgoing,
    ensure_streams,
    frame_of,
    placed,
    stream_position,
)
from v2xcloud.gateways.pub_acks import PubAcks, kv_subject
from v2xcloud.model import Advisory, DeadLetter, Device, DropReason, MisbehaviourReport
from v2xcloud.runtime import backbone
from v2xcloud.runtime.corridor import round_samples, tile_traffic
from v2xcloud.runtime.dissemination import Delivery, Disseminator
from v2xcloud.runtime.ownership import (
    FINEST_UNIT_ZOOM,
    MERGE_HOLD_S,
    MERGE_SHARE,
    Liveness,
    MergeWatch,
    advisory_msg_id,
    assign,
    assign_by_load,
    children_of,
    edge_runtime,
    episode_key,
    event_digest,
    event_msg_id,
    plan,
    tile_loads,
    unit_of,
)
from v2xcloud.runtime.rsi_out import backbone_rsi
from v2xcloud.runtime.screen import MisbehaviourScreen, TierScreen
from v2xcloud.runtime.tiles import (
    CELL_ZOOM,
    FAR_CELL_ZOOM,
    MOTION_MARGIN_M,
    Reaches,
    Tiling,
    cell_of,
    descendants,
    is_passer,
    passing_keys,
    reaches,
)

__all__ = [
    "CLOCK_TILE",
    "EPISODES_BUCKET",
    "HEADER_TICK_MS",
    "LIVE_PERIOD_MS",
    "LOCAL_EVENT_KINDS",
    "MEMBERS_BUCKET",
    "MERGING",
    "SPLIT",
    "SPLIT_FPS",
    "TILES_BUCKET",
    "TileWorker",
    "WorkerConfig",
    "WorkerProcess",
    "WorkerRoster",
    "reading_keys",
    "reads",
    "tick_subject",
    "ticked_subject",
]

logger = logging.getLogger(__name__)

MEMBERS_BUCKET = "V2X_MEMBERS"
TILES_BUCKET = "V2X_TILES"
EPISODES_BUCKET = "V2X_EPISODES"
#: how often a worker writes its owned tiles' detector clocks (ms), and how long they are kept (s)
CLOCKS_EVERY_MS = 2000
CLOCKS_TTL_S = 60.0
#: clocks read on a takeover wait this long (ms) for their road users' rebuilt frames
ADOPT_WAIT_MS = 3000
#: dead letters waiting for the next tick's publications (past it the oldest go, counted)
DEAD_LETTERS_WAITING = 10_000
#: the reserved tile token of tick markers (never a quadkey)
CLOCK_TILE = "clock"
HEADER_TICK_MS = "V2X-Tick-Ms"
#: an own report (BSM) places its sender this long before a perception report may (ms)
OWN_REPORT_HOLD_MS = 1000
#: placements of participants not reported for this long are forgotten (ms)
PLACEMENT_KEEP_MS = 10_000
#: a neighbour tile with at least this share of its cells in the halo is read whole
WHOLE_TILE_SHARE = 0.75
#: a frame shard of whose registered tiles a worker owns at least this share is read whole,
#: through one consumer filter: a consumer of 2 filters or more costs the nats-server 23-28 us
#: per message delivered whatever their number, one filter 5-6 us (``benchmarks/cluster.py
#: --filters``); the shard's other frames are delivered too and dropped by the worker
#: (``frames_outside``) at ~20 us of worker CPU each (2,000 vehicles, zoom-13 shards halved
#: between 4 workers: server 44 -> 37 us per frame but workers 59 -> 76 us, so a half share
#: does not pay). With a share f of the shard's frames needed, one filter pays when
#: 27 f > 5.5 + 20 (1 - f), f > 0.55: a clear majority of the shard's tiles
WHOLE_SHARD_SHARE = 0.75
#: the lease of stream-clocked workers (the bench's runs, where a loaded machine's late
#: heartbeats must not move tiles: failover is the wall clock's, tests/cluster/test_worker_faults)
STREAM_LEASE_TTL_S = 10.0
#: the ingest's CPU time is read on one frame in this many (and scaled)
INGEST_SAMPLE = 16
#: ticks whose advisories may still be being published before the reading waits for the oldest
TICKS_IN_FLIGHT = 8
#: how often a worker re-marks the episodes it is issuing as recent in the episodes bucket
EPISODE_TOUCH_S = 1.0
#: how often a worker sends its owned tiles' live-map snapshots (ms of its clock: 2 Hz)
LIVE_PERIOD_MS = 500
#: a passer's corridor is read this long after its last report signalling to pass (ms)
PASSER_HOLD_MS = 2000
#: corridor cells no passer needs any more are read on this long (ms): a pass resumed soon
#: after, or a passer signalling on and off, does not replace the consumer every time
DEMAND_KEEP_MS = 5000
#: measured tile loads of members not heard from are forgotten with the tiles' entries; a
#: worker's measure covers this many seconds (``WorkerConfig.load_window_s``)
LOAD_WINDOW_S = 5.0
#: a unit is split when alone it would have a worker read more frames/s than this
#: (``WorkerConfig.split_fps``): one worker's budget, 70 % of ~15,000 frames per CPU second
#: (``benchmarks/cluster_capacity.py``: splitting only the units no worker could carry)
SPLIT_FPS = 10_500.0
#: the value of a tile's key once it is split (its children are the units owned)
SPLIT = "*split"
#: the value of a split tile's key while it merges back into the member named after it
MERGING = "*merge:"
#: the places whose unit was looked up, remembered (cleared past this many)
_UNITS_KEPT = 100_000
#: the tick markers remembered (stream clock: where a catch-up starts)
_MARKERS_KEPT = 200
#: the reading epochs of replaced consumers remembered (which frames were read already)
_EPOCHS_KEPT = 8
_ADV_ENCODER = msgspec.json.Encoder()
_CLOCKS = msgspec.json.Decoder(backbone.DetectorClocks)
#: the event kinds a worker detects and publishes for its tiles (a tile and its halo suffice);
#: congestion along a road needs the whole corridor: the centre's
LOCAL_EVENT_KINDS = frozenset({"stopped_vehicle", "slow_vehicle", "wrong_way"})
#: RSI deliveries remembered per event until their expiry (a bound on the tile table)
_EVENT_TILES_MAX = 10_000
#: the header that makes a put to a KV key a create (no earlier revision: ``KeyValue.create``)
_CREATE = {"Nats-Expected-Last-Subject-Sequence": "0"}
#: the JetStream error codes of a put whose expected last revision is not the key's
_WRONG_LAST = (10071, 10164)


def _exists(result: Any) -> bool:
    """Whether a create's result says the key has an entry already."""
    return isinstance(result, nats.js.errors.APIError) and result.err_code in _WRONG_LAST


def _is_split(owner: str) -> bool:
    """Whether a tile key's value says the tile is owned as its children (split, or merging
    back: until the merge is done the children are the units)."""
    return owner == SPLIT or owner.startswith(MERGING)


def _is_quadkey(text: str) -> bool:
    return bool(text) and all(c in "0123" for c in text)


def _filter(tenant: str, key: str, shard_zoom: int | None = None) -> str:
    """The consumer filter of a reading key: a tile token (``v2x.{tenant}.{tile}.>``), a
    cell (``v2x.{tenant}.{tile}.{cell}.>``, a quadkey longer than ``TILE_DIGITS``) or a tile's
    roadside frames (``{tile}_``: ``v2x.{tenant}.{tile}._.>``); with ``shard_zoom`` the
    key's shard token after the tenant (``key_shard``)."""
    digits = backbone.TILE_DIGITS
    root = f"v2x.{tenant}"
    if shard_zoom is not None:
        root = f"{root}.{key_shard(key, shard_zoom)}"
    if key.endswith("_") and _is_quadkey(key[:-1]):  # a tile's roadside frames
        return f"{root}.{key[:-1]}._.>"
    if _is_quadkey(key) and len(key) > digits:
        return f"{root}.{key[:digits]}.{key[digits:]}.>"
    return f"{root}.{backbone.token(key)}.>"


def key_shard(key: str, shard_zoom: int) -> str:
    """The frame shard a reading key's frames are in (``backbone.shard_of`` of its place; a
    tile's roadside frames, ``{tile}_``, are its tile's)."""
    place = key[:-1] if key.endswith("_") and _is_quadkey(key[:-1]) else key
    return backbone.shard_of(place, shard_zoom)


def reading_keys(
    tiling: Tiling, reach: Reaches, mine: Iterable[str], corridors: Iterable[str] = ()
) -> frozenset[str]:
    """What a worker owning ``mine`` reads (``runtime.tiles``, the halo by reach): each owned
    tile whole (its zoom-16 tile tokens; a unit finer than zoom 16, a hot tile's child
    (``ownership.split_hot``), as its own zoom-17 cell and its zoom-18 cells, and its zoom-16
    tile's roadside frames); the zoom-18 cells within ``tiling.halo_m`` (every own report,
    ``Reaches.near_m``) and the zoom-17 cells within ``Reaches.far_m`` (the own reports filed
    far: slow, speedless and emergency vehicles); the roadside frames (cell ``_``, key
    ``{tile}_``) of every zoom-16 tile within ``Reaches.roadside_m``; and the ``corridors``
    cells (ahead of passers, ``passing_keys``). A tile that is no quadkey is read whole,
    without halo. Keys are consumer filters (``_filter``), none overlapping another."""
    digits = backbone.TILE_DIGITS
    owned = set(mine)
    grid = [t for t in owned if _is_quadkey(t) and tiling.zoom <= len(t) <= FINEST_UNIT_ZOOM]
    keys = {t for t in owned if t not in grid}
    whole: set[str] = set()  # zoom-16 tiles read whole
    parted: set[str] = set()  # zoom-16 tiles of which only some units are owned
    for tile in grid:
        if len(tile) <= digits:
            whole.update(descendants(tile, digits))
        else:
            keys.add(tile[: digits + 1])  # its own far-filed cell (a unit is at most zoom 17)
            keys.update(descendants(tile, CELL_ZOOM))
            parted.add(tile[:digits])
    keys.update(whole)
    keys.update(t + "_" for t in parted)
    by_tile: dict[str, list[str]] = {}
    for cell in tiling.halo_cells(grid):
        by_tile.setdefault(cell[:digits], []).append(cell)
    per_tile = 4 ** (CELL_ZOOM - digits)
    for tile, cells in by_tile.items():
        # a tile mostly in the halo is read whole: one consumer filter, not a dozen (a
        # JetStream consumer delivers the slower the more filters it has); not one this
        # worker owns part of (its own units' filters would overlap it)
        whole_read = len(cells) >= WHOLE_TILE_SHARE * per_tile and tile not in parted
        keys.update([tile] if whole_read else cells)
    far = tiling.halo_cells(grid, halo_m=reach.far_m, zoom=FAR_CELL_ZOOM)
    keys.update(c for c in far if c[:digits] not in keys)
    keys.update(k for k in corridors if k[:digits] not in keys)
    wide = Tiling(zoom=digits, halo_m=reach.roadside_m)
    keys.update(t + "_" for t in wide.halo_tiles(whole | parted) if t not in keys)
    return frozenset(keys)


def whole_shards(mine: Iterable[str], registered: Iterable[str], shard_zoom: int) -> frozenset[str]:
    """The frame shards a worker owning ``mine`` reads whole (one filter, ``WHOLE_SHARD_SHARE``
    of the shard's ``registered`` zoom-16 tiles its own; the units of a split tile count as
    their tile)."""
    digits = backbone.TILE_DIGITS
    by_shard: dict[str, set[str]] = {}
    for tile in registered:
        if _is_quadkey(tile) and len(tile) >= shard_zoom:
            by_shard.setdefault(tile[:shard_zoom], set()).add(tile[:digits])
    owned: dict[str, set[str]] = {}
    for tile in mine:
        if _is_quadkey(tile) and len(tile) >= shard_zoom:
            owned.setdefault(tile[:shard_zoom], set()).add(tile[:digits])
    return frozenset(
        shard
        for shard, tiles in owned.items()
        if len(tiles) >= WHOLE_SHARD_SHARE * len(by_shard.get(shard, set()) | tiles)
    )


def reads(keys: frozenset[str], place: str) -> bool:
    """Whether a worker reading ``keys`` gets the frames filed at ``place`` (a cell, or a
    tile for roadside frames)."""
    tile = place[: backbone.TILE_DIGITS]
    return tile in keys or (place in keys if len(place) > len(tile) else tile + "_" in keys)


def tick_subject(tenant: str, shard: str | None = None) -> str:
    """The subject of the bench's tick markers in the frame stream (``shard``: in that frame
    shard's stream, ``v2x.{tenant}.{shard}.clock._.tick``)."""
    if shard is None:
        return backbone.frame_subject(tenant, CLOCK_TILE, "tick")
    return backbone.frame_subject(
        tenant, CLOCK_TILE, "tick", shard_zoom=backbone.TILE_DIGITS, shard=shard
    )


def ticked_subject(tenant: str) -> str:
    """The core subject a stream-clocked worker answers each tick marker on."""
    return f"wrk.{backbone.token(tenant)}.ticked"


@dataclass(frozen=True, kw_only=True)
class WorkerConfig:
    """An edge worker's settings (see the module docstring); ``origin`` is the local metric
    frame's origin (lat, lon) the scene computes in."""

    urls: Sequence[str]
    origin: tuple[float, float]
    tenant: str = "default"
    worker_id: str = ""
    clock: str = "wall"
    tick_ms: int = 100
    lease_ttl_s: float = 1.0
    heartbeat_s: float = 0.2
    rebuild_s: float = 2.0
    forget_s: float = 30.0
    episode_gap_ms: int = 2000
    message_set: str = "csae2020"
    servers: int = 1
    from_start: bool = False  # stream clock: read the frame stream from its first message
    tiling: Tiling = field(default_factory=Tiling)
    screen: Callable[[], MisbehaviourScreen] | None = None  # misbehaviour detection
    flag_ttl_ms: int = 600_000  # a flag from elsewhere lasts this long after a refusal
    #: what the applications reach beyond the tiles (the near halo is ``tiling.halo_m``)
    reach: Reaches = field(default_factory=reaches)
    #: the window over which a worker measures its tiles' loads (wall clock)
    load_window_s: float = LOAD_WINDOW_S
    #: a unit that alone would have a worker read more frames/s than this (own + halo) is
    #: split in four (wall clock; ``None``: never); ``docs/deploy.md`` (Sizing)
    split_fps: float | None = SPLIT_FPS
    #: a split tile whose children's loads sum below this merges back (``None``:
    #: ``MERGE_SHARE`` of ``split_fps``); must be below ``split_fps``
    merge_fps: float | None = None
    #: ... once split and below ``merge_fps`` this long (seconds, ``ownership.MergeWatch``)
    merge_hold_s: float = MERGE_HOLD_S
    #: the owned tiles' live-map snapshots are sent this often (ms; 0: never)
    live_period_ms: int = LIVE_PERIOD_MS
    #: frames sharded by place (``backbone.shard_of``): one stream per shard, one pull per
    #: shard read; ``None``: the one stream ``V2X_FRAMES``
    shard_zoom: int | None = None

    def name(self) -> str:
        """The worker id (``host-pid`` when not given)."""
        return self.worker_id or f"{socket.gethostname()}-{os.getpid()}"


class WorkerRoster:
    """The centre tier's view of the edge workers, from their heartbeats in the members
    bucket (``put`` each entry, any thread): per worker the tiles it reads, its ticks and
    its measured frames per second, and how long ago it was heard. A worker that left
    (its key deleted) goes at once; one silent for ``stale_after_s`` (killed: its key only
    expires) is left out of ``view()`` and forgotten; at most ``max_workers`` are kept."""

    def __init__(self, *, stale_after_s: float = 10.0, max_workers: int = 10_000) -> None:
        self.stale_after_s = stale_after_s
        self.max_workers = max_workers
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._members: dict[str, tuple[float, dict[str, Any]]] = {}

    def put(self, entry: KeyValue.Entry) -> None:
        """One members-bucket entry (a heartbeat, or a worker's leave)."""
        with self._lock:
            if entry.operation in ("DEL", "PURGE") or not entry.value:
                self._members.pop(entry.key, None)
                self.counts["left"] += 1
                return
            try:
                body = json.loads(entry.value)
                tiles = list(body.get("tiles") or [])
                load = {str(k): float(v) for k, v in (body.get("load") or {}).items()}
                ticks = int(body.get("ticks") or 0)
            except (ValueError, AttributeError, TypeError) as exc:  # counted, not fatal
                self.counts["bad_heartbeats"] += 1
                logger.warning("roster: heartbeat of %s: %s", entry.key, exc)
                return
            self._members.pop(entry.key, None)  # newest last: the oldest goes past the bound
            self._members[entry.key] = (
                time.monotonic(),
                {"tiles": tiles, "ticks": ticks, "frames_per_s": round(sum(load.values()), 1)},
            )
            if len(self._members) > self.max_workers:
                del self._members[next(iter(self._members))]
                self.counts["evicted"] += 1

    def view(self) -> dict[str, Any]:
        """``workers`` (live ones by name: tiles, tiles read, ticks, frames/s, heard s ago),
        ``tiles`` owned in all, and the counters."""
        now = time.monotonic()
        with self._lock:
            for name in [n for n, (t, _) in self._members.items() if now - t > self.stale_after_s]:
                del self._members[name]
                self.counts["silent"] += 1
            workers = {
                name: {
                    "tiles": len(m["tiles"]),
                    "ticks": m["ticks"],
                    "frames_per_s": m["frames_per_s"],
                    "heard_s_ago": round(now - t, 2),
                }
                for name, (t, m) in sorted(self._members.items())
            }
            tiles = len({tile for _, m in self._members.values() for tile in m["tiles"]})
        return {"workers": workers, "tiles": tiles, **self.counts}

    def owners(self) -> dict[str, str]:
        """tile -> the live worker whose heartbeat says it reads it."""
        self.view()  # drop the silent first
        with self._lock:
            return {tile: name for name, (_, m) in self._members.items() for tile in m["tiles"]}


class TileWorker:
    """One edge worker; ``await run(stop)`` until ``stop`` is set (see the module docstring)."""

    def __init__(self, config: WorkerConfig) -> None:
        if config.clock not in ("wall", "stream"):
            raise GatewayError(f"worker clock must be 'wall' or 'stream', not {config.clock!r}")
        self.config = config
        self.me = backbone.token(config.name())
        self.tiling = config.tiling
        if self.tiling.zoom > backbone.TILE_DIGITS:
            raise GatewayError(
                f"worker tile zoom {self.tiling.zoom}: at most {backbone.TILE_DIGITS} (the "
                "subjects' tile token; finer ownership would split a tile's roadside frames)"
            )
        split, merge = config.split_fps, config.merge_fps
        if split is not None and merge is not None and not 0 <= merge < split:
            raise GatewayError(
                f"merge_fps {merge} must be >= 0 and below split_fps {split} (the "
                "hysteresis between split and merge)"
            )
        if config.merge_hold_s < 0:
            raise GatewayError(f"merge_hold_s must be >= 0, got {config.merge_hold_s}")
        lat, lon = config.origin
        self.screen = (
            TierScreen(config.screen(), ttl_ms=config.flag_ttl_ms)
            if config.screen is not None
            else None
        )
        self.runtime = edge_runtime(
            origin_lat_deg=lat,
            origin_lon_deg=lon,
            message_set=config.message_set,
            screen=self.screen,
        )
        self._flagged: list[MisbehaviourReport] = []  # this worker's new reports, to publish
        self.runtime.add_misbehaviour_sink(self._flagged.extend)
        self.counts: Counter[str] = Counter()
        # process CPU seconds: "ingest" (decode + validity + scene intake of frames), "tick"
        # (the runtime's tick: scene, every app), "issue" (advisories, warnings, episodes);
        # the rest of the process's CPU is the NATS client and the event loop
        self.cpu_s: dict[str, float] = {"ingest": 0.0, "tick": 0.0, "issue": 0.0}
        self.lease_ttl_s = config.lease_ttl_s
        if config.clock == "stream":  # the bench: no failover trial, late heartbeats move nothing
            self.lease_ttl_s = max(config.lease_ttl_s, STREAM_LEASE_TTL_S)
        self.liveness = Liveness(ttl_s=self.lease_ttl_s, forget_s=config.forget_s)
        # tile -> (owner, revision): one entry per tile of the deployment's area (the bucket's)
        self.owners: dict[str, tuple[str, int]] = {}
        self.owned: frozenset[str] = frozenset()  # tiles whose consumer is in place
        self._reading: frozenset[str] = frozenset()
        # replaced consumers by stream: (first seq, last seq, keys) each delivered (frames
        # read already); sequences are per stream (one per frame shard, or V2X_FRAMES)
        self._epochs: dict[str, deque[tuple[int, int, frozenset[str]]]] = {}
        self._first_seq: dict[str, int] = {}  # the current consumers' first messages
        self._last_seq: dict[str, int] = {}
        self._sub_lock = asyncio.Lock()
        self._switches: set[asyncio.Task[None]] = set()  # consumer replacements under way
        # passers read (participant id -> lat, lon, heading, received ms): DNPW's far partners
        # are read along the corridor ahead of each (``Partners.AHEAD_OF_PASSER``)
        self._passers: dict[str, tuple[float, float, float, int]] = {}
        self._demand: dict[str, int] = {}  # corridor key -> last ms a passer needed it
        # stream -> its tick markers read (tick ms, seq)
        self._markers: dict[str, deque[tuple[int, int]]] = {}
        # stream clock: the streams whose tick marker a tick waits for (one per shard read),
        # those at a marker of the tick due (stream -> tick ms; its reading waits until the
        # tick ran), set when it ran, the last tick run
        self._tick_streams: frozenset[str] = frozenset()
        self._at_marker: dict[str, int] = {}
        self._tock = asyncio.Event()
        self._ticked_ms = -1
        self._streams_known: set[str] = set()  # shard streams known to exist
        self._streams_read: set[str] = set()  # every frame stream a consumer was made on
        self._last_renewal = 0.0
        self._active: dict[tuple[str, str, str | None], Advisory] = {}
        # participant id -> (tile of the frame that last reported it, own report?, received ms)
        self._placed: dict[str, tuple[str, bool, int]] = {}
        self._episode_touched: dict[str, float] = {}
        self._message_sets: dict[str, MessageSet] = {}
        self._sending: deque[asyncio.Task[None]] = deque()  # ticks being published, in order
        self._nc: BackboneClient | None = None
        self._js: JetStreamContext | None = None
        self._pub_acks: PubAcks | None = None  # the ticks' JetStream publications
        self._pulls: dict[str, ContinuousPull] = {}  # stream -> the current consumer's pull
        self._consumer: str | None = None  # its name (the same on every stream)
        self._generation = 0
        self._held = False
        self._settling: frozenset[str] | None = None  # a backlog reader's tiles last round
        self.claimed_at: dict[str, float] = {}
        # owned tile -> (tick ms since which it is issued without a break, silence before, ms)
        self._issuing_since: dict[str, tuple[int, int]] = {}
        self._silent_from_ms: int | None = None
        self.lost_at: dict[str, float] = {}
        # the RSI of the owned tiles' events: who must hear it again when (refresh, expiry)
        self._event_out = Disseminator(refresh_ms=1000)
        # the runtime's dead letters, for V2X_DEAD (the centre's one view): bounded
        self._dead: deque[DeadLetter] = deque(maxlen=DEAD_LETTERS_WAITING)
        self.runtime.add_dead_letter_sink(self._keep_dead)
        self.clocks_kv: KeyValue | None = None
        self._clocks_at_ms: int | None = None  # when the owned tiles' clocks were last written
        self._clock_tiles: set[str] = set()  # tiles whose last written clocks were not empty
        # tile -> the announced event keys its last written clocks named
        self._announced_written: dict[str, tuple[str, ...]] = {}
        # read on a takeover, for the tick; with the tick it began to wait for its road users
        self._adopting: list[tuple[backbone.DetectorClocks, int | None]] = []
        self._clock_reads: set[asyncio.Task[None]] = set()
        self._event_tiles: dict[str, tuple[str, str]] = {}  # delivery key -> (tile, identity)
        self._live_at_ms: int | None = None  # when the live-map snapshots were last sent
        # load: frames read per tile this window (owned and halo), the window's start, owned
        # tiles and consumer generation (a window across a change is not published), the
        # last loads published, every tile's last load heard (one entry per tile of the area)
        self._place_frames: Counter[str] = Counter()
        # the stream times (ns) of the window's first and last frame read: the load is frames
        # per second of stream time, not of the worker's reading (a worker behind the stream
        # reads the same frames/s of stream time over more or less wall time: measured by its
        # reading, it under-reported the load it could not keep up with, and over-reported
        # while it caught up, and the balance re-cut by those swings)
        self._window_ns: list[int] = []
        self._place_fps: dict[str, float] = {}  # the last measured window's, by place
        # whether ``load_out`` was measured over the owned tiles as they are (the last window
        # closed without a change): false from a change until a whole window has passed
        self._measured = False
        self._window: tuple[float, frozenset[str], int] = (time.monotonic(), frozenset(), 0)
        self.load_out: dict[str, float] = {}
        # each owned unit's reads if it were a worker's only unit (own + its halo), frames/s
        self.alone_fps: dict[str, float] = {}
        self.loads: dict[str, float] = {}
        self._desired: tuple[Any, dict[str, str]] | None = None  # (inputs, assignment)
        self._split: frozenset[str] = frozenset()  # tiles split (their children are units)
        self._units: dict[str, str] = {}  # place -> unit, while some tile is split
        self._unit_keys: frozenset[str] | None = None  # the units (keys not split), cached
        self._merges = MergeWatch(hold_s=config.merge_hold_s)

    # -- life cycle -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, join, work until ``stop`` is set, then leave (delete the heartbeat key,
        release the tiles) and close.

        The codec of the default message set is compiled first (seconds: on the first frame
        instead, it stalled the event loop, so no fetch and no heartbeat ran meanwhile: a
        paced stream looked unread and a wall-clocked worker lost its tiles), before the
        worker joins."""
        prepare(message_set_of(self.config.message_set))
        connecting = asyncio.ensure_future(connect(self.config.urls, name=f"worker-{self.me}"))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not connecting.done():  # stopped while no server answered (it retries for ever)
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await connecting
            logger.warning("worker %s: stopped before any NATS server answered", self.me)
            return
        self._nc = connecting.result()
        self._js = self._nc.jetstream()
        self._pub_acks = PubAcks(self._nc)
        await self._set_up(stop)
        # what start-up built (the compiled codec, the runtime, the modules) lives as long as
        # the process: out of the collector's reach, its full collections walk only the scene
        gc.collect()
        gc.freeze()
        tasks = [
            asyncio.create_task(self._heartbeat_loop(stop)),
            asyncio.create_task(self._watch(self.members_kv, self._on_member, stop)),
            asyncio.create_task(self._watch(self.tiles_kv, self._on_tile, stop)),
            asyncio.create_task(self._balance_loop(stop)),
            asyncio.create_task(self._consume_loop(stop)),
        ]
        if self.config.clock == "wall":
            tasks.append(asyncio.create_task(self._tick_loop(stop)))
        if self.screen is not None:
            tasks.append(asyncio.create_task(self._flags_loop(stop)))
        try:
            await stop.wait()
        finally:
            for task in [*tasks, *self._switches]:
                task.cancel()
            await asyncio.gather(*tasks, *self._switches, return_exceptions=True)
            if self._sending:  # what the last ticks issued still goes out (bounded)
                await asyncio.wait(self._sending, timeout=5.0)
            await self._leave()

    async def _set_up(self, stop: asyncio.Event, *, patience_s: float = 60.0) -> None:
        """The streams and buckets, retried while a forming cluster times requests out."""
        assert self._js is not None
        deadline = time.monotonic() + patience_s
        while True:
            try:
                await ensure_streams(
                    self._js,
                    backbone.streams(
                        servers=self.config.servers, shard_zoom=self.config.shard_zoom
                    ),
                )
                self.members_kv = await self._bucket(MEMBERS_BUCKET, ttl=self.config.forget_s)
                self.tiles_kv = await self._bucket(TILES_BUCKET, ttl=None)
                self.episodes_kv = await self._bucket(EPISODES_BUCKET, ttl=60.0)
                self.clocks_kv = await self._bucket(backbone.CLOCKS_BUCKET, ttl=CLOCKS_TTL_S)
                return
            except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError) as exc:
                if time.monotonic() > deadline or stop.is_set():
                    raise GatewayError(f"worker {self.me}: JetStream not ready: {exc}") from exc
                self._failed("set_up", exc)
                await asyncio.sleep(0.5)

    async def _bucket(self, name: str, *, ttl: float | None) -> KeyValue:
        assert self._js is not None
        try:
            return await self._js.key_value(name)
        except nats.js.errors.BucketNotFoundError:
            pass
        replicas = min(3, self.config.servers)
        config = KeyValueConfig(
            bucket=name,
            history=1,
            ttl=ttl,
            replicas=replicas,
            storage=StorageType.FILE,
        )
        js = self._js
        try:
            return await placed(f"bucket {name}", replicas, partial(js.create_key_value, config))
        except nats.js.errors.BadRequestError:  # another worker created it meanwhile
            return await js.key_value(name)

    async def _leave(self, *, patience_s: float = 5.0) -> None:
        """Release this worker's tiles (owner ``""``, compare-and-set: a tile another worker
        took meanwhile is left alone), delete its heartbeat key and its consumer, then close:
        the others take the tiles at their next balance round instead of after the lease.
        Bounded by ``patience_s`` (a cluster that does not answer: the lease expires anyway)."""
        if self._nc is not None and not self._nc.is_connected:  # no server to tell
            logger.warning("worker %s: no NATS server answers; its tiles' leases lapse", self.me)
            self.counts["left_unreleased"] += 1
        else:
            try:
                await asyncio.wait_for(self._release(), patience_s)
            except Exception as exc:  # leaving is best effort: the lease expires anyway
                self._failed("leave", exc)
        if self._nc is not None:
            try:
                await asyncio.wait_for(self._nc.close(), patience_s)
            except Exception as exc:  # its servers gone: closing cannot flush; nothing is lost
                self._failed("close", exc)

    async def _release(self) -> None:
        mine = set(self.owned) | {t for t, (o, _) in self.owners.items() if o == self.me}
        for tile in sorted(mine):
            entry = await self.tiles_kv.get(tile)
            if (entry.value or b"").decode() == self.me:
                with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):
                    await self.tiles_kv.update(tile, b"", last=entry.revision)
                    self.counts["released"] += 1
        await self.members_kv.delete(self.me)
        pulls, self._pulls = self._pulls, {}
        for pull in pulls.values():
            await pull.stop()
        if self._consumer is not None:
            for stream in pulls:
                await self._drop_consumer(stream, self._consumer)
            self._consumer = None

    # -- membership and ownership ---------------------------------------------------------

    async def _heartbeat_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._measure_load()
            body = json.dumps(
                {
                    "tiles": sorted(self.owned),
                    "ticks": self.counts["ticks"],
                    "load": self.load_out,
                    "measured": self._measured,
                }
            )
            sent = time.monotonic()  # the lease runs from the request, not the reply
            try:
                await self.members_kv.put(self.me, body.encode())
                self._last_renewal = sent
            except Exception as exc:  # the lease lapses; fenced below
                self._failed("heartbeat", exc)
            await asyncio.sleep(self.config.heartbeat_s)

    def _measure_load(self) -> None:
        """Close the load window once ``load_window_s`` old: when the owned tiles and the
        consumer stayed the same over it (a catch-up's replay is no load), the owned tiles'
        frames per second of stream time (the span the window's frames were stored over, so a
        worker behind the stream measures what was sent, not how fast it kept up;
        ``ownership.tile_loads``) become
        ``load_out``; with ``split_fps``, also what each owned unit alone would have the
        worker read (``alone_fps``: the frames of the places its own ``reading_keys`` cover,
        all of which this worker reads too). A window across a change measures nothing, and
        the units handed over leave ``load_out`` (a heartbeat names only its own units); the
        counts start again either way."""
        started, owned, generation = self._window
        now = time.monotonic()
        if now - started < self.config.load_window_s:
            return
        if owned == self.owned and generation == self._generation and owned:
            span = now - started
            if len(self._window_ns) == 2 and self._window_ns[1] > self._window_ns[0]:
                # the stream time the window's frames cover (the frames/s that were sent),
                # never under a tenth of the wall span (one burst of frames stored together)
                covered = (self._window_ns[1] - self._window_ns[0]) / 1e9
                span = max(covered, 0.1 * span)
            per_unit: Counter[str] = Counter()
            for place, n in self._place_frames.items():
                per_unit[self._unit_of(place)] += n
            own = {t: per_unit.get(t, 0) / span for t in owned}
            self.load_out = tile_loads(own)
            self.loads.update(self.load_out)
            self._place_fps = {place: n / span for place, n in self._place_frames.items()}
            self._measured = True
            if self.config.split_fps is not None and self.config.clock == "wall":
                self.alone_fps = {
                    t: self._alone_reads(t) / span for t in owned if len(t) < FINEST_UNIT_ZOOM
                }
        else:  # a window across a change: still-owned units keep their last measure
            self._measured = False
            self.load_out = {t: v for t, v in self.load_out.items() if t in self.owned}
            self.alone_fps = {t: v for t, v in self.alone_fps.items() if t in self.owned}
        self._place_frames = Counter()
        self._window_ns = []
        self._window = (now, self.owned, self._generation)

    def _alone_reads(self, unit: str) -> int:
        """The frames of this window a worker owning only ``unit`` would have read."""
        keys = reading_keys(self.tiling, self.config.reach, [unit])
        return sum(n for place, n in self._place_frames.items() if reads(keys, place))

    def fenced(self) -> bool:
        """Whether this worker failed to renew its lease for ``lease_ttl_s`` (it then issues
        nothing: another worker may own its tiles by now). Never once ``held()``."""
        if self.held():
            return False
        return time.monotonic() - self._last_renewal > self.lease_ttl_s

    def held(self) -> bool:
        """Whether the tiles are held as they are: a stream-clocked worker keeps the tiles it
        had at the first tick marker it read while every registered tile had an owner, for
        the whole run (the bench settles the assignment
        before it starts; its answers must not depend on how timely a loaded machine
        delivered heartbeats: a member judged dead for a moment would have its tiles taken
        while it still issued for them, and a pair would be issued twice)."""
        return self._held

    async def _watch(self, kv: KeyValue, handle: Any, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                watcher = await kv.watchall()
                while not stop.is_set():
                    try:
                        entry = await watcher.updates(timeout=1.0)
                    except nats.errors.TimeoutError:
                        continue
                    if entry is not None:
                        handle(entry)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a server gone: watch again
                self._failed("watch", exc)
                await asyncio.sleep(0.2)

    def _on_member(self, entry: KeyValue.Entry) -> None:
        if entry.operation in ("DEL", "PURGE") or not entry.value:
            self.liveness.gone(entry.key)
        else:
            self.liveness.heard(entry.key, int(entry.revision or 0))
            try:
                load = json.loads(entry.value).get("load") or {}
                for tile, fps in load.items():
                    # only the owner's measure counts (bounded by the bucket's keys): a
                    # heartbeat sent before a hand-over was seen must not undo the new owner's
                    if self.owners.get(tile, ("", 0))[0] == entry.key:
                        self.loads[tile] = float(fps)
            except (ValueError, AttributeError, TypeError) as exc:  # counted, not fatal
                self.counts["bad_heartbeats"] += 1
                logger.warning("worker %s: heartbeat of %s: %s", self.me, entry.key, exc)

    def _on_tile(self, entry: KeyValue.Entry) -> None:
        """A tiles-bucket entry: its owner (``""``: none), ``SPLIT`` / ``MERGING``, or a
        deleted key (a merged tile's child: no unit any more, forgotten with its load). A
        tile that becomes whole again takes its children's loads and placements (the road
        users last reported under it are placed in it, not in the children gone)."""
        if entry.operation in ("DEL", "PURGE"):
            if self.owners.pop(entry.key, None) is not None:
                self.loads.pop(entry.key, None)
                self._units_changed()
            return
        owner = (entry.value or b"").decode()
        before = self.owners.get(entry.key)
        self.owners[entry.key] = (owner, int(entry.revision or 0))
        if before is None or _is_split(owner) != (entry.key in self._split):
            if before is not None and _is_split(before[0]) and not _is_split(owner):
                self._merged(entry.key)
            self._units_changed()

    def _units_changed(self) -> None:
        self._split = frozenset(t for t, (o, _) in self.owners.items() if _is_split(o))
        self._units, self._unit_keys = {}, None

    def _merged(self, tile: str) -> None:
        """``tile`` is whole again: its load is its children's, its children's road users
        are placed in it."""
        kids = children_of(tile, self.owners)
        if kids and all(k in self.loads for k in kids):
            self.loads[tile] = sum(self.loads[k] for k in kids)
        else:  # not its load from before the split: unknown (the mean) until measured
            self.loads.pop(tile, None)
        for pid, (place, own, at_ms) in list(self._placed.items()):
            if place != tile and place.startswith(tile):
                self._placed[pid] = (tile, own, at_ms)

    def _unit_of(self, place: str) -> str:
        """The ownership unit of a frame filed at ``place``: its tile at the tiling's zoom,
        or, under a split tile, the child unit it lies in (``ownership.unit_of``)."""
        tile = self.tiling.tile_of_place(place)
        if not self._split:
            return tile
        unit = self._units.get(place)
        if unit is None:
            if self._unit_keys is None:
                self._unit_keys = frozenset(
                    t for t, (o, _) in self.owners.items() if not _is_split(o)
                )
            unit = unit_of(place, self._unit_keys, zoom=self.tiling.zoom) or tile
            if len(self._units) >= _UNITS_KEPT:
                self._units = {}
            self._units[place] = unit
        return unit

    async def _balance_loop(self, stop: asyncio.Event) -> None:
        next_scan = 0.0
        while not stop.is_set():
            try:
                if self.config.clock == "wall" and time.monotonic() >= next_scan:
                    await self._scan_tiles()
                    next_scan = time.monotonic() + 1.0
                await self._balance()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a server failing over: try again next round
                self._failed("balance", exc)
            await asyncio.sleep(self.config.heartbeat_s)

    async def _scan_tiles(self) -> None:
        """Tiles the frame stream holds traffic for (registered in the tiles bucket, unowned)."""
        assert self._js is not None
        prefix = f"v2x.{backbone.token(self.config.tenant)}."
        subjects: dict[str, int] = {}
        for stream in await self._frame_streams():
            info = await self._js.stream_info(stream, subjects_filter=prefix + ">")
            subjects.update(info.state.subjects or {})
        for subject in subjects:
            try:
                place = backbone.frame_place(subject, shard_zoom=self.config.shard_zoom)[1]
                tile = self.tiling.tile_of_place(place)
            except ValueError as exc:  # not of the contract: counted, never owned
                self.counts["bad_subjects"] += 1
                logger.warning("worker %s: %s", self.me, exc)
                continue
            if tile != CLOCK_TILE and tile not in self.owners:
                with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):
                    await self.tiles_kv.create(tile, b"")  # else: registered by another worker

    async def _balance(self) -> None:
        if self.held():
            return
        alive = self.liveness.alive()
        if self.me not in alive or self.fenced():
            return  # not (yet) a live member: claim nothing
        await self._split_hot()
        await self._merge_cool(alive)
        owners = {t: o for t, (o, _) in self.owners.items() if not _is_split(o)}
        desired = self._merging_to(self._assignment(owners, alive), alive)
        moves = plan(me=self.me, desired=desired, owners=owners, alive=alive)
        for tile in moves.claim:
            await self._cas(tile, self.me, "claimed")
        for tile, other in moves.hand_over:
            await self._cas(tile, other, "handed_over")
        mine = frozenset(t for t, (o, _) in self.owners.items() if o == self.me)
        idle_reader = self.config.clock == "stream" and not self.config.from_start
        if not self._pulls and self.config.from_start and not self._backlog_ready(mine):
            return
        if mine != self.owned or (not self._pulls and idle_reader):
            # a stream-clocked worker answers every tick marker, even without tiles; one that
            # reads a backlog from its start waits for its tiles (``_backlog_ready``)
            await self._resubscribe(mine, catch_up=self.config.clock == "wall")

    def _backlog_ready(self, mine: frozenset[str]) -> bool:
        """Whether a worker reading a backlog from its start (``from_start``, stream clock)
        may begin: it owns tiles, every registered tile has an owner and its own tiles held
        still over a balance round. A later consumer of a stream-clocked worker goes on from
        the message after the last one read, so a tile claimed after the reading began would
        miss its backlog (it raced through the markers with the first tiles claimed only)."""
        settled = bool(mine) and all(owner for owner, _ in self.owners.values())
        before, self._settling = self._settling, mine if settled else None
        return settled and before == mine

    async def _split_hot(self) -> None:
        """Split each owned unit that alone would have a worker read more than ``split_fps``
        (its own frames and its halo's, ``alone_fps``; wall clock): the four child
        keys created owned by this worker (or taken over, compare-and-set, if a split that
        died half-way left them), then the tile marked ``SPLIT``; the next balance rounds move
        the children by load. Each child's load starts as its share of the tile's by where the
        last window's frames were filed (``_child_loads``)."""
        limit = self.config.split_fps
        if self.config.clock != "wall" or limit is None:
            return
        for tile, fps in sorted(self.alone_fps.items()):
            if fps <= limit or len(tile) >= FINEST_UNIT_ZOOM or tile not in self.owned:
                continue
            owner, rev = self.owners.get(tile, ("", 0))
            if owner != self.me:
                continue
            for child in (tile + d for d in "0123"):
                before = self.owners.get(child)
                try:
                    if before is None:
                        new = await self.tiles_kv.create(child, self.me.encode())
                    else:
                        new = await self.tiles_kv.update(child, self.me.encode(), last=before[1])
                except nats.js.errors.KeyWrongLastSequenceError:
                    self.counts["split_lost_race"] += 1
                    return
                self.owners[child] = (self.me, new)
            for child, load in self._child_loads(tile, self.load_out.get(tile, fps)).items():
                self.loads[child] = self.load_out[child] = load  # until measured
            try:
                new = await self.tiles_kv.update(tile, SPLIT.encode(), last=rev)
            except nats.js.errors.KeyWrongLastSequenceError:
                self.counts["split_lost_race"] += 1
                return
            self.owners[tile] = (SPLIT, new)
            self._split = self._split | {tile}
            self._units, self._unit_keys = {}, None
            self.load_out.pop(tile, None)
            self.alone_fps.pop(tile, None)
            self.counts["splits"] += 1
            logger.info(
                "worker %s: tile %s split (%.0f frames/s > %.0f)", self.me, tile, fps, limit
            )

    def _merge_limit(self) -> float | None:
        cfg = self.config
        if cfg.clock != "wall" or cfg.split_fps is None:
            return None
        return MERGE_SHARE * cfg.split_fps if cfg.merge_fps is None else cfg.merge_fps

    async def _merge_cool(self, alive: list[str]) -> None:
        """Merge back the split tiles that cooled (``MergeWatch.due``): the owner of a due
        tile's first child marks it ``MERGING`` + the member the load cut gives the tile
        whole (``_merge_target``); the member marked merges it once it owns all its
        children (the tile made its own, then the child keys deleted). A mark on a tile not
        due any more goes back to ``SPLIT`` (either of them writes it, compare-and-set)."""
        limit = self._merge_limit()
        if limit is None:
            return
        split = [t for t, (o, _) in self.owners.items() if _is_split(o)]
        units = [t for t, (o, _) in self.owners.items() if not _is_split(o)]
        due = set(self._merges.due(split, units, self.loads, limit))
        mark = MERGING + self.me
        for tile in sorted(split):
            value, rev = self.owners[tile]
            kids = children_of(tile, units)
            first = bool(kids) and self.owners[kids[0]][0] == self.me
            if tile not in due:
                if value.startswith(MERGING) and (value == mark or first):
                    await self._cas(tile, SPLIT, "merge_abandoned")
                continue
            if value != mark:
                marker = value[len(MERGING) :] if value.startswith(MERGING) else ""
                if first and (value == SPLIT or marker not in alive):
                    target = self._merge_target(tile, kids, alive)
                    await self._cas(tile, MERGING + target, "merge_marked")
                continue
            if any(self.owners[k][0] != self.me for k in kids):
                continue  # the children's owners are handing them over
            try:
                new = await self.tiles_kv.update(tile, self.me.encode(), last=rev)
            except nats.js.errors.KeyWrongLastSequenceError:
                self.counts["merge_lost_race"] += 1
                continue
            self.owners[tile] = (self.me, new)
            self._merged(tile)
            self._units_changed()
            if tile in self.loads:
                self.load_out[tile] = self.loads[tile]  # until measured
            for kid in kids:
                _, kid_rev = self.owners[kid]
                try:
                    await self.tiles_kv.delete(kid, last=kid_rev)
                except nats.js.errors.KeyWrongLastSequenceError:
                    self.counts["merge_lost_race"] += 1
                    continue
                self.owners.pop(kid, None)
                self.loads.pop(kid, None)
                self.load_out.pop(kid, None)
                self.alone_fps.pop(kid, None)
            self._units_changed()
            self.counts["merges"] += 1
            logger.info(
                "worker %s: tile %s merged (children below %.0f frames/s)", self.me, tile, limit
            )

    def _merge_target(self, tile: str, kids: list[str], alive: list[str]) -> str:
        """The member the load cut gives ``tile`` whole (its children's loads summed, held
        by the owner of the busiest child), so that the merged tile does not move again
        at once (``assign_by_load``'s hysteresis)."""
        units = {t: o for t, (o, _) in self.owners.items() if not _is_split(o)}
        busiest = max(kids, key=lambda k: (self.loads.get(k, 0.0), k))
        holder = units[busiest]
        for kid in kids:
            del units[kid]
        units[tile] = holder
        loads = {t: v for t, v in self.loads.items() if t in units}
        loads[tile] = sum(self.loads[k] for k in kids)
        return assign_by_load(units, alive, loads, units).get(tile, self.me)

    def _merging_to(self, desired: dict[str, str], alive: list[str]) -> dict[str, str]:
        """``desired`` with the children of each tile marked ``MERGING`` by a live member
        wanted there (they are handed over to it, so that it can merge them)."""
        live = set(alive)
        out = desired
        for tile, (value, _) in self.owners.items():
            member = value[len(MERGING) :] if value.startswith(MERGING) else ""
            if member in live:
                kids = [t for t in children_of(tile, self.owners) if t in desired]
                if any(desired[k] != member for k in kids):
                    out = dict(out) if out is desired else out
                    out.update(dict.fromkeys(kids, member))
        return out

    def _child_loads(self, tile: str, load: float) -> dict[str, float]:
        """``load`` (the split tile's) shared among its four children as the last measured
        window's frames were filed in them; frames filed coarser than a child (a roadside
        frame's tile) are shared evenly, and so is everything without a window (a quarter
        each misplaced the first cut of traffic that sat in one corner: it moved again once
        measured)."""
        depth = len(tile) + 1
        children = [tile + d for d in "0123"]
        filed = dict.fromkeys(children, 0.0)
        coarse = 0.0
        for place, fps in self._place_fps.items():
            if not place.startswith(tile):
                continue
            if len(place) >= depth:
                filed[place[:depth]] += fps
            else:
                coarse += fps
        inside = sum(filed.values()) + coarse
        if inside <= 0.0:
            return tile_loads(dict.fromkeys(children, load / 4))
        shares = {c: load * (filed[c] + coarse / 4) / inside for c in children}
        return tile_loads(shares)

    def _assignment(self, owners: dict[str, str], alive: list[str]) -> dict[str, str]:
        """The desired owners: by measured load with the wall clock, by tile count with the
        stream clock (see the module docstring); recomputed only when its inputs change."""
        if self.config.clock != "wall":
            return assign(owners, alive)
        loads = {t: v for t, v in self.loads.items() if t in owners}
        inputs = (tuple(sorted(owners.items())), tuple(alive), tuple(sorted(loads.items())))
        if self._desired is None or self._desired[0] != inputs:
            self._desired = (inputs, assign_by_load(owners, alive, loads, owners))
        return self._desired[1]

    async def _cas(self, tile: str, owner: str, what: str) -> None:
        _, rev = self.owners.get(tile, ("", 0))
        try:
            new = await self.tiles_kv.update(tile, owner.encode(), last=rev)
        except nats.js.errors.KeyWrongLastSequenceError:
            self.counts[f"{what}_lost_race"] += 1
            return
        self.owners[tile] = (owner, new)
        self.counts[what] += 1
        logger.info("worker %s: tile %s %s (now %s)", self.me, tile, what, owner)

    # -- reading frames -------------------------------------------------------------------

    async def _resubscribe(self, mine: frozenset[str], *, catch_up: bool = True) -> None:
        """Read ``mine``, their halo and the passers' corridors: a new consumer from
        ``rebuild_s`` back (``catch_up``; stream clock: from the tick marker that long back)
        or from the message after the last one read; frames an earlier consumer already gave
        are skipped (``_read_before``)."""
        async with self._sub_lock:
            await self._replace_consumer(mine, catch_up=catch_up)

    async def _replace_consumer(self, mine: frozenset[str], *, catch_up: bool) -> None:
        assert self._js is not None
        reading = self._reading_keys(mine)
        by_stream = await self._filters_by_stream(reading, mine)
        old, old_pulls = self._consumer, self._pulls
        self._pulls, self._consumer = {}, None
        for pull in old_pulls.values():
            await pull.stop()
        if old is not None:
            for stream in old_pulls:
                await self._drop_consumer(stream, old)
        for stream, first in self._first_seq.items():
            epochs = self._epochs.setdefault(stream, deque(maxlen=_EPOCHS_KEPT))
            epochs.append((first, self._last_seq.get(stream, 0), self._reading))
        self._first_seq = {}
        now = time.time()
        taken = mine - self.owned
        if taken and self.clocks_kv is not None:
            task = asyncio.create_task(self._read_clocks(sorted(taken)))
            self._clock_reads.add(task)
            task.add_done_callback(self._clock_reads.discard)
        for tile in taken:
            self.claimed_at[tile] = now
        for tile in self.owned - mine:
            self.lost_at[tile] = now
        if by_stream and (mine or self.config.clock == "stream"):
            self._generation += 1
            name = f"wrk-{self.me}-{os.getpid()}-{self._generation}"
            for stream, subjects in sorted(by_stream.items()):
                await self._add_consumer(stream, name, subjects, now=now, catch_up=catch_up)
            streams = frozenset(by_stream)
            if self.config.clock == "stream":  # before any pull hands over a marker
                await self._set_tick_streams(streams)
            assert self._nc is not None
            for stream in sorted(by_stream):
                pull = ContinuousPull(
                    self._nc,
                    stream,
                    name,
                    self._handler(self._generation, stream, reading),
                    counts=self.counts,
                )
                await pull.start()
                self._pulls[stream] = pull
                self._streams_read.add(stream)
            self._consumer = name
        elif self.config.clock == "stream":
            await self._set_tick_streams(frozenset())
        self._reading = reading
        self.owned = frozenset(mine)

    async def _filters_by_stream(
        self, reading: frozenset[str], mine: frozenset[str] = frozenset()
    ) -> dict[str, list[str]]:
        """The consumer filters of ``reading`` by the stream that holds their frames:
        ``V2X_FRAMES``, or (``shard_zoom``) each key's shard stream that exists
        (``_stream_ready``); with the stream clock each stream's tick markers too (an idle
        stream-clocked worker, reading no frames, the first shard stream's). A shard mostly
        ``mine`` (``whole_shards``) is read through one filter, the shard's every frame."""
        tenant = backbone.token(self.config.tenant)
        zoom = self.config.shard_zoom
        stream_clock = self.config.clock == "stream"
        if zoom is None:
            subjects = [_filter(tenant, key) for key in sorted(reading)]
            if stream_clock:
                subjects.append(tick_subject(self.config.tenant))
            return {backbone.FRAMES: subjects} if subjects else {}
        by_shard: dict[str, list[str]] = {}
        for key in sorted(reading):
            by_shard.setdefault(key_shard(key, zoom), []).append(_filter(tenant, key, zoom))
        if stream_clock and not by_shard:  # idle: answer the ticks of one shard
            shards = [n[len(backbone.FRAMES_SHARD_PREFIX) :] for n in await self._frame_streams()]
            by_shard = {shard: [] for shard in shards[:1]}
        whole = whole_shards(mine, self.owners, zoom)
        out: dict[str, list[str]] = {}
        for shard, subjects in by_shard.items():
            stream = backbone.shard_stream(shard)
            if not await self._stream_ready(stream, shard):
                self.counts["shards_absent"] += 1
                continue
            if shard in whole:  # its tick markers too
                out[stream] = [f"v2x.{tenant}.{backbone.token(shard)}.>"]
                continue
            if stream_clock:
                subjects = [*subjects, tick_subject(self.config.tenant, shard)]
            out[stream] = subjects
        return out

    async def _stream_ready(self, stream: str, shard: str) -> bool:
        """Whether shard stream ``stream`` exists to be read. The wall clock creates a missing
        one (``backbone.shard_spec``; a gateway brings it to its own settings on its first
        frame), so no frame filed there later is missed; the stream clock reads only the
        streams its bench made (``sim.cluster.ClusterPlatform``), whose tick markers it
        waits for."""
        assert self._js is not None
        if stream in self._streams_known:
            return True
        try:
            await self._js.stream_info(stream)
        except nats.js.errors.NotFoundError:
            if self.config.clock == "stream":
                return False
            spec = backbone.shard_spec(shard, servers=self.config.servers)
            try:
                await ensure_streams(self._js, [spec])
                self.counts["shard_streams_created"] += 1
            except nats.js.errors.APIError:  # a gateway created it meanwhile
                await self._js.stream_info(stream)
        self._streams_known.add(stream)
        return True

    async def _frame_streams(self) -> list[str]:
        """The streams that hold frames: ``V2X_FRAMES``, or the shard streams that exist."""
        assert self._js is not None
        if self.config.shard_zoom is None:
            return [backbone.FRAMES]
        names = [
            info.config.name or ""
            for info in await self._js.streams_info()
            if (info.config.name or "").startswith(backbone.FRAMES_SHARD_PREFIX)
        ]
        self._streams_known.update(names)
        return sorted(names)

    async def _add_consumer(
        self, stream: str, name: str, subjects: list[str], *, now: float, catch_up: bool
    ) -> None:
        """The consumer ``name`` of ``subjects`` on ``stream``, from where this worker is in
        that stream (``_resubscribe``; sequences are the stream's own)."""
        assert self._js is not None
        last_seq = self._last_seq.get(stream, 0)
        start = datetime.datetime.fromtimestamp(now - self.config.rebuild_s, datetime.UTC)
        start_seq = last_seq + 1
        if self.config.clock == "wall":
            policy = DeliverPolicy.BY_START_TIME if catch_up else DeliverPolicy.BY_START_SEQUENCE
        else:
            # stream clock: on from the next message (no tick marker is skipped or replayed)
            policy = DeliverPolicy.NEW
            if self.config.from_start:  # a backlog published before (benchmark)
                policy = DeliverPolicy.ALL
            if last_seq:
                policy = DeliverPolicy.BY_START_SEQUENCE
                if catch_up:
                    start_seq = self._catch_up_seq(stream)
        if policy == DeliverPolicy.BY_START_SEQUENCE and not last_seq:
            policy = DeliverPolicy.BY_START_TIME  # nothing read yet: a live start
        config = ConsumerConfig(
            name=name,
            filter_subjects=subjects,
            ack_policy=AckPolicy.NONE,
            deliver_policy=policy,
            opt_start_time=start if policy == DeliverPolicy.BY_START_TIME else None,
            opt_start_seq=start_seq if policy == DeliverPolicy.BY_START_SEQUENCE else None,
            inactive_threshold=30.0,
            mem_storage=True,
            num_replicas=1,
        )
        await self._js.add_consumer(stream, config)

    def _handler(
        self, generation: int, stream: str, reading: frozenset[str]
    ) -> Callable[[PulledMsg], Coroutine[Any, Any, None]]:
        """The message handler of the pull of ``generation`` on ``stream``, whose consumer
        reads ``reading`` (a frame a shard read whole brings from elsewhere is dropped):
        once a newer consumer is on its way (``_switch``), the old pull's messages are left
        to it (it starts no later). A stream at the tick marker of a tick that waits for
        another stream's marker (stream clock, shards) holds its next message until the tick
        ran."""

        async def handle(msg: PulledMsg) -> None:
            while stream in self._at_marker and generation == self._generation:
                await self._tock.wait()
            if generation == self._generation:
                await self._on_message(msg, stream, reading)
            else:
                self.counts["left_to_next_consumer"] += 1

        return handle

    def _catch_up_seq(self, stream: str) -> int:
        """Stream clock: the first message of ``stream`` after its tick marker ``rebuild_s``
        before the last one read (the next message when no marker is that old)."""
        last_seq = self._last_seq.get(stream, 0)
        markers = self._markers.get(stream)
        if not markers:
            return last_seq + 1
        newest = markers[-1][0]
        since = newest - int(1000 * self.config.rebuild_s)
        for tick_ms, seq in markers:
            if tick_ms >= since:
                return seq
        return last_seq + 1

    def _read_before(self, stream: str, seq: int, tile: str, place: str) -> bool:
        """Whether an earlier consumer gave the frame ``seq`` of ``stream`` filed at
        ``place`` already."""
        if seq > self._last_seq.get(stream, 0):
            return False
        key = tile + "_" if place == tile else place
        for first, last, keys in self._epochs.get(stream, ()):
            if first <= seq <= last and (tile in keys or key in keys):
                return True
        return False

    def _reading_keys(self, mine: frozenset[str]) -> frozenset[str]:
        return reading_keys(self.tiling, self.config.reach, mine, self._demand)

    def _covered(self, key: str) -> bool:
        return reads(self._reading, key)

    def _update_demand(self, now_ms: int) -> None:
        """Read the corridor ahead of every passer read lately (``PASSER_HOLD_MS``): when a
        cell within ``Reaches.passing_m`` ahead of one is not read yet, a new consumer takes
        the corridors (``MOTION_MARGIN_M`` longer, so a moving passer does not need a new one
        every cell) caught up from ``rebuild_s`` back; cells no passer needed for
        ``DEMAND_KEEP_MS`` are let go."""
        cut = now_ms - PASSER_HOLD_MS
        self._passers = {k: v for k, v in self._passers.items() if v[3] >= cut}
        reach = self.config.reach.passing_m
        missing = False
        for lat, lon, heading, _ in self._passers.values():
            need = passing_keys(lat, lon, heading, reach)
            if all(self._covered(k) for k in need):
                for k in need & self._demand.keys():
                    self._demand[k] = now_ms
                continue
            missing = True
            for k in passing_keys(lat, lon, heading, reach + MOTION_MARGIN_M):
                self._demand[k] = now_ms
        stale = [k for k, t in self._demand.items() if now_ms - t > DEMAND_KEEP_MS]
        for k in stale:
            del self._demand[k]
        if missing or (stale and any(k in self._reading for k in stale)):
            self.counts["corridor_reads" if missing else "corridor_releases"] += 1
            self._switch(catch_up=missing)

    def _switch(self, *, catch_up: bool) -> None:
        """Replace the consumer in the background (this may run inside the current pull's
        own callback, which its stop would cancel): from now on the current pull's messages
        are left to the new consumer, which starts no later than the first of them."""
        self._generation += 1
        task = asyncio.create_task(self._resubscribe(self.owned, catch_up=catch_up))
        self._switches.add(task)
        task.add_done_callback(self._switched)

    def _switched(self, task: asyncio.Task[None]) -> None:
        self._switches.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._failed("corridor", task.exception() or RuntimeError("switch"))

    async def _drop_consumer(self, stream: str, name: str) -> None:
        assert self._js is not None
        try:
            await self._js.delete_consumer(stream, name)
        except Exception as exc:  # it expires after its inactive threshold anyway
            self._failed("delete_consumer", exc)

    async def _consume_loop(self, stop: asyncio.Event) -> None:
        """Keep the frames flowing: the pulls' requests renewed when the server went silent
        (``ContinuousPull.watch``); the frames themselves arrive on their subscriptions."""
        while not stop.is_set():
            for pull in list(self._pulls.values()):
                await pull.watch()
            await asyncio.sleep(0.25)

    async def _on_message(
        self, msg: PulledMsg, stream: str = backbone.FRAMES, reading: frozenset[str] | None = None
    ) -> None:
        """A message of ``stream``: a tick marker, or a frame, ingested when ``reading`` (its
        consumer's keys; ``None``: any) holds its place, else dropped (``frames_outside``: a
        shard read whole, ``whole_shards``)."""
        seq, stored_ns = stream_position(msg.reply)
        try:
            tile, place = backbone.frame_place(msg.subject, shard_zoom=self.config.shard_zoom)
        except ValueError as exc:
            self._bad_subject(msg, exc)
            return
        if stream not in self._first_seq:
            self._first_seq[stream] = seq
        last_seq = self._last_seq.get(stream, 0)
        if tile == CLOCK_TILE:
            if seq <= last_seq:
                return  # a marker a catch-up gives again: ticked already
            self._last_seq[stream] = seq
            tick_ms = self._marker_ms(msg)
            markers = self._markers.setdefault(stream, deque(maxlen=_MARKERS_KEPT))
            markers.append((tick_ms, seq))
            await self._at_tick_marker(msg, stream, tick_ms)
            return
        if self._read_before(stream, seq, tile, place):
            return  # an earlier consumer gave it already
        self._last_seq[stream] = max(last_seq, seq)
        if reading is not None and not reads(reading, place):
            self.counts["frames_outside"] += 1
            return
        try:
            frame, message_set, fmt = frame_of(msg.subject, msg.headers, msg.data)
        except GatewayError as exc:
            self.counts["bad_frames"] += 1
            logger.warning("worker %s: %s", self.me, exc)
            return
        self.counts["frames"] += 1
        # the ingest's CPU is sampled on one frame in INGEST_SAMPLE (a CPU clock read is a
        # system call: two per frame cost more than the decode's slowest field)
        timed = self.counts["frames"] % INGEST_SAMPLE == 0
        started = time.process_time() if timed else 0.0
        unit = self._unit_of(place)
        self._place_frames[place] += 1  # the units' measured load (``_measure_load``)
        if self._window_ns:
            self._window_ns[1] = stored_ns
        else:
            self._window_ns = [stored_ns, stored_ns]
        if fmt == "uper":
            self._ingest_uper(frame, message_set, unit)
        else:
            self._ingest_parsed(frame, message_set, fmt, unit)
        if timed:
            self.cpu_s["ingest"] += INGEST_SAMPLE * (time.process_time() - started)

    def _bad_subject(self, msg: PulledMsg, exc: ValueError) -> None:
        """A message whose subject is not of the contract (a frame without a valid shard
        token): counted ``bad_subjects``, logged and dead-lettered (``unknown_topic``)."""
        self.counts["bad_subjects"] += 1
        logger.warning("worker %s: %s", self.me, exc)
        try:
            source, received_ms = backbone.frame_source(
                (msg.headers or {}).get(backbone.HEADER_MSG_ID, "")
            )
        except ValueError:
            source, received_ms = "", 0
        self.runtime.dead_letter(
            DeadLetter(
                raw=msg.data,
                source=source,
                received_at_ms=received_ms,
                reason=DropReason.UNKNOWN_TOPIC,
                detail=str(exc),
                where=msg.subject,
            )
        )

    async def _at_tick_marker(self, msg: PulledMsg, stream: str, tick_ms: int) -> None:
        """A stream's tick marker: the tick runs once every stream it waits for
        (``_tick_streams``: each shard read) is at its marker; until then this stream's
        reading holds (``_handler``), the others' goes on up to their markers."""
        if HEADER_TICK_MS not in (msg.headers or {}) or stream not in self._tick_streams:
            await self._on_tick_marker(msg)  # a bad marker is counted there
            return
        if self.config.shard_zoom is not None and tick_ms <= self._ticked_ms:
            self.counts["late_markers"] += 1  # a stream read since: that tick ran already
            return
        self._at_marker[stream] = tick_ms
        if self._tick_streams <= self._at_marker.keys():
            await self._run_marked_ticks()

    async def _run_marked_ticks(self) -> None:
        """Every stream is at a marker: the tick of each distinct marker, in order (one,
        unless a stream missed a marker), then the streams' readings go on."""
        due = sorted(set(self._at_marker.values()))
        if len(due) > 1:
            self.counts["marker_mismatch"] += 1
        self._at_marker = {}
        try:
            for tick_ms in due:
                await self._tick_at(tick_ms)
        finally:
            tock, self._tock = self._tock, asyncio.Event()
            tock.set()

    async def _set_tick_streams(self, streams: frozenset[str]) -> None:
        """Stream clock: the streams a tick waits for are now ``streams``; a tick that only
        waited for streams no longer read runs."""
        self._tick_streams = streams
        self._at_marker = {s: t for s, t in self._at_marker.items() if s in streams}
        if self._at_marker and streams <= self._at_marker.keys():
            await self._run_marked_ticks()
            return
        tock, self._tock = self._tock, asyncio.Event()
        tock.set()  # the readings of other generations let go

    def _ingest_uper(self, frame: Any, message_set: str, tile: str) -> None:
        """Decode once, note where the frame placed its participants, hand it to the scene
        (an undecodable frame goes through ``ingest_frame``, which dead-letters it)."""
        mset = self._message_sets.get(message_set)
        if mset is None:  # a few names at most: the known sets (an unknown one raises)
            mset = self._message_sets[message_set] = message_set_of(message_set)
        result = decode(
            frame.payload, message_set=mset, received_at_ms=frame.received_at_ms,
            area=self.runtime.area,
        )  # fmt: skip
        if isinstance(result, Rejected):
            self.runtime.ingest_frame(
                frame.payload,
                source=frame.device_id,
                received_at_ms=frame.received_at_ms,
                message_set=mset,
                kind=frame.device_kind.value,
            )
            return
        model = result.to_model()
        if self.runtime.ingest(
            model, received_at_ms=frame.received_at_ms, source=frame.device_id, raw=result.raw
        ):
            self._note_reports(model, tile, frame.received_at_ms)

    def _marker_ms(self, msg: PulledMsg) -> int:
        try:
            return int((msg.headers or {})[HEADER_TICK_MS])
        except (KeyError, ValueError):
            return 0  # counted as a bad tick by _on_tick_marker

    def _note_reports(self, model: Any, tile: str, received_at_ms: int) -> None:
        """Remember the tile of the frame that last reported each participant: its own report
        (a BSM's participant) always; a perception report (an RSM's participants) only of a
        participant without an own report in the last ``OWN_REPORT_HOLD_MS``. Every worker
        reading the ego's frames sees them in the same stream order, so all place it alike."""
        own = getattr(model, "participant", None)
        if own is not None:
            self._placed[own.id] = (tile, True, received_at_ms)
            if is_passer(own, self.config.reach):
                self._passers[own.id] = (own.lat_deg, own.lon_deg, own.heading_deg, received_at_ms)
        for seen in getattr(model, "participants", ()) or ():
            before = self._placed.get(seen.id)
            if before is None or not before[1] or received_at_ms - before[2] > OWN_REPORT_HOLD_MS:
                self._placed[seen.id] = (tile, False, received_at_ms)

    def _forget_placements(self, now_ms: int) -> None:
        """Drop the placements of participants not reported for ``PLACEMENT_KEEP_MS`` (the
        table stays bounded by the road users of the last seconds)."""
        cut = now_ms - PLACEMENT_KEEP_MS
        self._placed = {k: v for k, v in self._placed.items() if v[2] >= cut}

    def _ingest_parsed(self, frame: Any, message_set: str, fmt: str, tile: str) -> None:
        device = Device(
            device_id=frame.device_id,
            kind=DeviceKind(frame.device_kind),
            message_set=message_set,
            shape="" if fmt == "auto" else fmt,
        )
        parsed = parse_with_drivers(frame, device)
        if not isinstance(parsed, Sequence):
            self.runtime.dead_letter(parsed)
            return
        for model in parsed:
            if self.runtime.ingest(
                model, received_at_ms=frame.received_at_ms, source=frame.device_id
            ):
                self._note_reports(model, tile, frame.received_at_ms)

    # -- ticking and issuing --------------------------------------------------------------

    async def _tick_loop(self, stop: asyncio.Event) -> None:
        period = self.config.tick_ms / 1000.0
        next_at = time.monotonic()
        while not stop.is_set():
            next_at += period
            now_ms = int(time.time() * 1000)
            await self._tick(now_ms)
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def _on_tick_marker(self, msg: PulledMsg) -> None:
        try:
            now_ms = int((msg.headers or {})[HEADER_TICK_MS])
        except (KeyError, ValueError) as exc:
            self.counts["bad_ticks"] += 1
            logger.warning("worker %s: tick marker without %s: %s", self.me, HEADER_TICK_MS, exc)
            return
        await self._tick_at(now_ms)

    async def _tick_at(self, now_ms: int) -> None:
        """The tick of a tick marker (stream clock), answered."""
        self._ticked_ms = max(self._ticked_ms, now_ms)
        owners = {t: o for t, (o, _) in self.owners.items()}
        if owners and all(owners.values()):
            self._held = True  # the bench's assignment is settled: held for the run
        await self._tick(now_ms, answer=True)

    async def _tick(self, now_ms: int, *, answer: bool = False) -> None:
        """One tick: run the runtime and pick what to issue (``_issue``); the publishing runs
        in the background (``_send``), so the frames keep being read meanwhile. ``answer``:
        say ``wrk.{tenant}.ticked`` (with how many advisories were published) once sent."""
        started = time.process_time()
        if self._adopting:
            self._adopt_clocks(now_ms)
        advisories = self.runtime.tick(now_ms)
        ticked = time.process_time()
        self.cpu_s["tick"] += ticked - started
        mine, fresh = self._issue(advisories, now_ms)
        events = self._event_sends(now_ms) if self.runtime.events.round_ms == now_ms else []
        if self._dead:
            events += self._dead_sends()
        if self._flagged:
            events += self._flag_sends()
        events += self._live_sends(now_ms)
        self.cpu_s["issue"] += time.process_time() - ticked
        previous = self._sending[-1] if self._sending else None
        task = asyncio.create_task(self._send(mine, fresh, events, now_ms, answer, previous))
        self._sending.append(task)
        while self._sending and self._sending[0].done():
            self._sending.popleft()
        if len(self._sending) > TICKS_IN_FLIGHT:  # the server is slower than the ticks
            self.counts["issue_waits"] += 1
            await asyncio.wait({self._sending[0]})
        if self.owned and (self._passers or self._demand):
            self._update_demand(now_ms)

    def _issue(
        self, advisories: list[Advisory], now_ms: int
    ) -> tuple[list[tuple[str, Advisory]], list[tuple[str, Advisory]]]:
        """``(mine, fresh)``: the advisories of egos in the owned tiles, and those of them
        that are new warnings; nothing while fenced or without tiles."""
        self.counts["ticks"] += 1
        if self.counts["ticks"] % 50 == 0:
            self._forget_placements(now_ms)
        if self.fenced() or not self.owned:
            self.counts["ticks_fenced"] += int(self.fenced())
            if self._issuing_since:  # a silence begins: nothing issued, no episode marked
                self._silent_from_ms = now_ms
                self._issuing_since.clear()
            return [], []
        self._note_issuing(now_ms)
        mine = self._mine(advisories)
        return mine, self._fresh(mine, now_ms)

    async def _send(
        self,
        mine: list[tuple[str, Advisory]],
        fresh: list[tuple[str, Advisory]],
        events: list[Awaitable[Any]],
        now_ms: int,
        answer: bool,
        previous: asyncio.Task[None] | None,
    ) -> None:
        """Publish a tick's advisories and its detection round's events and RSI
        (``_event_sends``) together (their PubAcks awaited at once, each with its
        ``Nats-Msg-Id``); after the previous tick's episode writes, its new warnings (each
        checked against the episodes bucket), then the episode marks; then the answer. The
        episode writes of successive ticks stay in order (a level change right after a new
        warning must find the warning's entry)."""
        try:
            acks = asyncio.ensure_future(self._publish_advisories(mine))
            reported = asyncio.gather(*events, return_exceptions=True)
            if previous is not None:
                await asyncio.wait({previous})
            await self._warn_all(fresh)
            await self._touch_episodes(mine)
            for result in await reported:
                if isinstance(result, BaseException):
                    self._failed("publish_event", result)
            published = await acks
            if answer:
                assert self._nc is not None
                body = json.dumps({"worker": self.me, "tick_ms": now_ms, "count": published})
                await self._nc.publish(ticked_subject(self.config.tenant), body.encode())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next tick sends again
            self._failed("send", exc)

    def _note_issuing(self, now_ms: int) -> None:
        """Per owned tile, since when this worker issues for it without a break, and how long
        its own silence before that was (a fence; 0 for a tile just taken over)."""
        silence = 0 if self._silent_from_ms is None else now_ms - self._silent_from_ms
        self._silent_from_ms = None
        for tile in self.owned:
            if tile not in self._issuing_since:
                self._issuing_since[tile] = (now_ms, max(0, silence))
        for tile in [t for t in self._issuing_since if t not in self.owned]:
            del self._issuing_since[tile]

    def _mine(self, advisories: list[Advisory]) -> list[tuple[str, Advisory]]:
        """The advisories whose ego is in an owned tile: the tile of the frame that last
        reported the ego (``_note_reports``), not a position from this worker's scene (two
        scenes can extrapolate or fuse one ego differently near a border: both would issue)."""
        out = []
        for adv in advisories:
            placed = self._placed.get(adv.ego_id)
            if placed is None:
                self.counts["ego_unplaced"] += 1
                continue
            tile = placed[0]
            if tile in self.owned:
                out.append((tile, adv))
            else:
                self.counts["not_mine"] += 1
        return out

    def _fresh(self, mine: list[tuple[str, Advisory]], now_ms: int) -> list[tuple[str, Advisory]]:
        """The advisories that are not a refresh of one in force at the same level."""
        if self.counts["ticks"] % 10 == 0:
            self._active = {k: a for k, a in self._active.items() if a.expires_ms > now_ms}
        out = []
        for tile, adv in mine:
            key = (adv.app, adv.ego_id, adv.other_id)
            before = self._active.get(key)
            self._active[key] = adv
            if before is None or before.expires_ms <= now_ms or before.level != adv.level:
                out.append((tile, adv))
        return out

    async def _publish_advisories(self, mine: list[tuple[str, Advisory]]) -> int:
        """Publish a tick's advisories together (``PubAcks``: one batch, one timeout), each
        with its ``Nats-Msg-Id``; how many the stream acknowledged."""
        assert self._pub_acks is not None
        tenant = self.config.tenant
        results = await self._pub_acks.publish_all(
            [
                (
                    backbone.advisory_subject(tenant, tile, adv.app),
                    _ADV_ENCODER.encode(adv),
                    {backbone.HEADER_MSG_ID: advisory_msg_id(tenant, adv), "V2X-Worker": self.me},
                )
                for tile, adv in mine
            ]
        )
        published = 0
        for ack in results:
            if isinstance(ack, BaseException):
                self._failed("publish_advisory", ack)
                continue
            published += 1
            self.counts["advisories"] += 1
            if ack.duplicate:
                self.counts["duplicates"] += 1
        return published

    async def _warn_all(self, fresh: list[tuple[str, Advisory]]) -> None:
        """Deliver each new warning unless the episodes bucket says its episode was already
        warned at this level (by this worker's predecessor on the tile): the episodes'
        entries created together (a create is a put expecting no earlier revision), those
        that exist already judged one by one (``_known_episode``), the warnings delivered
        together (``PubAcks``)."""
        if not fresh:
            return
        assert self._pub_acks is not None
        tenant = self.config.tenant
        keyed = []
        for tile, adv in fresh:
            body = json.dumps({"level": int(adv.level), "ms": adv.issued_ms}).encode()
            keyed.append((tile, adv, episode_key(tenant, adv), body))
        created = await self._pub_acks.publish_all(
            [(kv_subject(EPISODES_BUCKET, key), body, _CREATE) for _, _, key, body in keyed]
        )
        existing = [k for k, r in zip(keyed, created, strict=True) if _exists(r)]
        known = await asyncio.gather(
            *[self._known_episode(tile, adv, key, body) for tile, adv, key, body in existing],
            return_exceptions=True,
        )
        skip = set()
        for (_, _, key, _), was_warned in zip(existing, known, strict=True):
            if isinstance(was_warned, BaseException):
                self._failed("warn", was_warned)
                skip.add(key)
            elif was_warned:
                skip.add(key)
        for result in created:
            if isinstance(result, BaseException) and not _exists(result):
                self._failed("episodes", result)  # the bucket unreachable: warn (twice > never)
        warnings = [(tile, adv, key) for tile, adv, key, _ in keyed if key not in skip]
        now = time.monotonic()
        for _, _, key in warnings:
            self._episode_touched[key] = now
        delivered = await self._pub_acks.publish_all(
            [
                (
                    backbone.delivery_subject(tenant, tile, backbone.CHANNEL_WARNING),
                    _ADV_ENCODER.encode(adv),
                    {backbone.HEADER_MSG_ID: f"warn:{key}:{int(adv.level)}:{adv.issued_ms}"},
                )
                for tile, adv, key in warnings
            ]
        )
        for result in delivered:
            if isinstance(result, BaseException):
                self._failed("warn", result)
            else:
                self.counts["warnings"] += 1

    async def _known_episode(self, tile: str, adv: Advisory, key: str, body: bytes) -> bool:
        """Whether the episode of ``adv``, whose entry exists, was warned at this level
        recently (counted ``warnings_continued``: not warned again); else its entry is
        updated to this warning (compare-and-set: when another worker updated it just now,
        that worker warned)."""
        try:
            entry = await self.episodes_kv.get(key)
            known = json.loads(entry.value or b"{}")
            gap_ms = self._episode_gap_ms(tile, adv.issued_ms)
            recent = adv.issued_ms - int(known.get("ms", 0)) <= gap_ms
            if known.get("level") == int(adv.level) and recent:
                self.counts["warnings_continued"] += 1
                return True
            await self.episodes_kv.update(key, body, last=entry.revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            self.counts["warnings_continued"] += 1  # another worker warned just now
            return True
        except Exception as exc:  # the bucket unreachable: warn (better twice than never)
            self._failed("episodes", exc)
        return False

    def _episode_gap_ms(self, tile: str, issued_ms: int) -> int:
        """How long an episode may have gone unmarked and still be the one warned about:
        ``episode_gap_ms`` plus the marks' lag (wall clock); on a tile this (wall-clocked) worker has only just begun or resumed
        issuing for, plus the silence before: its predecessor's (it marked the episode up to
        ``EPISODE_TOUCH_S`` before it died, its lease lapsed after ``lease_ttl_s``, a balance
        round or two passed, the new scene was rebuilt over ``rebuild_s``) or its own (a
        fence while it could not renew its lease), all without anyone marking the episode."""
        cfg = self.config
        gap = cfg.episode_gap_ms
        if cfg.clock != "wall":
            return gap
        # the mark lags the last advisory by up to EPISODE_TOUCH_S, and a worker stalled for
        # less than its lease (not fenced, so not measured) adds that stall
        gap += int(1000 * (EPISODE_TOUCH_S + cfg.lease_ttl_s))
        since = self._issuing_since.get(tile)
        if since is None:
            return gap
        start_ms, own_silence_ms = since
        takeover = int(
            1000 * (EPISODE_TOUCH_S + cfg.lease_ttl_s + 2 * cfg.heartbeat_s + cfg.rebuild_s)
        )
        allowance = takeover + own_silence_ms
        if issued_ms - start_ms <= gap + allowance:
            gap += allowance
        return gap

    async def _touch_episodes(self, mine: list[tuple[str, Advisory]]) -> None:
        """Keep the episodes this worker is issuing marked recent (once a second each; the
        marks of a tick written together)."""
        now = time.monotonic()
        puts = []
        for _, adv in mine:
            key = episode_key(self.config.tenant, adv)
            if now - self._episode_touched.get(key, 0.0) < EPISODE_TOUCH_S:
                continue
            self._episode_touched[key] = now
            body = json.dumps({"level": int(adv.level), "ms": adv.issued_ms}).encode()
            puts.append((kv_subject(EPISODES_BUCKET, key), body, None))
        assert self._pub_acks is not None
        for result in await self._pub_acks.publish_all(puts):
            if isinstance(result, BaseException):  # the next touch retries
                self._failed("episodes", result)
        if len(self._episode_touched) > 10_000:
            self._episode_touched = {
                k: t for k, t in self._episode_touched.items() if now - t < 10.0
            }

    # -- misbehaviour -----------------------------------------------------------------------

    def _flag_sends(self) -> list[Awaitable[Any]]:
        """The publications of this worker's new misbehaviour reports of senders placed in
        its own tiles (held, at most 1,000, while it is fenced)."""
        if self.fenced():
            del self._flagged[:-1000]
            return []
        reports, self._flagged = self._flagged, []
        sends: list[Awaitable[Any]] = []
        for report in reports:
            placed = self._placed.get(report.sender_id)
            if placed is None or placed[0] not in self.owned:
                self.counts["flags_not_mine"] += 1
                continue
            sends.append(
                self._publish(
                    backbone.misbehaviour_subject(self.config.tenant, placed[0]),
                    _ADV_ENCODER.encode(report),
                    {
                        backbone.HEADER_MSG_ID: f"mbr:{report.sender_id}:{report.flagged_at_ms}",
                        "V2X-Worker": self.me,
                    },
                    "flags",
                )
            )
        return sends

    async def _flags_loop(self, stop: asyncio.Event) -> None:
        """Take in every flag published on ``V2X_MISBEHAVIOUR`` (the stream's whole window:
        a flag older than its TTL expires at its first use)."""
        assert self._js is not None and self.screen is not None
        decoder = msgspec.json.Decoder(MisbehaviourReport)
        subject = f"mbr.{backbone.token(self.config.tenant)}.>"
        sub = None
        while not stop.is_set():
            try:
                if sub is None:
                    sub = await self._js.pull_subscribe(
                        subject,
                        stream=backbone.MISBEHAVIOUR,
                        config=ConsumerConfig(
                            ack_policy=AckPolicy.NONE,
                            deliver_policy=DeliverPolicy.ALL,
                            inactive_threshold=30.0,
                            mem_storage=True,
                            num_replicas=1,
                        ),
                    )
                msgs = await sub.fetch(batch=64, timeout=0.5)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a server failing over: subscribe again
                self._failed("flags", exc)
                sub = None
                await asyncio.sleep(0.2)
                continue
            for msg in msgs:
                try:
                    report = decoder.decode(msg.data)
                except msgspec.DecodeError as exc:
                    self.counts["bad_flags"] += 1
                    logger.warning("worker %s: flag on %s: %s", self.me, msg.subject, exc)
                    continue
                self.screen.flag(report, report.flagged_at_ms)

    # -- road events ----------------------------------------------------------------------

    def _event_tile(self, key: str, event: Any) -> str | None:
        """The tile that owns an event: the tile of the frame that last reported its vehicle
        (``key`` a participant id), else the tile of the event's position."""
        placed = self._placed.get(key)
        if placed is not None:
            return placed[0]
        if event.lat_deg is None or event.lon_deg is None:
            return None
        return self._unit_of(cell_of(event.lat_deg, event.lon_deg))

    def _event_sends(self, now_ms: int) -> list[Awaitable[Any]]:
        """The publications of this detection round's events of owned tiles
        (``LOCAL_EVENT_KINDS``) and of the RSI deliveries they call for (see the module
        docstring), taken from the runtime now, awaited by ``_send`` in the background."""
        if self.fenced() or not self.owned:
            return []
        tenant = self.config.tenant
        active = []
        identity: dict[str, tuple[str, str]] = {}  # delivery key -> (tile, identity)
        sends: list[Awaitable[Any]] = []
        for key, event in self.runtime.events.round:
            kind = event.kind or ""
            if kind not in LOCAL_EVENT_KINDS:
                continue
            tile = self._event_tile(key, event)
            if tile is None or tile not in self.owned:
                self.counts["events_not_mine"] += 1
                continue
            digest = event_digest(tenant, kind, key)
            identity[f"event|{event.source}|{kind}|{event.event_id}"] = (tile, digest)
            if event.end_ms is None or event.end_ms > now_ms:
                active.append(event)
            sends.append(
                self._publish(
                    backbone.event_subject(tenant, tile, kind),
                    _ADV_ENCODER.encode(event),
                    {
                        backbone.HEADER_MSG_ID: event_msg_id(tenant, kind, key, now_ms),
                        backbone.HEADER_EVENT: digest,
                        "V2X-Worker": self.me,
                    },
                    "events",
                )
            )
        self._event_tiles.update(identity)
        sends.extend(self._publish_traffic(now_ms))
        view = self.runtime.view
        deliveries: list[Delivery] = []
        if view is not None:
            deliveries = self._event_out.events(active, view, now_ms)
        deliveries += self._event_out.expire(now_ms)
        for d in deliveries:
            sends.append(self._publish_rsi(d, now_ms))
        sends.extend(self._write_clocks(now_ms))  # after the RSI: it names what went out
        if len(self._event_tiles) > _EVENT_TILES_MAX:  # keys the disseminator forgot
            self._event_tiles = {k: v for k, v in self._event_tiles.items() if k in self._event_out}
        return sends

    def _keep_dead(self, letters: Sequence[DeadLetter]) -> None:
        """The runtime's dead-letter sink: kept for the tick's publications (bounded: past
        ``DEAD_LETTERS_WAITING`` the oldest go, counted ``dead_letters_lost``)."""
        lost = max(0, len(self._dead) + len(letters) - DEAD_LETTERS_WAITING)
        if lost:
            self.counts["dead_letters_lost"] += lost
        self._dead.extend(letters)

    def _dead_sends(self) -> list[Awaitable[Any]]:
        """The dead letters of the inputs this worker dropped, on ``dead.{tenant}.{reason}``
        (``gateways.nats.dead_letter_outgoing``: one per input and reason, however many
        workers read it), for the centre tier's view of every worker."""
        sends: list[Awaitable[Any]] = []
        while self._dead:
            out = dead_letter_outgoing(self._dead.popleft(), self.config.tenant)
            sends.append(self._publish(out.subject, out.payload, out.headers, "dead_letters"))
        return sends

    def _handing_over(self) -> list[Any]:
        """The runtime's event detectors that hand their clocks over (``handover``/``adopt``)."""
        return [d for d in self.runtime.events.detectors if hasattr(d, "handover")]

    def _write_clocks(self, now_ms: int) -> list[Awaitable[Any]]:
        """Every ``CLOCKS_EVERY_MS``: each owned tile's ``backbone.DetectorClocks`` (the road
        users placed in it, and its events whose RSI went out) to the clocks bucket; a tile
        with none is written (empty) once. A tile whose announced events changed is written at
        once, so that a successor never announces anew an event this worker announced."""
        if self.clocks_kv is None:
            return []
        last = self._clocks_at_ms
        placed: dict[str, set[str]] = {tile: set() for tile in self.owned}
        keys_of: dict[str, list[str]] = {}  # tile -> its events' keys whose RSI went out
        for key, (tile, _) in self._event_tiles.items():
            if tile in placed and key in self._event_out:
                keys_of.setdefault(tile, []).append(key)
        announced = {tile: tuple(sorted(keys)) for tile, keys in keys_of.items()}
        written = self._announced_written
        if last is not None and now_ms - last < CLOCKS_EVERY_MS:
            tiles = {t for t in placed if announced.get(t, ()) != written.get(t, ())}
            if not tiles:
                return []
        else:
            self._clocks_at_ms = now_ms
            tiles = set(placed)
        for pid, (tile, _, _) in self._placed.items():
            if tile in tiles:
                placed[tile].add(pid)
        detectors = self._handing_over()
        # the detectors' clocks are as of their last round, not this tick: a successor steps
        # them on from then (``StoppedVehicleDetector.adopt``)
        round_ms = self.runtime.events.round_ms
        at_ms = now_ms if round_ms is None else min(round_ms, now_ms)
        writes: list[Awaitable[Any]] = []
        for tile in sorted(tiles):
            ids = placed[tile]
            clocks = {}
            for detector in detectors:
                held = detector.handover(ids) if ids else {}
                if held:
                    clocks[str(detector.kind)] = held
            keys = announced.get(tile, ())
            written[tile] = keys
            if not clocks and not keys and tile not in self._clock_tiles:
                continue
            if clocks or keys:
                self._clock_tiles.add(tile)
            else:
                self._clock_tiles.discard(tile)
            body = backbone.DetectorClocks(
                tile=tile, at_ms=at_ms, worker=self.me, clocks=clocks, announced=keys
            )
            writes.append(self._put_clocks(tile, _ADV_ENCODER.encode(body)))
        self._clock_tiles &= self.owned
        self._announced_written = {t: k for t, k in written.items() if t in self.owned}
        return writes

    async def _put_clocks(self, tile: str, body: bytes) -> None:
        assert self.clocks_kv is not None
        await self.clocks_kv.put(backbone.clocks_key(self.config.tenant, tile), body)
        self.counts["clocks_written"] += 1

    async def _read_clocks(self, tiles: list[str]) -> None:
        """The clocks the previous owners of ``tiles`` wrote, for the next tick to adopt."""
        assert self.clocks_kv is not None
        for tile in tiles:
            try:
                entry = await self.clocks_kv.get(backbone.clocks_key(self.config.tenant, tile))
                if entry.value:
                    self._adopting.append((_CLOCKS.decode(entry.value), None))
            except nats.js.errors.KeyNotFoundError:
                self.counts["clocks_none"] += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the event then starts again, as without clocks
                self._failed("read_clocks", exc)

    def _adopt_clocks(self, now_ms: int) -> None:
        """Hand the clocks read on a takeover to the detectors (before the runtime's tick),
        each road user's once its frames are in the scene: a detector drops at its next round
        the clock of a road user its view lacks, and the entry may be read before the tile's
        rebuilt frames. Clocks whose road user is not read within ``ADOPT_WAIT_MS`` are given
        up (counted ``clocks_unplaced``: it left the tile before the takeover)."""
        detectors = {str(d.kind): d for d in self._handing_over()}
        waiting: list[tuple[backbone.DetectorClocks, int | None]] = []
        # its own earlier clocks too (a restarted worker lost them): the longer clock wins
        for snapshot, since_ms in self._adopting:
            if since_ms is None and snapshot.announced:  # first sight: its events go on
                self.counts["events_continued"] += self._event_out.continue_announced(
                    snapshot.announced, now_ms
                )
            since_ms = now_ms if since_ms is None else since_ms
            rest: dict[str, dict[str, int]] = {}
            for kind, clocks in snapshot.clocks.items():
                detector = detectors.get(kind)
                if detector is None:
                    continue
                ready = {pid: ms for pid, ms in clocks.items() if pid in self._placed}
                if ready:
                    self.counts["clocks_adopted"] += detector.adopt(ready, snapshot.at_ms)
                if len(ready) < len(clocks):
                    rest[kind] = {pid: ms for pid, ms in clocks.items() if pid not in ready}
            if rest and now_ms - since_ms < ADOPT_WAIT_MS:
                waiting.append((msgspec.structs.replace(snapshot, clocks=rest), since_ms))
            elif rest:
                self.counts["clocks_unplaced"] += sum(len(c) for c in rest.values())
        self._adopting = waiting

    def _publish_traffic(self, now_ms: int) -> list[Any]:
        """Each owned tile's ``backbone.TileTraffic`` of this round (for the centre's corridor
        detectors, ``runtime.corridor.tile_traffic``); one message per owned tile, even empty."""
        samples = round_samples(self.runtime)
        if samples is None:
            return []

        def placed(pid: str) -> str | None:
            where = self._placed.get(pid)
            return None if where is None else where[0]

        by_tile = tile_traffic(
            samples,
            self.owned,
            vehicle_tile=placed,
            tiling=self.tiling,
            lane_tile=lambda lat, lon: self._unit_of(cell_of(lat, lon)),
        )
        tenant = self.config.tenant
        return [
            self._publish(
                backbone.traffic_subject(tenant, tile),
                _ADV_ENCODER.encode(
                    backbone.TileTraffic(
                        tile=tile, round_ms=now_ms, worker=self.me, lanes=tuple(lanes)
                    )
                ),
                {backbone.HEADER_MSG_ID: f"trf:{tenant}:{tile}:{now_ms // 1000}"},
                "traffic",
            )
            for tile, lanes in sorted(by_tile.items())
        ]

    def _live_sends(self, now_ms: int) -> list[Awaitable[Any]]:
        """Every ``live_period_ms``: each owned tile's ``backbone.TileSnapshot`` of the road
        users placed in it (not while fenced: the tiles may be another's by now)."""
        period = self.config.live_period_ms
        last = self._live_at_ms
        view = self.runtime.view
        if period <= 0 or view is None or self.fenced() or not self.owned:
            return []
        if last is not None and 0 <= now_ms - last < period:
            return []  # (a clock that went back, a bench's new run, sends at once)
        self._live_at_ms = now_ms
        by_tile: dict[str, list[Any]] = {tile: [] for tile in self.owned}
        for row, pid in enumerate(view.ids):
            placed = self._placed.get(pid)
            if placed is not None and placed[0] in by_tile:
                by_tile[placed[0]].append(view.state(row))
        tenant = self.config.tenant
        return [
            self._send_live(
                backbone.live_subject(tenant, tile),
                _ADV_ENCODER.encode(
                    backbone.TileSnapshot(
                        tile=tile, at_ms=now_ms, worker=self.me, participants=tuple(states)
                    )
                ),
            )
            for tile, states in sorted(by_tile.items())
        ]

    async def _send_live(self, subject: str, data: bytes) -> None:
        """One snapshot on core NATS (no PubAck: the next one supersedes it); a failure (a
        snapshot over the server's max_payload, a connection gone) is counted and logged."""
        assert self._nc is not None
        try:
            await self._nc.publish(subject, data)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed("live", exc)
            return
        self.counts["live_snapshots"] += 1

    def _publish_rsi(self, delivery: Delivery, now_ms: int) -> Any:
        """The RSI delivery of one event on ``dlv.{tenant}.{tile}.rsi``."""
        event = delivery.payload
        assert not isinstance(event, Advisory)
        tile, digest = self._event_tiles.get(delivery.key, ("", ""))
        if delivery.reason == "expired":
            self._event_tiles.pop(delivery.key, None)
        if not tile:  # never reported by this worker (cannot happen: counted if it does)
            self.counts["rsi_without_tile"] += 1
            return asyncio.sleep(0)
        body = backbone_rsi(
            delivery,
            event,
            sender=f"edge:{tile}",  # rteId is unique per sender: the tile's
            identity=digest,
            message_set=self.runtime.message_set,
            ref=self.config.origin,
            failures=self.runtime.failures,
        )
        msg_id = f"rsi:{delivery.reason}:{digest}:{now_ms // 1000}"
        return self._publish(
            backbone.delivery_subject(self.config.tenant, tile, backbone.CHANNEL_RSI),
            _ADV_ENCODER.encode(body),
            {backbone.HEADER_MSG_ID: msg_id, backbone.HEADER_EVENT: digest, "V2X-Worker": self.me},
            f"rsi_{delivery.reason}",
        )

    async def _publish(self, subject: str, data: bytes, headers: dict[str, str], what: str) -> None:
        assert self._js is not None
        ack = await self._js.publish(subject, data, headers=headers)
        self.counts[what] += 1
        if ack.duplicate:
            self.counts[f"{what}_duplicates"] += 1

    def _failed(self, what: str, exc: BaseException) -> None:
        self.counts[f"errors:{what}"] += 1
        logger.warning("worker %s: %s failed: %s: %s", self.me, what, type(exc).__name__, exc)

    def stats(self) -> dict[str, Any]:
        """Counters, owned tiles and the runtime's stats."""
        return {
            "worker": self.me,
            "owned": sorted(self.owned),
            "reading": sorted(self._reading),
            "frame_streams": sorted(self._streams_read),
            "counts": dict(self.counts),
            "load": dict(self.load_out),
            "cpu_s": {k: round(v, 3) for k, v in self.cpu_s.items()},
            "dead_letters": {str(k): v for k, v in self.runtime.stats()["dead_letters"].items()},
            "misbehaviour": {} if self.screen is None else dict(self.screen.stats()),
        }


class WorkerProcess:
    """A ``v2xcloud worker`` subprocess (for ``cluster up``, the bench and tests): started with
    ``start()``, stopped by pid with ``stop()`` (SIGTERM, then SIGKILL after ``grace_s``) or
    killed outright with ``kill()``; its stderr (logs and final counters) in ``log_path``."""

    def __init__(
        self,
        *,
        urls: Sequence[str],
        worker_id: str,
        origin: tuple[float, float],
        clock: str = "wall",
        servers: int = 1,
        tenant: str = "default",
        message_set: str = "csae2020",
        log_path: str | None = None,
        extra: Sequence[str] = (),
        shard_zoom: int | None = None,
    ) -> None:
        self.worker_id = worker_id
        if shard_zoom is not None:
            extra = ["--shard-zoom", str(shard_zoom), *extra]
        self.argv = [
            sys.executable,
            "-m",
            "v2xcloud",
            "worker",
            "--nats",
            ",".join(urls),
            "--id",
            worker_id,
            "--origin",
            f"{origin[0]},{origin[1]}",
            "--clock",
            clock,
            "--servers",
            str(servers),
            "--tenant",
            tenant,
            "--message-set",
            message_set,
            *extra,
        ]
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        """Launch the process (its stderr to ``log_path`` or discarded)."""
        err = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=err)
        finally:
            if self.log_path:
                err.close()  # type: ignore[union-attr]
        return self

    @property
    def pid(self) -> int | None:
        """The running process id, or None."""
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def kill(self) -> None:
        """SIGKILL: a crash (no clean leave)."""
        processes.stop(self.proc, signal.SIGKILL, name=f"worker {self.worker_id}")

    def stop(self, *, grace_s: float = 10.0) -> None:
        """SIGTERM (a clean leave), SIGKILL after ``grace_s``; safe twice."""
        processes.stop(self.proc, grace_s=grace_s, name=f"worker {self.worker_id}")
