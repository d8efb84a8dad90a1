"""The NATS JetStream backbone's I/O: connecting, the streams, publishing frames, reading results.

What travels and under which names is ``runtime.backbone`` (the one contract); this module
does the network side with ``nats-py``:

- ``parse_nats_urls`` checks ``--nats`` (one URL or a comma-separated list of every server:
  a client given all of them fails over when one dies);
- ``ensure_streams`` creates or updates the eight streams (``runtime.backbone.streams``);
- ``spread_leaders`` spreads the leaders of the frame-shard streams (``--shard-zoom``) evenly
  over the servers with JetStream's own preferred leader stepdown (``plan_leader_moves`` the
  pure plan); a sharded ``BackbonePublisher`` (the gateway tier) runs it every
  ``leader_check_s``;
- ``BackbonePublisher`` publishes from any thread (``submit`` never blocks): a bounded number
  of publishes in flight on its own asyncio loop, each awaiting its PubAck, retried with the
  same ``Nats-Msg-Id`` (the stream drops the duplicate) until ``retry_for_s``; past that the
  frame is handed to ``on_failed`` (the gateway dead-letters it as ``backbone_unavailable``).
  Over ``capacity`` waiting frames ``submit`` refuses (counted; the caller dead-letters it);
- ``FrameForwarder`` is the gateway tier's hand-off (``Ingestor(forward=...)``): an accepted
  frame's subject (tenant, ``runtime.tiles.place_of`` its type and reference position, type), headers
  and submission; what cannot be published becomes a dead letter;
- ``ResultFeed`` runs ``ResultConsumer`` on its own loop thread: the centre tier's three, a
  gateway's one of the workers' warnings (``V2X_DELIVERIES``) for its down-link;
- ``CentreRsi`` is the centre tier's down-link: a runtime delivery sink that publishes the
  RSI of the events the centre's own detectors found (corridor congestion) on
  ``dlv.{tenant}.{tile}.rsi``, where the gateways pick them up like the workers' RSI;
- ``frame_headers`` / ``frame_of`` write and read a frame's headers (the edge workers rebuild
  the ``InboundFrame`` from a stream message with ``frame_of``);
- ``ResultConsumer`` is the centre tier's reader: a durable pull consumer per stream with
  explicit acks, handing each message's decoded model (``Advisory``, ``RoadEvent``,
  ``DeadLetter``) to a callback and acking after it returned; a message that does not decode
  is logged, counted, acked (it would never decode) and given to ``on_bad`` as a dead letter.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple, TypeVar

import msgspec
import nats
import nats.aio.client
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.kv import KeyValue

from v2xcloud.bounded import LruTable
from v2xcloud.codec import MessageSet
from v2xcloud.errors import ConfigError, GatewayError
from v2xcloud.failures import FailureLog
from v2xcloud.gateways.base import DeviceKind, InboundFrame
from v2xcloud.model import (
    Advisory,
    Bsm,
    DeadLetter,
    Device,
    DropReason,
    MapData,
    MisbehaviourReport,
    ParticipantState,
    RoadEvent,
    Rsi,
    Rsm,
    Spat,
)
from v2xcloud.runtime import backbone
from v2xcloud.runtime.backbone import StreamSpec
from v2xcloud.runtime.dissemination import Delivery
from v2xcloud.runtime.ownership import event_digest
from v2xcloud.runtime.rsi_out import backbone_rsi
from v2xcloud.runtime.tiles import files_far, reference_position, tile_of

__all__ = [
    "NATS_PY_PLAIN",
    "BackboneClient",
    "BackbonePublisher",
    "CentreRsi",
    "ContinuousPull",
    "FrameForwarder",
    "FrameRead",
    "LeaderMove",
    "LeaderPlacement",
    "Outgoing",
    "PulledMsg",
    "ResultConsumer",
    "ResultFeed",
    "connect",
    "dead_letter_outgoing",
    "ensure_streams",
    "frame_headers",
    "frame_of",
    "kv_keys",
    "parse_nats_urls",
    "placed",
    "plain_headers",
    "plan_leader_moves",
    "spread_leaders",
    "stream_leaders",
    "stream_position",
    "stream_sequence",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The models a gateway's payload drivers give (as ``gateways.ingest.SceneModel``).
SceneModel = Bsm | Rsm | Spat | MapData | Rsi | ParticipantState


def parse_nats_urls(text: str) -> list[str]:
    """``nats://HOST:PORT[,nats://HOST:PORT...]`` as a list; ``ConfigError`` naming the bad one."""
    urls = [u.strip() for u in text.split(",") if u.strip()]
    if not urls:
        raise ConfigError("--nats: give nats://HOST:PORT (comma-separate every server)")
    for url in urls:
        scheme, sep, rest = url.partition("://")
        host, _, port = rest.rpartition(":")
        if scheme not in ("nats", "tls") or not sep or not host or not port.isdigit():
            raise ConfigError(f"--nats {url!r}: write nats://HOST:PORT, e.g. nats://127.0.0.1:4222")
    return urls


#: the nats-py release whose internals ``BackboneClient``'s plain path relies on (pinned in
#: pyproject.toml); with any other the plain path falls back to nats-py's own delivery
NATS_PY_PLAIN = "2.16.0"
_HDR_LINE = b"NATS/1.0"
_HDR_START = len(_HDR_LINE) + 2  # after "NATS/1.0\r\n"


class PulledMsg:
    """A message as ``BackboneClient.subscribe_plain`` delivers it: ``subject``, ``reply``,
    ``data`` and ``headers`` (a dict, or None), as nats-py's ``Msg`` has them, without the
    client reference, the metadata or the ack methods (what an ack-none pull reads)."""

    __slots__ = ("data", "headers", "reply", "subject")

    def __init__(
        self, subject: str, reply: str, data: bytes, headers: dict[str, str] | None
    ) -> None:
        self.subject = subject
        self.reply = reply
        self.data = data
        self.headers = headers


def plain_headers(raw: bytes) -> dict[str, str]:
    r"""A header block without a status line (``NATS/1.0\r\nName: value\r\n...``) as a
    dict: as nats-py's own parsing (``Client._parse_header_lines``: UTF-8 with replacement,
    a line without ``:`` skipped, name and value stripped) in one decode of the block, without
    its check of every character of every name for whitespace, which costs more than the rest.

    >>> plain_headers(b"NATS/1.0\r\nNats-Msg-Id: a:1:f\r\nV2X-Frame: obu csae2020 uper\r\n\r\n")
    {'Nats-Msg-Id': 'a:1:f', 'V2X-Frame': 'obu csae2020 uper'}
    """
    lines = raw[_HDR_START:].decode("utf-8", "replace").split("\r\n")
    return {n.strip(): v.strip() for n, sep, v in (line.partition(":") for line in lines) if sep}


