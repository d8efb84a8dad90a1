"""The test bench's platform over a NATS JetStream cluster of tile workers.

``ClusterPlatform`` is a ``sim.platform.Platform``: each frame the bench hands it is decoded
once to find its tile (``runtime.tiles.reference_position``; a SPAT goes under its
intersection's MAP node) and published to ``v2x.{tenant}.{tile}.{cell}.{type}`` with the contract's
headers; ``tick(now_ms)`` publishes a tick marker into the same stream and waits until every
worker answered it (``wrk.{tenant}.ticked``, with how many advisories it issued), then returns
the advisories of that tick. The workers run with ``clock="stream"``, so they tick at the same
instants on the same frames as the in-process ``Runtime``: N workers must give the answers of
one process (``tests/cluster/test_tile_workers.py``).

With ``shard_zoom`` (the deployment's ``--shard-zoom``) frames go on the sharded subjects
into one stream per shard (``runtime.backbone.shard_of``): ``prepare`` creates the streams of
the shards within ``SHARD_MARGIN_M`` of the tiles (what the workers' halos read) before it
registers them, a frame of another shard creates its stream on first use (counted
``shard_streams``), and each tick marker goes into every shard stream the bench made, so a
worker reading several shards ticks once each of them has given it the marker.

Before the run, ``prepare(tiles)`` registers the area's tiles in the tiles bucket and waits
until every one is owned by a worker whose consumer is in place (the assignment is then fixed
for the run; a frame in an unregistered tile is still published and counted ``unplanned``).

For the cluster benchmark and tests that drive workers with synthetic vehicles:
``bsm_tick`` encodes one tick's BSMs of a list of states (each filed in its zoom-18 cell) and
``publish_tick`` publishes them with the gateway's headers (``gateways.nats.frame_headers``),
then the tick marker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, NamedTuple, TypeVar

import msgspec
import nats.js.errors

from v2xcloud.codec import Rejected, decode, encode_model, message_set_of
from v2xcloud.errors import SimulationError
from v2xcloud.gateways.nats import connect, ensure_streams, frame_headers, kv_keys
from v2xcloud.gateways.tile_worker import (
    HEADER_TICK_MS,
    MEMBERS_BUCKET,
    TILES_BUCKET,
    tick_subject,
    ticked_subject,
)
from v2xcloud.model import Advisory, Bsm, MapData, ParticipantState, Spat
from v2xcloud.runtime import backbone
from v2xcloud.runtime.ownership import assign
from v2xcloud.runtime.tiles import (
    Tiling,
    cell_of,
    files_far,
    place_of,
    reference_position,
    tile_of,
)

__all__ = [
    "SHARD_MARGIN_M",
    "ClusterPlatform",
    "TickFrame",
    "area_tiles",
    "bsm_tick",
    "publish_tick",
    "run_through_workers",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")
_ADVISORY = msgspec.json.Decoder(Advisory)
#: the shard streams made before a sharded run: those within this of a registered tile (more
#: than the workers' widest halo, ``runtime.tiles.Reaches.roadside_m``)
SHARD_MARGIN_M = 1000.0


def area_tiles(tiling: Tiling, *, lat_deg: float, lon_deg: float, radius_m: float) -> list[str]:
    """The tiles within ``radius_m`` of a position (a square of tiles around it)."""
    centre = tiling.tile_of(lat_deg, lon_deg)
    rings = max(0, round(radius_m / tiling.side_m(centre) + 0.5))
    return sorted([centre, *tiling.neighbours(centre, rings)])


class TickFrame(NamedTuple):
    """One synthetic frame of a tick: its ``place`` (the zoom-18 cell it is filed in), the
    sending ``device`` and its UPER ``raw`` bytes."""

    place: str
    device: str
    raw: bytes


def bsm_tick(
    states: Iterable[ParticipantState], t_ms: int, *, message_set: str = "csae2020"
) -> list[TickFrame]:
    """Each state's BSM at ``t_ms`` (msgCount and secMark from ``t_ms``), UPER-encoded and
    filed in its cell; the device is the participant id."""
    mset = message_set_of(message_set)
    out = []
    for st in states:
        bsm = Bsm(msg_count=(t_ms // 100) % 128, sec_mark_ms=t_ms % 60_000, participant=st)
        raw = bytes(encode_model(bsm, message_set=mset))
        out.append(TickFrame(cell_of(st.lat_deg, st.lon_deg), st.id, raw))
    return out


async def publish_tick(
    nc: Any,
    frames: Iterable[TickFrame],
    t_ms: int,
    *,
    tenant: str = "default",
    message_set: str = "csae2020",
    stamps: dict[tuple[int, str], float] | None = None,
    shard_zoom: int | None = None,
    shards: Sequence[str] = (),
) -> None:
    """Publish one tick's frames (core publishes, as an OBU's gateway files them: subject by
    place, ``frame_headers``, received at ``t_ms``), then its tick marker. ``stamps``:
    (tick, device) -> when its frame was handed to the client (``time.perf_counter``).
    Sharded (``shard_zoom``): the frames on their shards' subjects, the marker into each of
    ``shards`` (every shard stream in use, as ``ClusterPlatform`` does)."""
    for place, device, raw in frames:
        if stamps is not None:
            stamps[(t_ms, device)] = time.perf_counter()
        headers = frame_headers(device, t_ms, raw, kind="obu", message_set=message_set, fmt="uper")
        subject = backbone.frame_subject(tenant, place, "bsm", shard_zoom=shard_zoom)
        await nc.publish(subject, raw, headers=headers)
    into: list[str | None] = [None] if shard_zoom is None else list(shards)
    for shard in into:
        await nc.publish(tick_subject(tenant, shard), b"", headers={HEADER_TICK_MS: str(t_ms)})


class ClusterPlatform:
    """The bench's platform through JetStream and ``workers`` stream-clocked tile workers;
    ``home`` (the scenario's origin) files a frame whose position cannot be known."""

    def __init__(
        self,
        *,
        urls: Sequence[str],
        workers: int,
        message_set: str,
        tenant: str = "default",
        servers: int = 1,
        tiling: Tiling | None = None,
        timeout_s: float = 30.0,
        join_timeout_s: float = 120.0,
        app_codes: Iterable[str] = (),
        home: tuple[float, float] = (28.2, 112.9),
        shard_zoom: int | None = None,
    ) -> None:
        self.urls = list(urls)
        self.shard_zoom = backbone.shard_zoom_checked(shard_zoom)
        self._shards: set[str] = set()  # the shard streams made (sharded runs)
        self.workers = workers
        self.message_set = message_set
        self.tenant = tenant
        self.servers = servers
        self.tiling = tiling or Tiling()
        self.timeout_s = timeout_s
        # workers start cold (imports, the codec compiled before they join: seconds of CPU
        # each, many more on a loaded machine), so joining gets longer than a tick
        self.join_timeout_s = max(join_timeout_s, timeout_s)
        self._codes = set(app_codes)
        self.counts: Counter[str] = Counter()
        self.by_worker: Counter[str] = Counter()  # advisories received per issuing worker
        self.duplicates: list[tuple[str, str, Advisory]] = []  # (first, second issuer, advisory)
        self._tiles: set[str] = set()
        self.owners: dict[str, str] = {}  # tile -> worker, once prepared
        self._nodes: dict[Any, tuple[float, float]] = {}
        self._sources: dict[str, tuple[float, float]] = {}
        self._pending: list[Any] = []
        self._held: list[tuple[bytes, int, str, str]] = []
        self.home = tile_of(*home)
        self._ticked: dict[int, dict[str, int]] = {}
        self._advisories: dict[int, list[tuple[str, Advisory]]] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._call(self._connect())

    def _call(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout_s or self.timeout_s)

    async def _connect(self) -> None:
        self._nc = await connect(self.urls, name="bench")
        self._js = self._nc.jetstream()
        await ensure_streams(
            self._js, backbone.streams(servers=self.servers, shard_zoom=self.shard_zoom)
        )
        await self._nc.subscribe(ticked_subject(self.tenant), cb=self._on_ticked)
        await self._nc.subscribe(f"adv.{backbone.token(self.tenant)}.>", cb=self._on_advisory)

    async def _on_ticked(self, msg: Any) -> None:
        body = json.loads(msg.data)
        self._ticked.setdefault(int(body["tick_ms"]), {})[body["worker"]] = int(body["count"])

    async def _on_advisory(self, msg: Any) -> None:
        worker = (msg.headers or {}).get("V2X-Worker", "")
        adv = _ADVISORY.decode(msg.data)
        self.by_worker[worker] += 1
        self._advisories.setdefault(adv.issued_ms, []).append((worker, adv))

    # -- set-up ---------------------------------------------------------------------------

    def prepare(self, tiles: Iterable[str]) -> dict[str, str]:
        """Register ``tiles`` and wait until each is owned by a ready worker and ``workers``
        members are live; returns tile → worker (kept in ``owners``)."""
        self.owners = self._call(self._prepare(sorted(set(tiles))), self.join_timeout_s + 5.0)
        return self.owners

    async def _prepare(self, tiles: list[str]) -> dict[str, str]:
        self._tiles.update(tiles)
        if self.shard_zoom is not None:
            zoom = self.shard_zoom
            shards = {backbone.shard_of(t, zoom) for t in tiles}
            near = Tiling(zoom=zoom, halo_m=SHARD_MARGIN_M)
            shards.update(near.halo_tiles(s for s in shards if s != backbone.NO_SHARD))
            for shard in sorted(shards):
                await self._ensure_shard(shard)
        tiles_kv = await self._bucket(TILES_BUCKET)
        for tile in tiles:
            with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):
                await tiles_kv.create(tile, b"")
        members_kv = await self._bucket(MEMBERS_BUCKET)
        deadline = time.monotonic() + self.join_timeout_s
        while time.monotonic() < deadline:
            ready: dict[str, str] = {}
            names = await kv_keys(members_kv)
            for name in names:
                entry = await members_kv.get(name)
                for tile in json.loads(entry.value or b"{}").get("tiles", []):
                    ready[tile] = name
            want = assign(tiles, names)
            if len(names) >= self.workers and all(ready.get(t) == want[t] for t in tiles):
                await asyncio.sleep(0.3)  # let the halo consumers of the others settle
                return {t: ready[t] for t in tiles}
            await asyncio.sleep(0.1)
        raise SimulationError(
            f"cluster: {self.workers} workers did not own all {len(tiles)} tiles within "
            f"{self.join_timeout_s} s"
        )

    async def _ensure_shard(self, shard: str) -> None:
        if shard not in self._shards:
            spec = backbone.shard_spec(shard, servers=self.servers)
            await ensure_streams(self._js, [spec])
            self._shards.add(shard)
            self.counts["shard_streams"] += 1

    async def _file(self, subject: str, raw: bytes, headers: dict[str, str]) -> Any:
        """A sharded frame: its shard's stream made on first use, then published."""
        await self._ensure_shard(subject.split(".")[2])
        return await self._js.publish(subject, raw, headers=headers)

    async def _bucket(self, name: str) -> Any:
        deadline = time.monotonic() + self.join_timeout_s
        while True:
            try:
                return await self._js.key_value(name)
            except nats.js.errors.BucketNotFoundError:
                if time.monotonic() > deadline:
                    raise SimulationError(f"cluster: no worker created bucket {name}") from None
                await asyncio.sleep(0.1)

    # -- the Platform protocol ------------------------------------------------------------

    def ingest_frame(
        self, raw: bytes, *, received_at_ms: int, source: str, kind: str = "unknown"
    ) -> None:
        """Publish one frame under its tile (decoded here only to find the tile); a frame
        without a position of its own yet (a SPAT before its MAP) waits for the tick."""
        placed = self._place(raw, received_at_ms, source)
        if placed is None:
            self._held.append((raw, received_at_ms, source, kind))
            return
        self._publish(raw, received_at_ms, source, kind, *placed)

    def _publish(
        self, raw: bytes, received_at_ms: int, source: str, kind: str, tile: str, mtype: str
    ) -> None:
        headers = frame_headers(
            source,
            received_at_ms,
            raw,
            kind=kind if kind in ("obu", "rsu", "radar") else "obu",
            message_set=self.message_set,
            fmt="uper",
        )
        subject = backbone.frame_subject(self.tenant, tile, mtype, shard_zoom=self.shard_zoom)
        publish = (
            self._js.publish(subject, raw, headers=headers)
            if self.shard_zoom is None
            else self._file(subject, raw, headers)
        )
        self._pending.append(asyncio.run_coroutine_threadsafe(publish, self._loop))
        self.counts["frames"] += 1

    def _place(self, raw: bytes, received_at_ms: int, source: str) -> tuple[str, str] | None:
        result = decode(
            raw, message_set=message_set_of(self.message_set), received_at_ms=received_at_ms
        )
        if isinstance(result, Rejected):
            self.counts["undecodable"] += 1  # the worker dead-letters it too
            return self._fallback_tile(source), "unknown"
        model = result.to_model()
        position = reference_position(model)
        if isinstance(model, MapData):
            for node in model.nodes:
                self._nodes[node.id] = (node.lat_deg, node.lon_deg)
        if isinstance(model, Spat) and model.intersections:
            position = self._nodes.get(model.intersections[0].node)
        if position is None:
            position = self._sources.get(source)
        if position is None:
            return None
        self._sources[source] = position
        mtype = type(model).__name__
        place = place_of(mtype, *position, far=files_far(model))
        if self.tiling.tile_of_place(place) not in self._tiles:
            self.counts["unplanned"] += 1
        return place, mtype

    def _fallback_tile(self, source: str) -> str:
        self.counts["unplaced"] += 1
        pos = self._sources.get(source)
        return tile_of(*pos) if pos is not None else self.home

    def _flush_held(self) -> None:
        held, self._held = self._held, []
        for raw, received_at_ms, source, kind in held:
            placed = self._place(raw, received_at_ms, source)
            if placed is None:
                placed = (self._fallback_tile(source), "spat")
            self._publish(raw, received_at_ms, source, kind, *placed)

    def tick(self, now_ms: int) -> list[Advisory]:
        """Publish the tick marker after this tick's frames, wait for every worker's answer;
        the advisories of the tick (each (app, ego, other) once)."""
        self._flush_held()
        for fut in self._pending:
            fut.result(self.timeout_s)  # every frame PubAck'd before the marker
        self._pending.clear()
        return self._call(self._tick(now_ms))

    async def _tick(self, now_ms: int) -> list[Advisory]:
        headers = {HEADER_TICK_MS: str(now_ms), backbone.HEADER_MSG_ID: f"tick:{now_ms}"}
        if self.shard_zoom is None:
            await self._js.publish(tick_subject(self.tenant), b"", headers=headers)
        else:  # into every shard stream, after its frames (each stream keeps its own order)
            await asyncio.gather(
                *(
                    self._js.publish(tick_subject(self.tenant, shard), b"", headers=headers)
                    for shard in sorted(self._shards)
                )
            )
        deadline = time.monotonic() + self.timeout_s
        while True:
            answers = self._ticked.get(now_ms, {})
            got = self._advisories.get(now_ms, [])
            if len(answers) >= self.workers and len(got) >= sum(answers.values()):
                break
            if time.monotonic() > deadline:
                raise SimulationError(
                    f"cluster: tick {now_ms}: {len(answers)}/{self.workers} workers answered"
                )
            await asyncio.sleep(0.0005)
        self._ticked.pop(now_ms, None)
        seen: dict[tuple[str, str, str | None], tuple[str, Advisory]] = {}
        for worker, adv in self._advisories.pop(now_ms, []):
            key = (adv.app, adv.ego_id, adv.other_id)
            if key in seen:
                self.counts["duplicate_advisories"] += 1
                if len(self.duplicates) < 100:  # kept for the report, bounded
                    self.duplicates.append((seen[key][0], worker, adv))
                logger.warning(
                    "cluster: tick %s: %s issued by %s and %s", now_ms, key, seen[key][0], worker
                )
            seen[key] = (worker, adv)
        return [adv for _, adv in seen.values()]

    def app_codes(self) -> set[str]:
        """The codes the workers run (the registered apps)."""
        if not self._codes:  # the workers run the runtime's default apps
            from v2xcloud.sim.platform import runtime_platform

            platform, _ = runtime_platform(
                message_set=self.message_set, origin_lat_deg=0.0, origin_lon_deg=0.0
            )
            self._codes = platform.app_codes()
        return self._codes

    def misbehaviour_flags(self) -> dict[str, int]:
        """The bench's workers run without misbehaviour detection (``v2xcloud worker
        --misbehaviour-detection`` is not given here; ``evaluate --workers`` refuses
        ``--attacks``): empty."""
        return {}

    def day2_codes(self) -> set[str]:
        """No Day-2 applications on the tile workers (yet): empty."""
        return set()

    def take_outbound(self) -> list[Any]:
        """No Day-2 applications on the tile workers (yet): nothing sent."""
        return []

    def close(self) -> None:
        """Close the connection and stop the loop thread."""
        try:
            self._call(self._nc.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5.0)


