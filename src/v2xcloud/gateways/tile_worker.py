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

Time: ``clock="wall"`` ticks every ``tick_ms`` on the wall clock (a deployment);
``clock="stream"`` ticks when a tick marker (``v2x.{tenant}.clock.tick``, header
``V2X-Tick-Ms``) arrives in the frame stream, after the frames published before it, and
answers each with ``wrk.{tenant}.ticked`` (worker, tick, count): the bench's deterministic
mode, in which N workers give the answers of one process; there the tiles a worker has at the
first tick marker are held for the run (``TileWorker.held``): failover is the wall clock's.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from v2xcloud import processes
from v2xcloud.codec import Rejected, decode, message_set_of
from v2xcloud.errors import GatewayError
from v2xcloud.gateways.base import DeviceKind
from v2xcloud.gateways.ingest import parse_with_drivers
from v2xcloud.gateways.nats import connect, ensure_streams, frame_of
from v2xcloud.model import Advisory, Device
from v2xcloud.runtime import backbone
from v2xcloud.runtime.ownership import (
    Liveness,
    advisory_msg_id,
    assign,
    edge_runtime,
    episode_key,
    plan,
)
from v2xcloud.runtime.tiles import CELL_ZOOM, ROADSIDE_REACH_M, Tiling, descendants

__all__ = [
    "CLOCK_TILE",
    "EPISODES_BUCKET",
    "HEADER_TICK_MS",
    "MEMBERS_BUCKET",
    "TILES_BUCKET",
    "TileWorker",
    "WorkerConfig",
    "WorkerProcess",
    "tick_subject",
    "ticked_subject",
]

logger = logging.getLogger(__name__)

MEMBERS_BUCKET = "V2X_MEMBERS"
TILES_BUCKET = "V2X_TILES"
EPISODES_BUCKET = "V2X_EPISODES"
#: the reserved tile token of tick markers (never a quadkey)
CLOCK_TILE = "clock"
HEADER_TICK_MS = "V2X-Tick-Ms"
#: an own report (BSM) places its sender this long before a perception report may (ms)
OWN_REPORT_HOLD_MS = 1000
#: placements of participants not reported for this long are forgotten (ms)
PLACEMENT_KEEP_MS = 10_000
#: a neighbour tile with at least this share of its cells in the halo is read whole
WHOLE_TILE_SHARE = 0.75
#: the lease of stream-clocked workers (the bench's runs, where a loaded machine's late
#: heartbeats must not move tiles: failover is the wall clock's, tests/cluster/test_worker_faults)
STREAM_LEASE_TTL_S = 10.0
#: how often a worker re-marks the episodes it is issuing as recent in the episodes bucket
EPISODE_TOUCH_S = 1.0
_ADV_ENCODER = msgspec.json.Encoder()


def _is_quadkey(text: str) -> bool:
    return bool(text) and all(c in "0123" for c in text)


def _filter(tenant: str, key: str) -> str:
    """The consumer filter of a reading key: a tile token (``v2x.{tenant}.{tile}.>``), a
    cell (``v2x.{tenant}.{tile}.{cell}.>``, a quadkey longer than ``TILE_DIGITS``) or a tile's
    roadside frames (``{tile}_``: ``v2x.{tenant}.{tile}._.>``)."""
    digits = backbone.TILE_DIGITS
    if key.endswith("_") and _is_quadkey(key[:-1]):  # a tile's roadside frames
        return f"v2x.{tenant}.{key[:-1]}._.>"
    if _is_quadkey(key) and len(key) > digits:
        return f"v2x.{tenant}.{key[:digits]}.{key[digits:]}.>"
    return f"v2x.{tenant}.{backbone.token(key)}.>"