class BackboneClient(NatsClient):
    """nats-py's client with a plain delivery path for the frames a worker pulls.

    For every message nats-py parses the headers in Python (``_parse_header_lines``, a
    generator over every character of every name) and builds a ``Msg`` (client, metadata,
    ack methods): about a fifth of a tile worker's CPU per frame with the frame's headers.
    ``subscribe_plain`` subscribes like ``subscribe(subject, cb=...)``, but its messages reach
    ``cb`` as ``PulledMsg`` with the headers parsed by ``plain_headers``; status messages
    (a pull's 404/408/409, heartbeats) are parsed by nats-py as before. The subscription, its
    pending queue, limits (slow consumers are reported as nats-py reports them), task and
    resubscription after a reconnect stay nats-py's. It overrides nats-py's internal
    ``_process_msg`` and reads ``Subscription``'s pending counters: only with nats-py
    ``NATS_PY_PLAIN`` (pinned); with another version ``subscribe_plain`` is ``subscribe``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._plain: set[int] = set()  # sids delivered as PulledMsg

    async def subscribe_plain(
        self, subject: str, cb: Callable[[PulledMsg], Coroutine[Any, Any, None]]
    ) -> Any:
        """A subscription whose messages reach ``cb`` as ``PulledMsg`` (see the class)."""
        sub = await self.subscribe(subject, cb=cb)  # type: ignore[arg-type]
        if nats.aio.client.__version__ == NATS_PY_PLAIN:
            self._plain = {sid for sid in self._plain if sid in self._subs}  # gone ones out
            self._plain.add(sub._id)
        return sub

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes
    ) -> None:
        if sid not in self._plain:
            return await super()._process_msg(sid, subject, reply, data, headers)
        sub = self._subs.get(sid)
        if sub is None:
            return
        size = len(data)
        self.stats["in_msgs"] += 1
        self.stats["in_bytes"] += size
        sub._received += 1
        hdr: dict[str, str] | None = None
        if headers:
            if headers[len(_HDR_LINE)] == 0x20:  # "NATS/1.0 408 ...": a status, nats-py's
                hdr = await self._process_headers(headers)
            else:
                hdr = plain_headers(headers)
        msg = PulledMsg(subject.decode(), reply.decode(), data, hdr)
        sub._pending_size += size
        limit = sub._pending_bytes_limit
        if limit > 0 and sub._pending_size >= limit:
            sub._pending_size -= size
            await self._error_cb(
                nats.errors.SlowConsumerError(
                    subject=msg.subject, reply=msg.reply, sid=sid, sub=sub
                )
            )
            return
        try:
            sub._pending_queue.put_nowait(msg)  # type: ignore[arg-type]
        except asyncio.QueueFull:
            sub._pending_size -= size
            await self._error_cb(
                nats.errors.SlowConsumerError(
                    subject=msg.subject, reply=msg.reply, sid=sid, sub=sub
                )
            )


async def connect(urls: Sequence[str], *, name: str) -> BackboneClient:
    """A client connected to any of ``urls``, reconnecting for ever (every 0.1 s) when its
    server goes. While none answers at first it keeps trying (a process started before its
    servers waits for them): race it against a stop signal where that matters
    (``TileWorker.run``); ``GatewayError`` when nats-py gives up otherwise."""

    seen: LruTable[str, int] = LruTable(limit=256, name=f"nats {name} error kinds")

    async def _error(exc: Exception) -> None:
        # a server gone is retried every 0.1 s: say it once, then every 100th time
        key = f"{type(exc).__name__}: {exc}"
        seen[key] = n = seen.get(key, 0) + 1
        if n == 1 or n % 100 == 0:
            logger.warning("nats %s: %s (%d times)", name, key, n)

    nc = BackboneClient()
    options: dict[str, Any] = {  # nats-py types the times as int; it takes seconds as float
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.1,
        "connect_timeout": 2.0,
        "allow_reconnect": True,
        "error_cb": _error,
    }
    try:
        await nc.connect(servers=list(urls), **options)
    except Exception as exc:  # nats-py raises several types for "nobody there"
        raise GatewayError(f"cannot connect to NATS at {','.join(urls)}: {exc}") from exc
    return nc


async def kv_keys(kv: KeyValue, *, attempts: int = 5) -> list[str]:
    """The bucket's keys (``[]`` when it has none).

    nats-py 2.16's ``KeyValue.keys()`` can raise ``NoKeysError`` on a bucket that holds keys:
    its watcher signals "nothing more" when the consumer reports nothing pending while the
    messages already delivered have not reached its callback yet (a loaded process). Asked
    again, up to ``attempts`` times, while the bucket's stream holds any message."""
    for attempt in range(attempts):
        try:
            return list(await kv.keys())
        except nats.js.errors.NoKeysError:
            if attempt + 1 == attempts or (await kv.status()).values == 0:
                return []
            await asyncio.sleep(0.02 * (attempt + 1))
    return []


#: JetStream's error code of a stream whose subjects overlap an existing stream's
_SUBJECTS_OVERLAP = 10065
#: JetStream's error code when the meta leader finds too few servers online for a stream's
#: replicas ("no suitable peers for placement, peer offline"): a server restarting, or a
#: cluster still forming (its meta leader learns the others' state a moment after they join)
_NO_SUITABLE_PEERS = 10005


async def placed(
    what: str,
    replicas: int,
    call: Callable[[], Awaitable[T]],
    *,
    wait_s: float = 15.0,
) -> T:
    """``call()`` (creating or updating ``what``, "stream X" or "bucket Y", of
    ``replicas``), again every 0.25 s while the cluster has no suitable peers for the
    replicas (one server restarting, or the cluster still forming), for at most ``wait_s``
    (logged once); then ``GatewayError``."""
    deadline = time.monotonic() + wait_s
    waited = False
    while True:
        try:
            result = await call()
        except nats.js.errors.APIError as exc:
            if exc.err_code != _NO_SUITABLE_PEERS:
                raise
            if time.monotonic() >= deadline:
                raise GatewayError(
                    f"{what}: the cluster had no {replicas} servers online "
                    f"for its replicas within {wait_s:g} s ({exc.description})"
                ) from exc
            if not waited:
                logger.warning("%s: %s; waiting up to %g s", what, exc.description, wait_s)
                waited = True
            await asyncio.sleep(0.25)
            continue
        if waited:
            logger.info("%s placed once its servers were online", what)
        return result


async def ensure_streams(
    js: JetStreamContext, specs: Sequence[StreamSpec], *, placement_wait_s: float = 15.0
) -> None:
    """Create each stream, or update it to ``spec`` when it exists with other settings.

    An existing stream never loses replicas here: a process that was told of fewer servers
    than the cluster has (a worker started with the default) keeps the stream's replica
    count (logged), so only an operator's explicit change lowers it. While the cluster has
    too few servers online for a stream's replicas (one restarting, or the cluster still
    forming) the create or update is asked again for up to ``placement_wait_s`` (logged
    once), then ``GatewayError``."""
    for spec in specs:
        config = StreamConfig(
            name=spec.name,
            subjects=list(spec.subjects),
            max_age=spec.max_age_s,
            num_replicas=spec.replicas,
            duplicate_window=spec.duplicate_window_s,
            storage=StorageType.FILE,
        )
        try:
            info = await js.stream_info(spec.name)
        except nats.js.errors.NotFoundError:
            try:
                await placed(
                    f"stream {spec.name}",
                    spec.replicas,
                    partial(js.add_stream, config),
                    wait_s=placement_wait_s,
                )
            except nats.js.errors.APIError as exc:
                if exc.err_code != _SUBJECTS_OVERLAP:
                    raise
                raise GatewayError(
                    f"stream {spec.name} ({spec.subjects[0]}): its subjects overlap another "
                    "stream's: a deployment's frames are either in V2X_FRAMES or in the shard "
                    "streams V2X_FRAMES_* (--shard-zoom), and every process must be told the "
                    "same --shard-zoom"
                ) from exc
            logger.info("stream %s (%s) created, R%d", spec.name, spec.subjects[0], spec.replicas)
            continue
        have = info.config.num_replicas or 1
        if have > spec.replicas:
            logger.info("stream %s keeps R%d (asked R%d)", spec.name, have, spec.replicas)
            config.num_replicas = have
        current = (info.config.max_age, info.config.num_replicas, info.config.duplicate_window)
        if current != (config.max_age, config.num_replicas, config.duplicate_window):
            await placed(
                f"stream {spec.name}",
                config.num_replicas or spec.replicas,
                partial(js.update_stream, config),
                wait_s=placement_wait_s,
            )
            logger.info("stream %s updated to R%d", spec.name, config.num_replicas)


