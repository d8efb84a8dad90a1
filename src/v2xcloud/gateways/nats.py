"""The NATS JetStream backbone's I/O: connecting, the streams, publishing frames, reading results.

What travels and under which names is ``runtime.backbone`` (the one contract); this module
does the network side with ``nats-py``:

- ``parse_nats_urls`` checks ``--nats`` (one URL or a comma-separated list of every server:
  a client given all of them fails over when one dies);
- ``ensure_streams`` creates or updates the five streams (``runtime.backbone.streams``);
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
- ``frame_headers`` / ``frame_of`` write and read a frame's headers (the edge workers rebuild
  the ``InboundFrame`` from a stream message with ``frame_of``);
- ``ResultConsumer`` is the centre tier's reader: a durable pull consumer per stream with
  explicit acks, handing each message's decoded model (``Advisory``, ``RoadEvent``,
  ``DeadLetter``) to a callback and acking after it returned; a message that does not decode
  is logged, counted, acked (it would never decode) and given to ``on_bad`` as a dead letter.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from v2xcloud.errors import ConfigError, GatewayError
from v2xcloud.gateways.base import DeviceKind, InboundFrame
from v2xcloud.model import (
    Advisory,
    Bsm,
    DeadLetter,
    Device,
    DropReason,
    MapData,
    ParticipantState,
    RoadEvent,
    Rsi,
    Rsm,
    Spat,
)
from v2xcloud.runtime import backbone
from v2xcloud.runtime.backbone import StreamSpec
from v2xcloud.runtime.tiles import reference_position

__all__ = [
    "BackbonePublisher",
    "FrameForwarder",
    "Outgoing",
    "ResultConsumer",
    "ResultFeed",
    "connect",
    "ensure_streams",
    "frame_headers",
    "frame_of",
    "parse_nats_urls",
]

logger = logging.getLogger(__name__)

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


async def connect(urls: Sequence[str], *, name: str) -> NatsClient:
    """A client connected to any of ``urls``, reconnecting for ever (every 0.1 s) when its
    server goes; ``GatewayError`` when none answers at first."""

    async def _error(exc: Exception) -> None:
        logger.warning("nats %s: %s", name, exc)

    try:
        return await nats.connect(
            servers=list(urls),
            name=name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.1,
            connect_timeout=2.0,
            allow_reconnect=True,
            error_cb=_error,
        )
    except Exception as exc:  # nats-py raises several types for "nobody there"
        raise GatewayError(f"cannot connect to NATS at {','.join(urls)}: {exc}") from exc


async def ensure_streams(js: JetStreamContext, specs: Sequence[StreamSpec]) -> None:
    """Create each stream, or update it to ``spec`` when it exists with other settings.

    An existing stream never loses replicas here: a process that was told of fewer servers
    than the cluster has (a worker started with the default) keeps the stream's replica
    count (logged), so only an operator's explicit change lowers it."""
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
            await js.add_stream(config)
            logger.info("stream %s (%s) created, R%d", spec.name, spec.subjects[0], spec.replicas)
            continue
        have = info.config.num_replicas or 1
        if have > spec.replicas:
            logger.info("stream %s keeps R%d (asked R%d)", spec.name, have, spec.replicas)
            config.num_replicas = have
        current = (info.config.max_age, info.config.num_replicas, info.config.duplicate_window)
        if current != (config.max_age, config.num_replicas, config.duplicate_window):
            await js.update_stream(config)
            logger.info("stream %s updated to R%d", spec.name, config.num_replicas)


def frame_headers(frame: InboundFrame, device: Device, message_type: str) -> dict[str, str]:
    """The contract's headers of an accepted frame (``runtime.backbone``)."""
    return {
        backbone.HEADER_MSG_ID: backbone.frame_msg_id(
            device.device_id, frame.received_at_ms, frame.payload
        ),
        backbone.HEADER_DEVICE: device.device_id,
        backbone.HEADER_KIND: device.kind.value,
        backbone.HEADER_RECEIVED_MS: str(frame.received_at_ms),
        backbone.HEADER_MESSAGE_SET: device.message_set,
        backbone.HEADER_FORMAT: device.shape or "auto",
        "V2X-Type": message_type,
    }


def frame_of(subject: str, headers: dict[str, str] | None, data: bytes) -> InboundFrame:
    """The ``InboundFrame`` a frame-stream message carries; ``GatewayError`` naming the missing
    or bad header."""
    hdr = headers or {}
    try:
        device_id = hdr[backbone.HEADER_DEVICE]
        kind = DeviceKind(hdr[backbone.HEADER_KIND])
        received_ms = int(hdr[backbone.HEADER_RECEIVED_MS])
    except (KeyError, ValueError) as exc:
        raise GatewayError(f"frame on {subject}: header {exc} missing or bad") from exc
    message_type = hdr.get("V2X-Type") or subject.rsplit(".", 1)[-1].upper()
    return InboundFrame(
        payload=data,
        device_id=device_id,
        device_kind=kind,
        message_type=message_type,
        transport="nats",
        channel=subject,
        received_at_ms=received_ms,
    )


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
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

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
    ) -> None:
        self.urls = list(urls)
        self.specs = backbone.streams(
            servers=servers or len(self.urls), frames_max_age_s=frames_max_age_s
        )
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