def tick_subject(tenant: str) -> str:
    """The subject of the bench's tick markers in the frame stream."""
    return backbone.frame_subject(tenant, CLOCK_TILE, "tick")


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

    def name(self) -> str:
        """The worker id (``host-pid`` when not given)."""
        return self.worker_id or f"{socket.gethostname()}-{os.getpid()}"


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
        lat, lon = config.origin
        self.runtime = edge_runtime(
            origin_lat_deg=lat, origin_lon_deg=lon, message_set=config.message_set
        )
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
        self._previous_reading: frozenset[str] = frozenset()
        self._last_seq = 0
        self._last_renewal = 0.0
        self._active: dict[tuple[str, str, str | None], Advisory] = {}
        # participant id -> (tile of the frame that last reported it, own report?, received ms)
        self._placed: dict[str, tuple[str, bool, int]] = {}
        self._episode_touched: dict[str, float] = {}
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._sub: Any = None
        self._consumer: str | None = None
        self._generation = 0
        self._held = False
        self.claimed_at: dict[str, float] = {}
        # owned tile -> (tick ms since which it is issued without a break, silence before, ms)
        self._issuing_since: dict[str, tuple[int, int]] = {}
        self._silent_from_ms: int | None = None
        self.lost_at: dict[str, float] = {}

    # -- life cycle -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, join, work until ``stop`` is set, then leave (delete the heartbeat key,
        release the tiles) and close."""
        self._nc = await connect(self.config.urls, name=f"worker-{self.me}")
        self._js = self._nc.jetstream()
        await self._set_up(stop)
        tasks = [
            asyncio.create_task(self._heartbeat_loop(stop)),
            asyncio.create_task(self._watch(self.members_kv, self._on_member, stop)),
            asyncio.create_task(self._watch(self.tiles_kv, self._on_tile, stop)),
            asyncio.create_task(self._balance_loop(stop)),
            asyncio.create_task(self._consume_loop(stop)),
        ]
        if self.config.clock == "wall":
            tasks.append(asyncio.create_task(self._tick_loop(stop)))
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._leave()

    async def _set_up(self, stop: asyncio.Event, *, patience_s: float = 60.0) -> None:
        """The streams and buckets, retried while a forming cluster times requests out."""
        assert self._js is not None
        deadline = time.monotonic() + patience_s
        while True:
            try:
                await ensure_streams(self._js, backbone.streams(servers=self.config.servers))
                self.members_kv = await self._bucket(MEMBERS_BUCKET, ttl=self.config.forget_s)
                self.tiles_kv = await self._bucket(TILES_BUCKET, ttl=None)
                self.episodes_kv = await self._bucket(EPISODES_BUCKET, ttl=60.0)
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
        config = KeyValueConfig(
            bucket=name,
            history=1,
            ttl=ttl,
            replicas=min(3, self.config.servers),
            storage=StorageType.FILE,
        )
        try:
            return await self._js.create_key_value(config)
        except nats.js.errors.BadRequestError:  # another worker created it meanwhile
            return await self._js.key_value(name)

    async def _leave(self) -> None:
        try:
            for tile in sorted(self.owned):
                entry = await self.tiles_kv.get(tile)
                if (entry.value or b"").decode() == self.me:
                    await self.tiles_kv.update(tile, b"", last=entry.revision)
            await self.members_kv.delete(self.me)
        except Exception as exc:  # leaving is best effort: the lease expires anyway
            self._failed("leave", exc)
        if self._nc is not None:
            await self._nc.close()

    # -- membership and ownership ---------------------------------------------------------

    async def _heartbeat_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            body = json.dumps({"tiles": sorted(self.owned), "ticks": self.counts["ticks"]})
            sent = time.monotonic()  # the lease runs from the request, not the reply
            try:
                await self.members_kv.put(self.me, body.encode())
                self._last_renewal = sent
            except Exception as exc:  # the lease lapses; fenced below
                self._failed("heartbeat", exc)
            await asyncio.sleep(self.config.heartbeat_s)

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

    def _on_tile(self, entry: KeyValue.Entry) -> None:
        owner = "" if entry.operation in ("DEL", "PURGE") else (entry.value or b"").decode()
        self.owners[entry.key] = (owner, int(entry.revision or 0))

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
        info = await self._js.stream_info(backbone.FRAMES, subjects_filter=prefix + ">")
        for subject in info.state.subjects or {}:
            try:
                tile = self.tiling.tile_of_place(backbone.frame_place(subject)[1])
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
        owners = {t: o for t, (o, _) in self.owners.items()}
        desired = assign(owners, alive)
        moves = plan(me=self.me, desired=desired, owners=owners, alive=alive)
        for tile in moves.claim:
            await self._cas(tile, self.me, "claimed")
        for tile, other in moves.hand_over:
            await self._cas(tile, other, "handed_over")
        mine = frozenset(t for t, (o, _) in self.owners.items() if o == self.me)
        idle_reader = self.config.clock == "stream" and not self.config.from_start
        if mine != self.owned or (self._sub is None and idle_reader):
            # a stream-clocked worker answers every tick marker, even without tiles; one that
            # reads a backlog from its start waits for its tiles (or it would race through
            # the backlog's markers with none)
            await self._resubscribe(mine)

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

    async def _resubscribe(self, mine: frozenset[str]) -> None:
        """Read ``mine`` and their halo: a new consumer from ``rebuild_s`` back (live) or from
        the message after the last one read (stream clock); frames the previous consumer
        already gave are skipped."""
        assert self._js is not None
        reading = self._reading_keys(mine)
        tenant = backbone.token(self.config.tenant)
        subjects = [_filter(tenant, key) for key in sorted(reading)]
        if self.config.clock == "stream":
            subjects.append(tick_subject(self.config.tenant))
        old = self._consumer
        self._sub, self._consumer = None, None
        if old is not None:
            await self._drop_consumer(old)
        now = time.time()
        for tile in mine - self.owned:
            self.claimed_at[tile] = now
        for tile in self.owned - mine:
            self.lost_at[tile] = now
        if subjects and (mine or self.config.clock == "stream"):
            self._generation += 1
            name = f"wrk-{self.me}-{os.getpid()}-{self._generation}"
            start = datetime.datetime.fromtimestamp(now - self.config.rebuild_s, datetime.UTC)
            live = self.config.clock == "wall"
            # stream clock: on from the next message (no tick marker is skipped or replayed)
            policy = DeliverPolicy.BY_START_TIME if live else DeliverPolicy.NEW
            if not live and self.config.from_start:  # a backlog published before (benchmark)
                policy = DeliverPolicy.ALL
            if not live and self._last_seq:
                policy = DeliverPolicy.BY_START_SEQUENCE
            config = ConsumerConfig(
                name=name,
                filter_subjects=subjects,
                ack_policy=AckPolicy.NONE,
                deliver_policy=policy,
                opt_start_time=start if live else None,
                opt_start_seq=self._last_seq + 1
                if policy == DeliverPolicy.BY_START_SEQUENCE
                else None,
                inactive_threshold=30.0,
                mem_storage=True,
                num_replicas=1,
            )
            await self._js.add_consumer(backbone.FRAMES, config)
            self._sub = await self._js.pull_subscribe_bind(name, stream=backbone.FRAMES)
            self._consumer = name
        self._previous_reading = self._reading
        self._reading = reading
        self.owned = frozenset(mine)

    def _reading_keys(self, mine: frozenset[str]) -> frozenset[str]:
        """What to read for ``mine``: each owned tile whole (its zoom-16 tile tokens), the
        halo's cells (``Tiling.halo_cells``: own-position reports) and the roadside frames
        (cell ``_``, key ``{tile}_``) of every zoom-16 tile within the halo plus
        ``ROADSIDE_REACH_M``; a tile that is no quadkey is read whole, without halo."""
        digits = backbone.TILE_DIGITS
        grid = [t for t in mine if _is_quadkey(t) and len(t) == self.tiling.zoom]
        keys = {t for t in mine if t not in grid}
        whole: set[str] = set()
        for tile in grid:
            whole.update(descendants(tile, digits))
        keys.update(whole)
        by_tile: dict[str, list[str]] = {}
        for cell in self.tiling.halo_cells(grid):
            by_tile.setdefault(cell[:digits], []).append(cell)
        per_tile = 4 ** (CELL_ZOOM - digits)
        for tile, cells in by_tile.items():
            # a tile mostly in the halo is read whole: one consumer filter, not a dozen (a
            # JetStream consumer delivers the slower the more filters it has)
            keys.update([tile] if len(cells) >= WHOLE_TILE_SHARE * per_tile else cells)
        wide = Tiling(zoom=digits, halo_m=self.tiling.halo_m + ROADSIDE_REACH_M)
        keys.update(t + "_" for t in wide.halo_tiles(whole) if t not in keys)
        return frozenset(keys)

    async def _drop_consumer(self, name: str) -> None:
        assert self._js is not None
        try:
            await self._js.delete_consumer(backbone.FRAMES, name)
        except Exception as exc:  # it expires after its inactive threshold anyway
            self._failed("delete_consumer", exc)

    async def _consume_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            sub = self._sub
            if sub is None:
                await asyncio.sleep(0.02)
                continue
            try:
                msgs = await sub.fetch(batch=512, timeout=0.05)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # consumer replaced or server failing over
                if sub is self._sub:
                    self._failed("fetch", exc)
                    await asyncio.sleep(0.05)
                continue
            for msg in msgs:
                try:
                    await self._on_message(msg)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # one bad message must not stop the reading
                    self._failed("message", exc)

    async def _on_message(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        try:
            tile, place = backbone.frame_place(msg.subject)
        except ValueError as exc:
            self.counts["bad_subjects"] += 1
            logger.warning("worker %s: %s", self.me, exc)
            return
        before = self._previous_reading
        if seq <= self._last_seq and (tile in before or place in before or tile + "_" in before):
            return  # the previous consumer gave it already
        self._last_seq = max(self._last_seq, seq)
        if tile == CLOCK_TILE:
            await self._on_tick_marker(msg)
            return
        try:
            frame = frame_of(msg.subject, msg.headers, msg.data)
        except GatewayError as exc:
            self.counts["bad_frames"] += 1
            logger.warning("worker %s: %s", self.me, exc)
            return
        self.counts["frames"] += 1
        headers = msg.headers or {}
        fmt = headers.get(backbone.HEADER_FORMAT, "uper")
        message_set = headers.get(backbone.HEADER_MESSAGE_SET, self.config.message_set)
        started = time.process_time()
        if fmt == "uper":
            self._ingest_uper(frame, message_set, self.tiling.tile_of_place(place))
        else:
            self._ingest_parsed(frame, message_set, fmt, self.tiling.tile_of_place(place))
        self.cpu_s["ingest"] += time.process_time() - started

    def _ingest_uper(self, frame: Any, message_set: str, tile: str) -> None:
        """Decode once, note where the frame placed its participants, hand it to the scene
        (an undecodable frame goes through ``ingest_frame``, which dead-letters it)."""
        result = decode(
            frame.payload,
            message_set=message_set_of(message_set),
            received_at_ms=frame.received_at_ms,
            area=self.runtime.area,
        )
        if isinstance(result, Rejected):
            self.runtime.ingest_frame(
                frame.payload,
                source=frame.device_id,
                received_at_ms=frame.received_at_ms,
                message_set=message_set_of(message_set),
                kind=frame.device_kind.value,
            )
            return
        model = result.to_model()
        if self.runtime.ingest(
            model, received_at_ms=frame.received_at_ms, source=frame.device_id, raw=result.raw
        ):
            self._note_reports(model, tile, frame.received_at_ms)

    def _note_reports(self, model: Any, tile: str, received_at_ms: int) -> None:
        """Remember the tile of the frame that last reported each participant: its own report
        (a BSM's participant) always; a perception report (an RSM's participants) only of a
        participant without an own report in the last ``OWN_REPORT_HOLD_MS``. Every worker
        reading the ego's frames sees them in the same stream order, so all place it alike."""
        own = getattr(model, "participant", None)
        if own is not None:
            self._placed[own.id] = (tile, True, received_at_ms)
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

    async def _on_tick_marker(self, msg: Msg) -> None:
        try:
            now_ms = int((msg.headers or {})[HEADER_TICK_MS])
        except (KeyError, ValueError) as exc:
            self.counts["bad_ticks"] += 1
            logger.warning("worker %s: tick marker without %s: %s", self.me, HEADER_TICK_MS, exc)
            return
        owners = {t: o for t, (o, _) in self.owners.items()}
        if owners and all(owners.values()):
            self._held = True  # the bench's assignment is settled: held for the run
        issued = await self._tick(now_ms)
        assert self._nc is not None
        body = json.dumps({"worker": self.me, "tick_ms": now_ms, "count": issued})
        await self._nc.publish(ticked_subject(self.config.tenant), body.encode())

    async def _tick(self, now_ms: int) -> int:
        """One tick: run the runtime, issue the advisories of egos in the owned tiles; returns
        how many were published."""
        started = time.process_time()
        advisories = self.runtime.tick(now_ms)
        ticked = time.process_time()
        self.cpu_s["tick"] += ticked - started
        try:
            return await self._issue(advisories, now_ms)
        finally:
            self.cpu_s["issue"] += time.process_time() - ticked

    async def _issue(self, advisories: list[Advisory], now_ms: int) -> int:
        self.counts["ticks"] += 1
        if self.counts["ticks"] % 50 == 0:
            self._forget_placements(now_ms)
        if self.fenced() or not self.owned:
            self.counts["ticks_fenced"] += int(self.fenced())
            if self._issuing_since:  # a silence begins: nothing issued, no episode marked
                self._silent_from_ms = now_ms
                self._issuing_since.clear()
            return 0
        self._note_issuing(now_ms)
        mine = self._mine(advisories)
        fresh = self._fresh(mine, now_ms)
        acks = [self._publish_advisory(tile, adv) for tile, adv in mine]
        results = await asyncio.gather(*acks, return_exceptions=True)
        published = 0
        for result in results:
            if isinstance(result, BaseException):
                self._failed("publish_advisory", result)
            else:
                published += 1
        for tile, adv in fresh:
            await self._warn(tile, adv)
        await self._touch_episodes(mine)
        return published

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

    async def _publish_advisory(self, tile: str, adv: Advisory) -> None:
        assert self._js is not None
        msg_id = advisory_msg_id(self.config.tenant, adv)
        ack = await self._js.publish(
            backbone.advisory_subject(self.config.tenant, tile, adv.app),
            _ADV_ENCODER.encode(adv),
            headers={backbone.HEADER_MSG_ID: msg_id, "V2X-Worker": self.me},
        )
        self.counts["advisories"] += 1
        if ack.duplicate:
            self.counts["duplicates"] += 1

    async def _warn(self, tile: str, adv: Advisory) -> None:
        """Deliver a new warning unless the episodes bucket says this episode was already
        warned at this level (by this worker's predecessor on the tile)."""
        key = episode_key(self.config.tenant, adv)
        body = json.dumps({"level": int(adv.level), "ms": adv.issued_ms}).encode()
        try:
            try:
                await self.episodes_kv.create(key, body)
            except nats.js.errors.KeyWrongLastSequenceError:
                entry = await self.episodes_kv.get(key)
                known = json.loads(entry.value or b"{}")
                gap_ms = self._episode_gap_ms(tile, adv.issued_ms)
                recent = adv.issued_ms - int(known.get("ms", 0)) <= gap_ms
                if known.get("level") == int(adv.level) and recent:
                    self.counts["warnings_continued"] += 1
                    return
                await self.episodes_kv.update(key, body, last=entry.revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            self.counts["warnings_continued"] += 1  # another worker warned just now
            return
        except Exception as exc:  # the bucket unreachable: warn (better twice than never)
            self._failed("episodes", exc)
        self._episode_touched[key] = time.monotonic()
        assert self._js is not None
        await self._js.publish(
            backbone.delivery_subject(self.config.tenant, tile, "warning"),
            _ADV_ENCODER.encode(adv),
            headers={backbone.HEADER_MSG_ID: f"warn:{key}:{int(adv.level)}:{adv.issued_ms}"},
        )
        self.counts["warnings"] += 1

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
        """Keep the episodes this worker is issuing marked recent (once a second each)."""
        now = time.monotonic()
        for _, adv in mine:
            key = episode_key(self.config.tenant, adv)
            if now - self._episode_touched.get(key, 0.0) < EPISODE_TOUCH_S:
                continue
            self._episode_touched[key] = now
            body = json.dumps({"level": int(adv.level), "ms": adv.issued_ms}).encode()
            try:
                await self.episodes_kv.put(key, body)
            except Exception as exc:  # the next touch retries
                self._failed("episodes", exc)
        if len(self._episode_touched) > 10_000:
            self._episode_touched = {
                k: t for k, t in self._episode_touched.items() if now - t < 10.0
            }

    def _failed(self, what: str, exc: BaseException) -> None:
        self.counts[f"errors:{what}"] += 1
        logger.warning("worker %s: %s failed: %s: %s", self.me, what, type(exc).__name__, exc)

    def stats(self) -> dict[str, Any]:
        """Counters, owned tiles and the runtime's stats."""
        return {
            "worker": self.me,
            "owned": sorted(self.owned),
            "reading": sorted(self._reading),
            "counts": dict(self.counts),
            "cpu_s": {k: round(v, 3) for k, v in self.cpu_s.items()},
            "dead_letters": {str(k): v for k, v in self.runtime.stats()["dead_letters"].items()},
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
    ) -> None:
        self.worker_id = worker_id
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