@dataclass(frozen=True)
class LeaderPlacement:
    """A replicated stream's raft group as the cluster reports it (``stream_leaders``): the
    server leading it (None during an election) and the servers that may take the lead (the
    leader and its replicas online and current: a replica still catching up is not one)."""

    leader: str | None
    eligible: frozenset[str]


@dataclass(frozen=True)
class LeaderMove:
    """Hand ``stream``'s lead from ``source`` to ``target`` (a preferred stepdown)."""

    stream: str
    source: str
    target: str


def plan_leader_moves(placements: dict[str, LeaderPlacement]) -> list[LeaderMove]:
    """The moves that spread the streams' leaders evenly over the servers that can lead any
    of them, each move taking one lead from a server with at least two more than its target
    (the widest gap first; ties by stream, then target name: the same snapshot gives every
    process the same plan). Stops when no stream can narrow a gap of two or more; with every
    server eligible for every stream (R3 on three servers) the leads then differ by at most
    one. A stream without a leader (electing) is left alone.

    >>> p = LeaderPlacement("n0", frozenset({"n0", "n1", "n2"}))
    >>> [(m.stream, m.target) for m in plan_leader_moves({"a": p, "b": p, "c": p})]
    [('a', 'n1'), ('b', 'n2')]
    """
    servers = sorted(set().union(*(p.eligible for p in placements.values())) if placements else ())
    leads = dict.fromkeys(servers, 0)
    leader = {s: p.leader for s, p in placements.items() if p.leader is not None}
    for name in leader.values():
        leads[name] = leads.get(name, 0) + 1
    moves: list[LeaderMove] = []
    while True:
        best: tuple[int, str, str] | None = None  # (-gap, stream, target)
        for stream, source in sorted(leader.items()):
            for target in sorted(placements[stream].eligible - {source}):
                gap = leads[source] - leads[target]
                if gap >= 2 and (best is None or (-gap, stream, target) < best):
                    best = (-gap, stream, target)
        if best is None:
            return moves
        _, stream, target = best
        source = leader[stream]
        moves.append(LeaderMove(stream, source, target))
        leads[source] -= 1
        leads[target] += 1
        leader[stream] = target


def _placement(info: dict[str, Any]) -> LeaderPlacement:
    cluster = info.get("cluster") or {}
    leader = cluster.get("leader") or None
    eligible = {leader} if leader else set()
    for replica in cluster.get("replicas") or []:
        if replica.get("current") and not replica.get("offline") and replica.get("name"):
            eligible.add(replica["name"])
    return LeaderPlacement(leader, frozenset(eligible))


async def _js_api(nc: NatsClient, subject: str, body: dict[str, Any], timeout_s: float) -> Any:
    reply = await nc.request(f"$JS.API.{subject}", json.dumps(body).encode(), timeout=timeout_s)
    return json.loads(reply.data)


async def stream_leaders(
    nc: NatsClient, *, prefix: str = backbone.FRAMES_SHARD_PREFIX, timeout_s: float = 5.0
) -> dict[str, LeaderPlacement]:
    """The replicated streams whose names start with ``prefix`` (every page of the JetStream
    API's stream list) and where their leads are; ``GatewayError`` when the API refuses."""
    out: dict[str, LeaderPlacement] = {}
    offset = 0
    while True:
        page = await _js_api(nc, "STREAM.LIST", {"offset": offset}, timeout_s)
        if "error" in page:
            raise GatewayError(f"JetStream stream list: {page['error']}")
        infos = page.get("streams") or []
        for info in infos:
            name = (info.get("config") or {}).get("name", "")
            if name.startswith(prefix) and (info.get("config") or {}).get("num_replicas", 1) > 1:
                out[name] = _placement(info)
        offset += len(infos)
        if not infos or offset >= int(page.get("total", 0)):
            return out


async def spread_leaders(
    nc: NatsClient, *, prefix: str = backbone.FRAMES_SHARD_PREFIX, timeout_s: float = 5.0
) -> Counter[str]:
    """One pass spreading the leads of the streams named ``prefix``* over the servers: the
    snapshot (``stream_leaders``), its plan (``plan_leader_moves``), then each move as
    JetStream's own leader stepdown with a preferred server (``$JS.API.STREAM.LEADER.STEPDOWN``,
    placement ``preferred``: nats-server 2.11+), the group electing that replica.

    Safe from several processes at once: the plan of one snapshot is the same in each; a move
    is sent only while the stream's leader is still the one planned from (read again just
    before, else counted ``changed``), and the server refuses a stepdown to the server already
    leading (counted ``refused``), so two processes making the same move move it once. What is
    left uneven by a race is the next pass's plan. Counters: ``streams``, ``moved``,
    ``changed``, ``refused``, ``unanswered`` (no leader answered the stepdown in time)."""
    counts: Counter[str] = Counter()
    placements = await stream_leaders(nc, prefix=prefix, timeout_s=timeout_s)
    counts["streams"] = len(placements)
    for move in plan_leader_moves(placements):
        body = {"placement": {"preferred": move.target}}
        try:
            info = await _js_api(nc, f"STREAM.INFO.{move.stream}", {}, timeout_s)
            now = _placement(info) if "error" not in info else None
            if now is None or now.leader != move.source or move.target not in now.eligible:
                counts["changed"] += 1
                continue
            answer = await _js_api(nc, f"STREAM.LEADER.STEPDOWN.{move.stream}", body, timeout_s)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
            counts["unanswered"] += 1  # electing (another process's move): the next pass
            continue
        if answer.get("success"):
            counts["moved"] += 1
            logger.info("stream %s: lead %s -> %s", move.stream, move.source, move.target)
        else:
            counts["refused"] += 1
            logger.info("stream %s: lead to %s refused: %s", move.stream, move.target, answer)
    return counts


def frame_headers(
    device_id: str, received_at_ms: int, payload: bytes, *, kind: str, message_set: str, fmt: str
) -> dict[str, str]:
    """The contract's two headers of an accepted frame (``runtime.backbone``): its
    ``Nats-Msg-Id`` (device, receive time, payload digest) and ``V2X-Frame`` (device kind,
    message set, format). ``ValueError`` for a kind, set or format that is empty or has spaces.

    >>> sorted(frame_headers("obu-1", 5, b"x", kind="obu", message_set="csae2020", fmt="uper"))
    ['Nats-Msg-Id', 'V2X-Frame']
    """
    return {
        backbone.HEADER_MSG_ID: backbone.frame_msg_id(device_id, received_at_ms, payload),
        backbone.HEADER_FRAME: backbone.frame_reading(kind, message_set, fmt),
    }


_KINDS = {k.value: k for k in DeviceKind}


class FrameRead(NamedTuple):
    """A frame-stream message read back (``frame_of``): the ``InboundFrame``, and the message
    set and format its payload is read with."""

    frame: InboundFrame
    message_set: str
    fmt: str