#: What each result stream carries (msgspec JSON of the model).
_RESULT_TYPES: dict[str, type[Any]] = {
    backbone.ADVISORIES: Advisory,
    backbone.DELIVERIES: Advisory,  # the workers' new warnings, for the gateways' down-link
    backbone.EVENTS: RoadEvent,
    backbone.DEAD: DeadLetter,
}


class ResultConsumer:
    """The centre tier's durable reader of one result stream (advisories, events or dead
    letters), explicit acks, on the caller's asyncio loop.

    ``run()`` fetches batches of up to ``batch`` and hands each decoded model to ``handle``
    (``Advisory`` for ``V2X_ADVISORIES``, ``RoadEvent`` for ``V2X_EVENTS``, ``DeadLetter``
    for ``V2X_DEAD``), acking each after ``handle`` returned: a centre that dies mid-batch
    gets the rest again from the durable consumer ``durable``. ``handle`` raising is logged,
    counted (``handler_errors``) and the message is nacked for redelivery (at most
    ``max_deliver`` times). A payload that does not decode is acked and given to ``on_bad``
    as a ``bad_payload`` dead letter, received at ``now_ms()`` (default: the system clock).
    ``new_only``: a new durable consumer starts at the stream's end (a gateway's down-link
    must not resend an hour of old warnings), else at its start (the centre's history).
    """

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        handle: Callable[[Any], None],
        *,
        durable: str,
        on_bad: Callable[[DeadLetter], None] | None = None,
        batch: int = 256,
        max_deliver: int = 5,
        now_ms: Callable[[], int] | None = None,
        new_only: bool = False,
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
        self.counts: Counter[str] = Counter()
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._decoder = msgspec.json.Decoder(_RESULT_TYPES[stream])

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch and handle until ``stop`` is set."""
        sub = await self.js.pull_subscribe(
            "",
            durable=self.durable,
            stream=self.stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.NEW if self.new_only else DeliverPolicy.ALL,
                max_deliver=self.max_deliver,
                ack_wait=30.0,
            ),
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
        try:
            model = self._decoder.decode(msg.data)
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
    is published on ``v2x.{tenant}.{tile}.{cell}.{type}`` with the contract's headers.

    Its place is ``place_of`` (``runtime.tiles.place_of``: type, position) of the frame's reference position
    (``_reference``); a frame with none goes to tile ``unplaced`` (counted). A frame the
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
        place_of: Callable[[str, float, float], str],
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
            tile = self.place_of(message_type, *where)
        outgoing = Outgoing(
            backbone.frame_subject(device.tenant, tile, message_type),
            frame.payload,
            frame_headers(frame, device, message_type),
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
        headers = outgoing.headers
        return DeadLetter(
            raw=outgoing.payload,
            source=headers.get(backbone.HEADER_DEVICE, ""),
            received_at_ms=int(headers.get(backbone.HEADER_RECEIVED_MS, "0")),
            reason=reason,
            detail=detail,
            where=outgoing.subject,
        )

    def dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Publish dead letters on ``dead.{tenant}.{reason}`` (a runtime dead-letter sink)."""
        for letter in letters:
            tenant = self.tenant_of(letter.source) or "_"
            payload = self._encoder.encode(letter)
            digest = backbone.frame_msg_id(letter.source, letter.received_at_ms, payload)
            outgoing = Outgoing(
                backbone.dead_subject(tenant, letter.reason.value),
                payload,
                {backbone.HEADER_MSG_ID: f"dead:{digest}"},
            )
            if not self.publisher.submit(outgoing):
                self.counts["dead_letters_refused"] += 1


class ResultFeed:
    """Durable consumers of result streams (``ResultConsumer``, explicit acks) on their own
    loop thread, each stream's decoded models handed to its handler (thread-safe, never
    blocking: ``runtime.remote.RemoteResults``' ``put_*``, a deque's ``append``).

    The centre tier reads ``V2X_ADVISORIES``, ``V2X_EVENTS`` and ``V2X_DEAD`` from the start
    of the streams; a gateway reads ``V2X_DELIVERIES`` from now on (``new_only``) for its
    down-link. ``durable_prefix`` names the consumers: processes sharing it share the work, a
    process restarted with it resumes where it stopped.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        handlers: dict[str, Callable[[Any], None]],
        on_bad: Callable[[DeadLetter], None],
        servers: int | None = None,
        durable_prefix: str = "v2xcloud-centre",
        new_only: bool = False,
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        self.urls = list(urls)
        self.specs = backbone.streams(servers=servers or len(self.urls))
        self.handlers = handlers
        self.on_bad = on_bad
        self.durable_prefix = durable_prefix
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
                durable=f"{self.durable_prefix}-{stream.lower()}",
                on_bad=self.on_bad,
                now_ms=self.now_ms,
                new_only=self.new_only,
            )
            self.consumers.append(consumer)
            self._tasks.append(asyncio.create_task(self._run(consumer)))

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
        """Each stream consumer's counters (handled, bad_payload, handler_errors, ...)."""
        return {c.stream: dict(c.counts) for c in self.consumers}