def run_through_workers(
    scenario: Any,
    config: Any,
    *,
    workers: int,
    servers: int = 1,
    area_m: float = 1500.0,
    log_dir: str | None = None,
    on_ready: Callable[[ClusterPlatform], None] | None = None,
    shard_zoom: int | None = None,
    **run: Any,
) -> Any:
    """Run ``scenario`` through a local JetStream cluster of ``servers`` and ``workers``
    stream-clocked tile workers (subprocesses), the tiles within ``area_m`` of the scenario's
    origin registered first; the scored result (the cluster's counters are logged).
    ``shard_zoom``: frames sharded by place (``docs/deploy.md``, Sizing).
    ``on_ready`` gets the platform once the tiles are owned; ``run`` goes to ``run_scenario``
    (``pace``, ``on_second``: the demo's real-time run)."""
    import tempfile

    from v2xcloud.gateways.nats_server import NatsCluster
    from v2xcloud.gateways.tile_worker import WorkerProcess
    from v2xcloud.sim.runner import model_encoder, run_scenario

    if workers < 1 or servers < 1:
        raise SimulationError(
            f"cluster run needs workers >= 1 and servers >= 1 ({workers}, {servers})"
        )
    origin = (scenario.origin_lat_deg, scenario.origin_lon_deg)
    logs = log_dir or tempfile.mkdtemp(prefix="v2xcloud-workers-")
    with NatsCluster(servers) as cluster:
        procs = [
            WorkerProcess(
                urls=cluster.urls,
                worker_id=f"w{i}",
                origin=origin,
                clock="stream",
                servers=servers,
                message_set=config.message_set,
                log_path=f"{logs}/w{i}.log",
                shard_zoom=shard_zoom,
            ).start()
            for i in range(workers)
        ]
        try:
            platform = ClusterPlatform(
                urls=cluster.urls,
                workers=workers,
                message_set=config.message_set,
                servers=servers,
                home=origin,
                shard_zoom=shard_zoom,
            )
            try:
                platform.prepare(
                    area_tiles(
                        platform.tiling, lat_deg=origin[0], lon_deg=origin[1], radius_m=area_m
                    )
                )
                if on_ready is not None:
                    on_ready(platform)
                result = run_scenario(
                    scenario,
                    config=config,
                    platform=platform,
                    encode=model_encoder(config.message_set),
                    **run,
                )
            finally:
                platform.close()
        finally:
            for proc in procs:
                proc.stop()
    logger.info(
        "cluster run %s: %s; advisories per worker %s",
        scenario.name,
        dict(platform.counts),
        dict(platform.by_worker),
    )
    return result