def frame_of(subject: str, headers: dict[str, str] | None, data: bytes) -> FrameRead:
    """The ``InboundFrame`` a frame-stream message carries (its type the subject's last token,
    upper-case; ``_`` for none), with its message set and format; ``GatewayError`` naming the
    missing or bad header."""
    hdr = headers or {}
    try:
        device_id, received_ms = backbone.frame_source(hdr[backbone.HEADER_MSG_ID])
        kind_name, message_set, fmt = hdr[backbone.HEADER_FRAME].split(" ")
    except KeyError as exc:
        raise GatewayError(f"frame on {subject}: header {exc} missing") from exc
    except ValueError as exc:
        raise GatewayError(f"frame on {subject}: bad header: {exc}") from exc
    kind = _KINDS.get(kind_name)
    if kind is None:
        raise GatewayError(
            f"frame on {subject}: header {backbone.HEADER_FRAME} kind {kind_name!r} is no "
            f"device kind ({', '.join(_KINDS)})"
        )
    named = subject.rpartition(".")[2].upper()
    frame = InboundFrame(
        payload=data,
        device_id=device_id,
        device_kind=kind,
        message_type=None if named == "_" else named,
        transport="nats",
        channel=subject,
        received_at_ms=received_ms,
    )
    return FrameRead(frame, message_set, fmt)


class _LoopThread:
    """An asyncio loop on its own daemon thread (the publisher's and the centre's)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout_s: float) -> asyncio.AbstractEventLoop:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name=self.name, daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout_s) or self.loop is None:
            raise GatewayError(f"{self.name}: event loop did not start within {timeout_s} s")
        return self.loop

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            loop.close()

    def call(self, coro: Coroutine[Any, Any, Any], timeout_s: float) -> Any:
        """Run ``coro`` on the loop; ``GatewayError`` (it is cancelled) after ``timeout_s``."""
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise GatewayError(f"{self.name}: not done within {timeout_s:g} s") from exc

    def stop(self) -> None:
        loop = self.loop
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10.0)
        self.loop = None


@dataclass(frozen=True)
class Outgoing:
    """One message waiting for its PubAck: where, what, its headers (with its msg id)."""

    subject: str
    payload: bytes
    headers: dict[str, str]

    @property
    def msg_id(self) -> str:
        """Its ``Nats-Msg-Id``."""
        return self.headers.get(backbone.HEADER_MSG_ID, "")


class BackbonePublisher:
    """Publishes to JetStream with PubAcks from any thread (see the module docstring).

    ``start()`` runs its own loop thread, connects to ``urls`` and makes sure the streams
    exist (replicas ``min(3, len(urls))`` unless ``servers`` says otherwise); ``stop()`` waits
    up to ``drain_s`` for what is in flight, then closes. ``on_acked(outgoing, seq)`` and
    ``on_failed(outgoing, reason)`` run on the publisher's thread. Counters in ``stats()``:
    submitted, acked, duplicates (acked as already stored), retries, failed, refused (over
    ``capacity``), and ``in_flight``/``waiting`` now.

    Sharded (``shard_zoom``), it also keeps the shard streams' leads spread over the servers
    (``spread_leaders``): a pass every ``leader_check_s`` (None: never), the first after a
    random part of it (so the gateways of a tier do not all look at once); moves counted
    ``leader_moves``, passes that failed ``leader_check_errors``. The gateways are where the
    shard streams are made (on a shard's first frame), and a pass restores the spread after
    a server's restart took its leads elsewhere.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        servers: int | None = None,
        frames_max_age_s: float = 120.0,
        max_in_flight: int = 256,
        capacity: int = 50_000,
        ack_timeout_s: float = 2.0,
        retry_for_s: float = 30.0,
        on_acked: Callable[[Outgoing, int], None] | None = None,
        on_failed: Callable[[Outgoing, str], None] | None = None,
        name: str = "v2xcloud-gateway",
        shard_zoom: int | None = None,
        leader_check_s: float | None = 10.0,
    ) -> None:
        self.urls = list(urls)
        self.shard_zoom = backbone.shard_zoom_checked(shard_zoom)
        if leader_check_s is not None and leader_check_s <= 0:
            raise ConfigError(f"leader_check_s must be positive or None, not {leader_check_s}")
        self.leader_check_s = leader_check_s
        self.frames_max_age_s = frames_max_age_s
        self.specs = backbone.streams(
            servers=servers or len(self.urls),
            frames_max_age_s=frames_max_age_s,
            shard_zoom=shard_zoom,
        )
        self._servers = servers or len(self.urls)
        self._shards: dict[str, asyncio.Future[None]] = {}  # shard -> its stream ensured
        self.max_in_flight = max_in_flight
        self.capacity = capacity
        self.ack_timeout_s = ack_timeout_s
        self.retry_for_s = retry_for_s
        self.on_acked = on_acked
        self.on_failed = on_failed
        self.name = name
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._waiting = 0  # submitted, not yet acked or failed (all threads)
        self._in_flight = 0
        self._runner = _LoopThread(name)
        self._handed: list[Outgoing] = []  # submitted, not yet on the loop's queue
        self._pump_due = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Outgoing] | None = None
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, *, timeout_s: float = 15.0) -> BackbonePublisher:
        """Start the loop thread, connect, ensure the streams; ``GatewayError`` if it fails."""
        self._loop = self._runner.start(timeout_s)
        try:
            self._runner.call(self._start(), timeout_s)
        except Exception:
            self.stop()
            raise
        return self

    async def _start(self) -> None:
        self._nc = await connect(self.urls, name=self.name)
        self._js = self._nc.jetstream(timeout=self.ack_timeout_s)
        await ensure_streams(self._js, self.specs)
        self._queue = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self.max_in_flight)]
        if self.shard_zoom is not None and self.leader_check_s is not None:
            self._tasks.append(asyncio.create_task(self._keep_leaders(self.leader_check_s)))

    async def _keep_leaders(self, period_s: float) -> None:
        """A ``spread_leaders`` pass every ``period_s`` (the first after a random part)."""
        assert self._nc is not None
        await asyncio.sleep(random.uniform(0.0, period_s))
        while True:
            try:
                done = await spread_leaders(self._nc)
                self.counts["leader_moves"] += done["moved"]
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # no responders while a server restarts: next pass
                self.counts["leader_check_errors"] += 1
                if self.counts["leader_check_errors"] in (1, 10, 100):
                    logger.warning("backbone: spreading the shard leaders: %s", exc)
            await asyncio.sleep(period_s)

    def stop(self, *, drain_s: float = 5.0) -> None:
        """Wait up to ``drain_s`` for what is waiting, then close; safe twice."""
        loop = self._loop
        if loop is None:
            return
        deadline = time.monotonic() + drain_s
        while self.waiting and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.waiting:
            logger.warning("backbone publisher stopping with %d frames not acked", self.waiting)
        try:
            self._runner.call(self._stop(), 10.0)
        except Exception as exc:  # shutting down anyway: say what failed
            logger.warning("closing the backbone publisher: %s", exc)
        self._runner.stop()
        self._loop = None

    async def _stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()

    # -- publishing -----------------------------------------------------------------------------

    @property
    def waiting(self) -> int:
        """Messages submitted and not yet acked or failed."""
        return self._waiting

    def submit(self, outgoing: Outgoing) -> bool:
        """Queue one message (from any thread); False (counted ``refused``) when ``capacity``
        messages are already waiting or the publisher is not running."""
        loop = self._loop
        with self._lock:
            if loop is None or self._queue is None or self._waiting >= self.capacity:
                self.counts["refused"] += 1
                return False
            self._waiting += 1
            self.counts["submitted"] += 1
            self._handed.append(outgoing)
            if self._pump_due:
                return True
            self._pump_due = True
        # one wake-up of the loop per batch, not per frame (each is a write to its self-pipe)
        loop.call_soon_threadsafe(self._pump)
        return True

    def _pump(self) -> None:
        """On the loop: move what ``submit`` handed over into the workers' queue."""
        assert self._queue is not None
        with self._lock:
            handed, self._handed = self._handed, []
            self._pump_due = False
        for outgoing in handed:
            self._queue.put_nowait(outgoing)

    async def _worker(self) -> None:
        assert self._queue is not None
        while True:
            outgoing = await self._queue.get()
            self._in_flight += 1
            try:
                await self._publish(outgoing)
            finally:
                self._in_flight -= 1
                with self._lock:
                    self._waiting -= 1

    async def _publish(self, outgoing: Outgoing) -> None:
        assert self._js is not None
        deadline = time.monotonic() + self.retry_for_s
        pause = 0.02
        while True:
            try:
                if self.shard_zoom is not None and outgoing.subject.startswith("v2x."):
                    await self._ensure_shard(outgoing.subject.split(".")[2])
                ack = await self._js.publish(
                    outgoing.subject,
                    outgoing.payload,
                    timeout=self.ack_timeout_s,
                    headers=outgoing.headers,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # timeouts, no responders, reconnecting: retry, same id
                if time.monotonic() >= deadline:
                    self._failed(outgoing, f"{type(exc).__name__}: {exc}")
                    return
                self.counts["retries"] += 1
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.5)
                continue
            self.counts["duplicates" if ack.duplicate else "acked"] += 1
            if self.on_acked is not None:
                self._callback(self.on_acked, outgoing, ack.seq)
            return

    async def _ensure_shard(self, shard: str) -> None:
        """Make sure frame shard ``shard``'s stream exists (``ensure_streams``: created, or
        brought to this gateway's settings) before its first frame; once per shard, the
        concurrent publishers of its first frames waiting for the same call. A failure is
        forgotten, so the next frame's publish (a retry) tries again."""
        assert self._js is not None
        done = self._shards.get(shard)
        if done is None:
            spec = backbone.shard_spec(
                shard, servers=self._servers, frames_max_age_s=self.frames_max_age_s
            )
            done = self._shards[shard] = asyncio.ensure_future(ensure_streams(self._js, [spec]))
            self.counts["shard_streams"] += 1
        try:
            await asyncio.shield(done)
        except Exception:
            if self._shards.get(shard) is done:
                del self._shards[shard]
                self.counts["shard_streams"] -= 1
            raise

    def _failed(self, outgoing: Outgoing, reason: str) -> None:
        self.counts["failed"] += 1
        if self.counts["failed"] in (1, 10, 100) or self.counts["failed"] % 1000 == 0:
            logger.error(
                "backbone: %s not acked for %.0f s (%d failed so far): %s",
                outgoing.subject,
                self.retry_for_s,
                self.counts["failed"],
                reason,
            )
        if self.on_failed is not None:
            self._callback(self.on_failed, outgoing, reason)

    def _callback(self, fn: Callable[[Outgoing, Any], None], outgoing: Outgoing, arg: Any) -> None:
        try:
            fn(outgoing, arg)
        except Exception:  # a caller's bug must not stop the publisher
            self.counts["callback_errors"] += 1
            logger.exception("backbone publisher callback %r failed", fn)

    def stats(self) -> dict[str, int]:
        """Counters, plus ``waiting`` and ``in_flight`` now and ``connected`` (0/1)."""
        nc = self._nc
        return dict(self.counts) | {
            "waiting": self._waiting,
            "in_flight": self._in_flight,
            "connected": int(nc is not None and nc.is_connected),
        }


_JSON = msgspec.json.Encoder()
#: What each result stream carries (msgspec JSON of the model).
_RESULT_TYPES: dict[str, type[Any]] = {
    backbone.ADVISORIES: Advisory,
    backbone.DELIVERIES: Advisory,  # the workers' new warnings, for the gateways' down-link
    backbone.EVENTS: RoadEvent,
    backbone.DEAD: DeadLetter,
    backbone.TRAFFIC: backbone.TileTraffic,  # the workers' lane samples, for the centre
    backbone.MISBEHAVIOUR: MisbehaviourReport,  # senders a worker flagged
    backbone.EV: backbone.EvFrame,  # GB/T 32960 reports the gateways accepted
}
#: an ephemeral result consumer is removed this long after its reader went (s)
EPHEMERAL_INACTIVE_S = 30.0
#: the subjects of each result stream (an ephemeral consumer's filter)
_STREAM_SUBJECTS = {spec.name: spec.subjects[0] for spec in backbone.streams(servers=1)}
#: channels of a result stream whose messages carry another type (the subject's last token)
_CHANNEL_TYPES: dict[tuple[str, str], type[Any]] = {
    (backbone.DELIVERIES, backbone.CHANNEL_RSI): backbone.RsiDelivery,
}


def stream_position(reply: str) -> tuple[int, int]:
    """(stream sequence, time the stream stored it in ns since the epoch) of a JetStream
    delivery, read from its ``$JS.ACK`` reply subject
    (``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<time>.<pending>``, 9 tokens, or
    the 12-token form with domain and account hash before the stream); ``ValueError`` for
    anything else. The same fields nats-py's ``Msg.metadata`` reads, without building its
    metadata objects."""
    tokens = reply.split(".")
    if len(tokens) == 9 and tokens[0] == "$JS":
        return int(tokens[5]), int(tokens[7])
    if len(tokens) >= 12 and tokens[0] == "$JS":
        return int(tokens[7]), int(tokens[9])
    raise ValueError(f"{reply!r} is not a JetStream delivery's reply subject")


def stream_sequence(reply: str) -> int:
    """The stream sequence of a JetStream delivery (``stream_position``)."""
    return stream_position(reply)[0]


#: the JetStream API subject a pull request for ``{stream}.{consumer}`` is published to
_NEXT = "$JS.API.CONSUMER.MSG.NEXT.{}.{}"
#: pull statuses after which the request is over and a new one may be sent at once (408:
#: expired; 409: e.g. a leadership change, a request over the consumer's limits)
_RENEW_AFTER = ("408", "409")


class ContinuousPull:
    """Messages of a pull consumer kept flowing to ``handle`` (an async callable per message).

    One core subscription on a private inbox (``BackboneClient.subscribe_plain``: messages
    are handed over as ``PulledMsg``); pull requests (``$JS.API.CONSUMER.MSG.NEXT``)
    of ``batch`` messages that wait up to ``expires_s`` on the server, a new one sent whenever
    fewer than half a batch are still due, so the server pushes each message as it is stored
    and a backlog streams in without a round trip per batch. nats-py's ``fetch`` instead
    awaited every message of a batch through ``next_msg`` (a task, a uuid and a timer per
    message): most of a tile worker's per-frame CPU outside its own work.

    A request's end is told by a status message: 408 (expired) and 409 (e.g. a leadership
    change) carry how many of it were not delivered (``Nats-Pending-Messages``), which are no
    longer due; 404/503 (no consumer, no responders) stop the requests until ``watch()`` —
    called every fraction of a second by the owner — renews them, as it does when nothing at
    all was heard for ``expires_s`` + 1 s (requests lost with a server). Messages are handed
    over in order, one at a time (the subscription's callback task); what ``handle`` raises
    is logged and counted (``pull_errors``) and the reading goes on. Counters in ``counts``."""

    def __init__(
        self,
        nc: BackboneClient,
        stream: str,
        consumer: str,
        handle: Callable[[PulledMsg], Coroutine[Any, Any, None]],
        *,
        batch: int = 1000,
        expires_s: float = 2.0,
        counts: Counter[str] | None = None,
    ) -> None:
        if batch < 2 or expires_s <= 0:
            raise ValueError("a continuous pull needs batch >= 2 and expires_s > 0")
        self.nc = nc
        self.consumer = consumer
        self.subject = _NEXT.format(stream, consumer)
        self.handle = handle
        self.batch = batch
        self.expires_s = expires_s
        self.counts: Counter[str] = counts if counts is not None else Counter()
        self.due = 0  # messages asked for and not yet delivered or declared undeliverable
        self.heard = time.monotonic()
        self._inbox = nc.new_inbox()
        self._sub: Any = None
        self._request = json.dumps(
            {"batch": batch, "expires": int(expires_s * 1e9)}, separators=(",", ":")
        ).encode()

    async def start(self) -> None:
        """Subscribe to the inbox and send the first request."""
        self._sub = await self.nc.subscribe_plain(self._inbox, self._on_msg)
        await self._renew()

    async def stop(self) -> None:
        """Unsubscribe (messages still due are dropped by the server with the inbox)."""
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except Exception as exc:  # a closed connection: nothing left to stop
                self.counts["pull_stop_errors"] += 1
                logger.warning("pull %s: unsubscribe failed: %s", self.consumer, exc)

    async def watch(self) -> None:
        """Renew the requests when the server has said nothing for too long (lost requests)
        or when a 404/503 stopped them a second ago."""
        if self._sub is None:
            return
        silent = time.monotonic() - self.heard
        if silent > self.expires_s + 1.0 or (self.due <= 0 and silent > 1.0):
            self.counts["pull_renewed_silent"] += 1
            self.due = 0
            self.heard = time.monotonic()
            await self._renew()

    async def _renew(self) -> None:
        try:
            await self.nc.publish(self.subject, self._request, reply=self._inbox)
        except Exception as exc:  # reconnecting: watch() tries again
            self.counts["pull_request_errors"] += 1
            logger.warning("pull %s: request failed: %s", self.consumer, exc)
            return
        self.due += self.batch
        self.counts["pull_requests"] += 1

    async def _on_msg(self, msg: PulledMsg) -> None:
        if self._sub is None:
            return  # stopped: what was still in the inbox's queue is not handed over
        self.heard = time.monotonic()
        headers = msg.headers
        if headers and not msg.data and "Status" in headers:
            await self._on_status(headers)
            return
        self.due -= 1
        if self.due <= self.batch // 2:
            await self._renew()
        try:
            await self.handle(msg)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one message must not stop the reading
            self.counts["pull_errors"] += 1
            logger.warning(
                "pull %s: %s on %s: %s", self.consumer, type(exc).__name__, msg.subject, exc
            )

    async def _on_status(self, headers: dict[str, str]) -> None:
        status = headers["Status"]
        if status == "100":  # an idle heartbeat (not asked for): nothing to do
            return
        self.counts[f"pull_status_{status}"] += 1
        try:
            self.due -= int(headers.get("Nats-Pending-Messages", "0"))
        except ValueError:
            self.due = 0
        if status in _RENEW_AFTER:
            if self.due <= self.batch // 2:
                await self._renew()
        else:  # 404 / 503: no consumer (replaced, or its server gone): watch() renews
            self.due = 0
            logger.warning("pull %s: status %s %s", self.consumer, status, headers)


class ResultConsumer:
    """The centre tier's durable reader of one result stream (advisories, events or dead
    letters), explicit acks, on the caller's asyncio loop.

    ``run()`` fetches batches of up to ``batch`` and hands each decoded model to ``handle``
    (``Advisory`` for ``V2X_ADVISORIES``, ``RoadEvent`` for ``V2X_EVENTS``, ``DeadLetter``
    for ``V2X_DEAD``; on ``V2X_DELIVERIES`` an ``Advisory`` for a ``warning``, a
    ``backbone.RsiDelivery`` for an ``rsi``), acking each after ``handle`` returned: a centre that dies mid-batch
    gets the rest again from the durable consumer ``durable``. ``handle`` raising is logged,
    counted (``handler_errors``) and the message is nacked for redelivery (at most
    ``max_deliver`` times). A payload that does not decode is acked and given to ``on_bad``
    as a ``bad_payload`` dead letter, received at ``now_ms()`` (default: the system clock).
    ``durable`` None: an ephemeral consumer of the whole stream window instead (it goes
    ``EPHEMERAL_INACTIVE_S`` after its reader; a gateway's table of flags, rebuilt in full at
    each start). ``with_subject``: ``handle(model, subject)`` (the subject names the tile).
    ``new_only``: a new durable consumer starts at the stream's end (a gateway's down-link
    must not resend an hour of old warnings), else at its start (the centre's history).
    """

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        handle: Callable[..., None],
        *,
        durable: str | None,
        on_bad: Callable[[DeadLetter], None] | None = None,
        batch: int = 256,
        max_deliver: int = 5,
        now_ms: Callable[[], int] | None = None,
        new_only: bool = False,
        with_subject: bool = False,
    ) -> None:
        if stream not in _RESULT_TYPES:
            raise ConfigError(f"no result type for stream {stream!r}: {sorted(_RESULT_TYPES)}")
        self.js = js
        self.stream = stream
        self.handle = handle
        self.durable = durable
        self.on_bad = on_bad
        self.batch = batch
        self.max_deliver = max_deliver
        self.new_only = new_only
        self.with_subject = with_subject
        self.counts: Counter[str] = Counter()
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._decoder = msgspec.json.Decoder(_RESULT_TYPES[stream])
        self._channel_decoders = {
            channel: msgspec.json.Decoder(kind)
            for (name, channel), kind in _CHANNEL_TYPES.items()
            if name == stream
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch and handle until ``stop`` is set."""
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW if self.new_only else DeliverPolicy.ALL,
            max_deliver=self.max_deliver,
            ack_wait=30.0,
        )
        if self.durable is None:
            config.inactive_threshold = EPHEMERAL_INACTIVE_S
            sub = await self.js.pull_subscribe(
                _STREAM_SUBJECTS[self.stream], stream=self.stream, config=config
            )
        else:
            sub = await self.js.pull_subscribe(
                "", durable=self.durable, stream=self.stream, config=config
            )
        while not stop.is_set():
            try:
                msgs = await sub.fetch(self.batch, timeout=0.5)
            except TimeoutError:  # nats-py raises its own or asyncio's
                continue
            except Exception as exc:  # a server going away: the client reconnects
                self.counts["fetch_errors"] += 1
                logger.warning("centre: fetch from %s failed: %s", self.stream, exc)
                await asyncio.sleep(0.2)
                continue
            for msg in msgs:
                await self._one(msg)

    async def _one(self, msg: Msg) -> None:
        decoder = self._decoder
        if self._channel_decoders:
            channel = msg.subject.rpartition(".")[2]
            decoder = self._channel_decoders.get(channel, decoder)
        try:
            model = decoder.decode(msg.data)
        except msgspec.DecodeError as exc:
            self.counts["bad_payload"] += 1
            logger.warning("centre: %s on %s does not decode: %s", self.stream, msg.subject, exc)
            await msg.ack()
            if self.on_bad is not None:
                self.on_bad(
                    DeadLetter(
                        raw=msg.data,
                        source=msg.subject,
                        received_at_ms=self._now_ms(),
                        reason=DropReason.BAD_PAYLOAD,
                        detail=f"{self.stream}: {exc}",
                        where=msg.subject,
                    )
                )
            return
        try:
            if self.with_subject:
                self.handle(model, msg.subject)
            else:
                self.handle(model)
        except Exception:
            self.counts["handler_errors"] += 1
            logger.exception("centre: handling %s from %s failed", self.stream, msg.subject)
            await msg.nak(delay=1.0)
            return
        self.counts["handled"] += 1
        await msg.ack()


def _reference(models: Sequence[SceneModel], device: Device) -> tuple[float, float] | None:
    """Where a frame belongs: a BSM's own position; else the device's registered position
    (an RSU's frames); else the first position a model carries
    (``runtime.tiles.reference_position``)."""
    first = models[0] if models else None
    if isinstance(first, Bsm):
        return first.participant.lat_deg, first.participant.lon_deg
    if device.lat_deg is not None and device.lon_deg is not None:
        return device.lat_deg, device.lon_deg
    for model in models:
        where = reference_position(model)
        if where is not None:
            return where
    return None


class FrameForwarder:
    """The gateway's hand-off to the backbone (``Ingestor(forward=...)``): each accepted frame
    is published on ``v2x.{tenant}.{tile}.{cell}.{type}`` with the contract's headers (with
    the publisher's ``shard_zoom``, ``v2x.{tenant}.{shard}.{tile}.{cell}.{type}``: its shard's
    stream, created on its first frame).

    Its place is ``place_of`` (``runtime.tiles.place_of``: type, position, and ``far`` for the
    own report of a far-reach partner, ``runtime.tiles.files_far``) of the frame's reference
    position (``_reference``); a frame with none goes to tile ``unplaced`` (counted). A frame the
    publisher refuses (over its capacity) or never gets acked is dead-lettered through
    ``dead_letter`` (thread-safe: ``Ingestor.dead_letter_later``) as ``queue_full`` or
    ``backbone_unavailable``. ``dead_letters(letters)`` is a runtime dead-letter sink that
    publishes each letter on ``dead.{tenant}.{reason}`` (msgspec JSON of the ``DeadLetter``).
    """

    def __init__(
        self,
        publisher: BackbonePublisher,
        *,
        dead_letter: Callable[[DeadLetter], None],
        place_of: Callable[..., str],
        tenant_of: Callable[[str], str | None],
    ) -> None:
        self.publisher = publisher
        self.dead_letter = dead_letter
        self.place_of = place_of
        self.tenant_of = tenant_of
        self.counts: Counter[str] = Counter()
        self._encoder = msgspec.json.Encoder()
        publisher.on_failed = self._failed

    def __call__(
        self, frame: InboundFrame, device: Device, message_type: str, models: Sequence[SceneModel]
    ) -> None:
        """Publish one accepted frame (never blocks, never raises on a full publisher)."""
        where = _reference(models, device)
        if where is None:
            tile = "unplaced"
            self.counts["unplaced"] += 1
        else:
            far = bool(models) and files_far(models[0])
            tile = self.place_of(message_type, *where, far=far)
        outgoing = Outgoing(
            backbone.frame_subject(
                device.tenant, tile, message_type, shard_zoom=self.publisher.shard_zoom
            ),
            frame.payload,
            frame_headers(
                device.device_id,
                frame.received_at_ms,
                frame.payload,
                kind=device.kind.value,
                message_set=device.message_set,
                fmt=device.shape or "auto",
            ),
        )
        if self.publisher.submit(outgoing):
            self.counts["submitted"] += 1
            return
        self.counts["refused"] += 1
        detail = f"backbone publisher full ({self.publisher.capacity} waiting for PubAcks)"
        self.dead_letter(self._letter(outgoing, DropReason.QUEUE_FULL, detail))

    def _failed(self, outgoing: Outgoing, reason: str) -> None:
        detail = f"no PubAck within {self.publisher.retry_for_s:g} s: {reason}"
        self.dead_letter(self._letter(outgoing, DropReason.BACKBONE_UNAVAILABLE, detail))

    def _letter(self, outgoing: Outgoing, reason: DropReason, detail: str) -> DeadLetter:
        if outgoing.subject.startswith("v2x."):  # a device frame: its id says who and when
            source, received_ms = backbone.frame_source(outgoing.msg_id)
        else:  # an EV report's frame names its sender; a dead letter published names none
            headers = outgoing.headers
            source = headers.get(backbone.HEADER_DEVICE, "")
            received_ms = int(headers.get(backbone.HEADER_RECEIVED_MS, "0"))
        return DeadLetter(
            raw=outgoing.payload,
            source=source,
            received_at_ms=received_ms,
            reason=reason,
            detail=detail,
            where=outgoing.subject,
        )

    def dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Publish dead letters on ``dead.{tenant}.{reason}`` (a runtime dead-letter sink)."""
        for letter in letters:
            outgoing = dead_letter_outgoing(letter, self.tenant_of(letter.source) or "_")
            if not self.publisher.submit(outgoing):
                self.counts["dead_letters_refused"] += 1


def dead_letter_outgoing(letter: DeadLetter, tenant: str) -> Outgoing:
    """A dead letter for ``V2X_DEAD`` (``dead.{tenant}.{reason}``, msgspec JSON), message id
    ``dead:{frame id}:{reason}`` of its input (``backbone.frame_msg_id`` of source, receive time
    and raw bytes): the same input dropped for the same reason by two processes (a gateway
    retrying; two workers reading one frame, its tile's and a halo's) is stored once."""
    digest = backbone.frame_msg_id(letter.source, letter.received_at_ms, letter.raw)
    return Outgoing(
        backbone.dead_subject(tenant, letter.reason.value),
        _JSON.encode(letter),
        {backbone.HEADER_MSG_ID: f"dead:{digest}:{letter.reason.value}"},
    )


class CentreRsi:
    """The centre tier's RSI down-link (a ``Runtime`` delivery sink, ``add_delivery_sink``).

    The centre runtime's delivery stage addresses every event in force: the workers' events
    (received: the workers publish their own RSI) and the events of the centre's own
    detectors (``runtime.corridor``: congestion along corridors no worker sees whole). Only the
    latter's deliveries (new / update / refresh / expired) are published here, each as a
    ``backbone.RsiDelivery`` on ``dlv.{tenant}.{tile}.rsi`` (the tile of the event's place),
    its RSI encoded in ``message_set`` under the sender id of the centre's events in that tile
    (``runtime.identity.scope_sender_id("centre:{tile}")``: its ``rteId`` never meets the same
    id of the tile's worker under one sender), message id ``rsi:{reason}:{identity}:{second}`` like a worker's
    (identity ``runtime.ownership.event_digest`` of the detector's condition key, from the
    runtime's last detection round ``events.round``), for the gateways' down-link to the
    RSUs in range. What the publisher refuses is counted (``refused``). At most ``max_keys``
    events are remembered between their first delivery and their expiry (the oldest first).
    """

    name = "centre_rsi"

    def __init__(
        self,
        publisher: BackbonePublisher,
        rounds: Callable[[], Sequence[tuple[str, RoadEvent]]],
        *,
        message_set: MessageSet,
        tenant: str = "default",
        max_keys: int = 100_000,
        failures: FailureLog | None = None,
    ) -> None:
        self.publisher = publisher
        self.message_set = message_set
        self.failures = failures
        self.rounds = rounds
        self.tenant = tenant
        self.max_keys = max_keys
        self.counts: Counter[str] = Counter()
        self._encoder = msgspec.json.Encoder()
        self._known: dict[str, tuple[str, str]] = {}  # delivery key -> (tile, identity)

    def deliver(self, deliveries: Sequence[Delivery], *, now_ms: int) -> None:
        """Publish the RSI of the centre's own events among ``deliveries``."""
        for key, event in self.rounds():
            if event.lat_deg is None or event.lon_deg is None:
                continue
            if event.end_ms is not None and event.end_ms <= now_ms:
                continue  # ended: its expiry needs only what is known
            dkey = f"event|{event.source}|{event.kind}|{event.event_id}"
            if dkey not in self._known:
                tile = tile_of(event.lat_deg, event.lon_deg)
                self._known[dkey] = (tile, event_digest(self.tenant, event.kind or "", key))
                if len(self._known) > self.max_keys:
                    del self._known[next(iter(self._known))]
                    self.counts["forgotten"] += 1
        for delivery in deliveries:
            found = delivery.payload
            if not isinstance(found, RoadEvent):
                continue
            known = self._known.get(delivery.key)
            if known is None:  # a worker's event (it publishes its own RSI)
                continue
            if delivery.reason == "expired":
                del self._known[delivery.key]
            tile, identity = known
            body = backbone_rsi(
                delivery,
                found,
                sender=f"centre:{tile}",
                identity=identity,
                message_set=self.message_set,
                failures=self.failures,
            )
            outgoing = Outgoing(
                backbone.delivery_subject(self.tenant, tile, backbone.CHANNEL_RSI),
                self._encoder.encode(body),
                {
                    backbone.HEADER_MSG_ID: f"rsi:{delivery.reason}:{identity}:{now_ms // 1000}",
                    backbone.HEADER_EVENT: identity,
                },
            )
            if self.publisher.submit(outgoing):
                self.counts[f"rsi_{delivery.reason}"] += 1
            else:
                self.counts["refused"] += 1


class ResultFeed:
    """Durable consumers of result streams (``ResultConsumer``, explicit acks) on their own
    loop thread, each stream's decoded models handed to its handler (thread-safe, never
    blocking: ``runtime.remote.RemoteResults``' ``put_*``, a deque's ``append``).

    The centre tier reads ``V2X_ADVISORIES``, ``V2X_EVENTS`` and ``V2X_DEAD`` from the start
    of the streams; a gateway reads ``V2X_DELIVERIES`` from now on (``new_only``) for its
    down-link. ``durable=False``: ephemeral consumers of each stream's whole window (a
    gateway's flags). The handlers of the streams in ``with_subject`` are also given each
    message's subject. ``kv_watch``: KV buckets whose entries (current, then each change) go
    to a handler (the centre's roster of the workers' heartbeats). ``core``: core-NATS
    subjects (no stream) whose messages go to ``handler(subject, data)`` as they arrive (the
    centre's live map, ``gateways.live_feed``; a handler that raises is counted in
    ``stats()["core"]`` and logged). ``durable_prefix`` names the consumers: processes sharing it share the work, a
    process restarted with it resumes where it stopped.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        handlers: dict[str, Callable[..., None]],
        on_bad: Callable[[DeadLetter], None],
        servers: int | None = None,
        durable_prefix: str = "v2xcloud-centre",
        durable: bool = True,
        new_only: bool = False,
        now_ms: Callable[[], int] | None = None,
        with_subject: Collection[str] = (),
        kv_watch: dict[str, Callable[[Any], None]] | None = None,
        core: dict[str, Callable[[str, bytes], None]] | None = None,
        shard_zoom: int | None = None,
    ) -> None:
        self.urls = list(urls)
        self.core = dict(core or {})
        self.core_counts: Counter[str] = Counter()
        self.specs = backbone.streams(servers=servers or len(self.urls), shard_zoom=shard_zoom)
        self.handlers = handlers
        self.with_subject = frozenset(with_subject)
        self.kv_watch = dict(kv_watch or {})
        self.kv_counts: Counter[str] = Counter()
        self.on_bad = on_bad
        self.durable_prefix = durable_prefix
        self.durable = durable
        self.new_only = new_only
        self.now_ms = now_ms
        self.consumers: list[ResultConsumer] = []
        self._runner = _LoopThread(durable_prefix)
        self._nc: NatsClient | None = None
        self._stop_event: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, *, timeout_s: float = 15.0) -> ResultFeed:
        """Connect, ensure the streams, start the consumers; ``GatewayError`` if it fails."""
        self._runner.start(timeout_s)
        try:
            self._runner.call(self._start(), timeout_s)
        except Exception:
            self.stop()
            raise
        return self

    async def _start(self) -> None:
        self._nc = await connect(self.urls, name=self.durable_prefix)
        js = self._nc.jetstream()
        await ensure_streams(js, self.specs)
        self._stop_event = asyncio.Event()
        for stream, handle in self.handlers.items():
            consumer = ResultConsumer(
                js,
                stream,
                handle,
                durable=f"{self.durable_prefix}-{stream.lower()}" if self.durable else None,
                on_bad=self.on_bad,
                now_ms=self.now_ms,
                new_only=self.new_only,
                with_subject=stream in self.with_subject,
            )
            self.consumers.append(consumer)
            self._tasks.append(asyncio.create_task(self._run(consumer)))
        for bucket, handle in self.kv_watch.items():
            self._tasks.append(asyncio.create_task(self._watch(js, bucket, handle)))
        for subject, take in self.core.items():
            await self._nc.subscribe(subject, cb=self._core_callback(take))

    def _core_callback(
        self, take: Callable[[str, bytes], None]
    ) -> Callable[[Msg], Coroutine[Any, Any, None]]:
        async def on_msg(msg: Msg) -> None:
            try:
                take(msg.subject, msg.data)
            except Exception:  # the handler's fault: counted, the subscription goes on
                self.core_counts["handler_errors"] += 1
                logger.exception("centre: handling %s failed", msg.subject)
                return
            self.core_counts["handled"] += 1

        return on_msg

    async def _watch(
        self, js: JetStreamContext, bucket: str, handle: Callable[[Any], None]
    ) -> None:
        """Hand every entry of the KV ``bucket`` (its current values, then each change) to
        ``handle``; a bucket not there yet, or a server gone, is watched again (counted)."""
        assert self._stop_event is not None
        while not self._stop_event.is_set():
            try:
                watcher = await (await js.key_value(bucket)).watchall()
                while not self._stop_event.is_set():
                    try:
                        entry = await watcher.updates(timeout=1.0)
                    except nats.errors.TimeoutError:
                        continue
                    if entry is not None:
                        handle(entry)
                        self.kv_counts[f"{bucket}_entries"] += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # no bucket yet (no worker started), a server gone
                self.kv_counts[f"{bucket}_rewatch"] += 1
                if self.kv_counts[f"{bucket}_rewatch"] in (1, 10, 100):
                    logger.info("centre: watching %s: %s (again)", bucket, exc)
                await asyncio.sleep(1.0)

    async def _run(self, consumer: ResultConsumer) -> None:
        assert self._stop_event is not None
        try:
            await consumer.run(self._stop_event)
        except asyncio.CancelledError:
            raise
        except Exception:  # logged and counted; the other streams go on
            consumer.counts["crashed"] += 1
            logger.exception("centre: consumer of %s stopped", consumer.stream)

    def stop(self) -> None:
        """Stop the consumers and close the connection; safe twice."""
        if self._runner.loop is None:
            return
        try:
            self._runner.call(self._stop(), 10.0)
        except Exception as exc:  # shutting down anyway: say what failed
            logger.warning("closing the result feed %s: %s", self.durable_prefix, exc)
        self._runner.stop()

    async def _stop(self) -> None:
        if self._stop_event is not None:
            self._stop_event.set()
        await asyncio.wait(self._tasks, timeout=2.0) if self._tasks else None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()

    def stats(self) -> dict[str, dict[str, int]]:
        """Each stream consumer's counters (handled, bad_payload, handler_errors, ...), and
        with ``core`` subscriptions their counters (``"core"``)."""
        out = {c.stream: dict(c.counts) for c in self.consumers}
        if self.core:
            out["core"] = dict(self.core_counts)
        return out
