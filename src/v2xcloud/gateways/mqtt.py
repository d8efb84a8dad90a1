"""The MQTT gateway: devices' up-links from a broker onto the ingress queue, down-links out.

``MqttGateway`` keeps one persistent session (fixed client id, ``clean_session=False``) on
aiomqtt (paho-mqtt 2 underneath), subscribes at QoS 1 to the topic tree
(``topics.SUBSCRIPTIONS``), and for every message:

- a topic outside the tree → dead letter ``UNKNOWN_TOPIC``; a payload over ``max_payload_bytes``
  → ``OVERSIZE`` (its first ``max_payload_bytes`` kept); a full ingress queue → ``QUEUE_FULL``;
- a down-link ACK (``…/DOWN/ACK``) → ``on_ack`` (the down-link matches it to its seqNum);
- anything else → an ``InboundFrame`` on the ``IngressQueue``.

**No acknowledged message is lost.** paho acknowledges QoS 1 messages itself as soon as they
are read, before the application has them; here manual acknowledgement is on and the PUBACK
is sent only after the message is on the queue or dead-lettered; the PUBACKs of the messages
handled in one read burst leave together in one write. A message read but not yet
handled when the connection drops is not acknowledged, so the broker sends it again on the
resumed session (QoS 1 is at-least-once: a duplicate is possible, a loss is not). The in-flight
window (messages delivered but unacknowledged) is bounded by the broker's
``max_inflight_messages`` for this client.

**A clean stop leaves nothing to send again.** Written is not taken: a broker that saves its
database on every change (``gateways.broker.Mosquitto``) reads PUBACKs far slower than they
are written, and when a session with the same client id connects before it has read them, it
closes the old connection with the PUBACKs unread, and sends those messages again. ``stop()``
therefore writes the PUBACKs owed, then a PINGREQ, and waits (up to ``drain_timeout_s``) for its
PINGRESP before disconnecting: the broker handles one connection's packets in order, so the
PINGRESP means every PUBACK before it was taken.

**Identity.** ``credentials`` (``MqttCredentials``) log the platform in on an authenticated
broker (``gateways.broker.BrokerAuth``): a client certificate over ``mqtts://`` (its CN is the
platform's identity) and/or a username and password; without them it connects anonymously.

**Reconnect.** When the connection fails or drops the gateway reconnects with exponential
back-off (``backoff_initial_s`` doubling up to ``backoff_max_s``, ±``jitter`` random share) and
subscribes again, whether or not the broker kept the session (after a broker crash it may not).

Relies on aiomqtt's underlying paho client (``Client._client``) for manual acknowledgement,
which aiomqtt does not expose; pinned to aiomqtt 2.5 in pyproject for that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import paho.mqtt.client as paho

from v2xcloud.errors import ConfigError, GatewayError
from v2xcloud.gateways import topics
from v2xcloud.gateways.base import InboundFrame, IngressQueue
from v2xcloud.model import DeadLetter, DropReason
from v2xcloud.runtime.clock import Clock, SystemClock

__all__ = [
    "AckHandler",
    "DeadLetterHandler",
    "MqttCredentials",
    "MqttGateway",
    "is_tls_url",
    "parse_mqtt_url",
]

logger = logging.getLogger(__name__)

DeadLetterHandler = Callable[[DeadLetter], None]
#: ``on_ack(esn, message_type, payload, received_at_ms)`` for each ``…/DOWN/ACK`` message.
AckHandler = Callable[[str, str, bytes, int], None]


_READ_CHUNK = 256 * 1024  # bytes read from the socket at once
_MAX_TOPICS = 200_000  # parsed topic names kept (a few per device)
_BURST = 256  # packets handled per wake-up of the loop before letting others run (~20 ms)
#: The 4-byte PUBACK of every packet id (MQTT 3.1.1: 0x40, remaining length 2, the id).
_PUBACK = [b"\x40\x02" + mid.to_bytes(2, "big") for mid in range(65536)]


def parse_mqtt_url(url: str) -> tuple[str, int]:
    """``mqtt://HOST[:PORT]`` (default port 1883) or ``mqtts://HOST[:PORT]`` (TLS, default
    8883) → (host, port); ``ConfigError`` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp", "mqtts", "ssl") or not parts.hostname:
        raise ConfigError(
            f"--mqtt {url!r}: expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT], "
            "e.g. mqtt://127.0.0.1:1883"
        )
    try:
        port = parts.port or (8883 if is_tls_url(url) else 1883)
    except ValueError as exc:
        raise ConfigError(f"--mqtt {url!r}: the port is not a number") from exc
    return parts.hostname, port


def is_tls_url(url: str) -> bool:
    """Whether the broker URL asks for TLS (``mqtts://``)."""
    return urlsplit(url).scheme in ("mqtts", "ssl")


@dataclass(frozen=True)
class MqttCredentials:
    """How an MQTT client proves who it is (file paths are PEM).

    ``ca_certs`` is the CA the broker's certificate must chain to (TLS), ``certfile`` and
    ``keyfile`` the client certificate (mutual TLS: the broker takes its CN as the username),
    ``username``/``password`` a password login (the broker's password listener).
    """

    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    username: str | None = None
    password: str | None = None

    def tls_params(self, url: str) -> aiomqtt.TLSParameters | None:
        """aiomqtt's TLS settings for ``url`` (None for ``mqtt://``); ``ConfigError`` for an
        ``mqtts://`` URL without a CA."""
        if not is_tls_url(url):
            return None
        if self.ca_certs is None:
            raise ConfigError(f"{url}: TLS needs the broker's CA certificate (ca_certs)")
        return aiomqtt.TLSParameters(
            ca_certs=self.ca_certs, certfile=self.certfile, keyfile=self.keyfile
        )


class MqttGateway:
    """Broker ↔ platform. ``start()`` returns once connected and subscribed (or raises
    ``GatewayError`` after ``connect_timeout_s``); it keeps reconnecting afterwards by itself.

    ``dead_letter`` receives every dropped message (the runtime's dead-letter API);
    ``on_ack`` every down-link acknowledgement. ``stats()`` counts frames in, drops per
    reason, connects, disconnects, acknowledgements and publishes.
    """

    name = "mqtt"

    def __init__(
        self,
        url: str,
        queue: IngressQueue,
        *,
        dead_letter: DeadLetterHandler,
        on_ack: AckHandler | None = None,
        client_id: str = "v2xcloud-platform",
        max_payload_bytes: int = 64 * 1024,
        keepalive_s: int = 10,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 5.0,
        jitter: float = 0.2,
        connect_timeout_s: float = 10.0,
        drain_timeout_s: float = 10.0,
        clock: Clock | None = None,
        subscriptions: tuple[str, ...] = topics.SUBSCRIPTIONS,
        credentials: MqttCredentials | None = None,
    ) -> None:
        self.host, self.port = parse_mqtt_url(url)
        self.credentials = credentials or MqttCredentials()
        self._tls = self.credentials.tls_params(url)
        self.queue = queue
        self.client_id = client_id
        self.max_payload_bytes = max_payload_bytes
        self.keepalive_s = keepalive_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.jitter = jitter
        self.connect_timeout_s = connect_timeout_s
        self.drain_timeout_s = drain_timeout_s
        self.subscriptions = subscriptions
        self._dead_letter = dead_letter
        self.on_ack = on_ack
        self._clock: Clock = clock or SystemClock()
        self._counts: Counter[str] = Counter()
        self._topics: dict[str, topics.Topic] = {}  # parsed topics, at most _MAX_TOPICS
        self._acks: list[int] = []  # packet ids of handled QoS 1 messages, PUBACK owed
        self._inbuf = bytearray()
        self._inpos = 0
        self._pings_sent = 0  # PINGREQs written and PINGRESPs read on this connection
        self._pongs = 0
        self._pong_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._reading: aiomqtt.Client | None = None
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """Whether the gateway is connected and subscribed right now."""
        return self._connected.is_set()

    async def start(self) -> None:
        """Connect and subscribe; keep the session alive in a background task."""
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"mqtt-gateway-{self.client_id}")
        try:
            await asyncio.wait_for(self._connected.wait(), self.connect_timeout_s)
        except TimeoutError as exc:
            await self.stop()
            raise GatewayError(
                f"MQTT broker at {self.host}:{self.port} not reachable within "
                f"{self.connect_timeout_s} s"
            ) from exc

    async def stop(self) -> None:
        """Send the PUBACKs owed and wait until the broker has taken them (``_drain``), then
        disconnect and wait for the background task."""
        self._stopping = True
        await self._drain()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._connected.clear()

    async def _drain(self) -> None:
        """Before disconnecting: send the PUBACKs owed, then a PINGREQ, and wait for its
        PINGRESP. The broker handles a connection's packets in order, so the PINGRESP means it
        has taken every PUBACK written before the PINGREQ; a round in which more PUBACKs were
        sent (messages still arriving) is followed by another. Bounded by ``drain_timeout_s``
        (counted ``drain_timeouts``): what the broker has not taken it sends again (QoS 1)."""
        client = self._reading
        if client is None or not self._connected.is_set():
            return
        paho_client: paho.Client = client._client
        deadline = time.monotonic() + self.drain_timeout_s
        for rounds in itertools.count():
            writes = self._counts["ack_writes"]
            self._send_acks(paho_client)
            if rounds and self._counts["ack_writes"] == writes:
                return  # nothing sent since the last PINGRESP: the broker has it all
            self._counts["drain_rounds"] += 1
            pong = asyncio.get_running_loop().create_future()
            if paho_client._send_pingreq() != paho.MQTT_ERR_SUCCESS:
                self._counts["drain_failed"] += 1
                logger.warning("MQTT %s:%d: stop: PINGREQ not sent", self.host, self.port)
                return
            self._pong_waiters.append((self._pings_sent, pong))
            try:
                await asyncio.wait_for(pong, max(0.0, deadline - time.monotonic()))
                if client is not self._reading or not self._connected.is_set():
                    return  # the connection is gone: the broker sends again what it has not taken
            except TimeoutError:
                self._counts["drain_timeouts"] += 1
                logger.warning(
                    "MQTT %s:%d: stop: the broker did not confirm the PUBACKs within %.1f s",
                    self.host,
                    self.port,
                    self.drain_timeout_s,
                )
                return

    def _on_ping_sent(self, rc: paho.MQTTErrorCode) -> None:
        if rc == paho.MQTT_ERR_SUCCESS:
            self._pings_sent += 1

    def _on_pong(self) -> None:
        """A PINGRESP read: wake the drains whose PINGREQ it answers (answers come in order)."""
        self._pongs += 1
        self._wake_pong_waiters(self._pongs)

    def _wake_pong_waiters(self, answered: int) -> None:
        """Wake the drains waiting for PINGREQ number ``answered`` or an earlier one (0: all
        of them, the connection is gone)."""
        waiting = []
        for number, pong in self._pong_waiters:
            if not answered or number <= answered:
                if not pong.done():
                    pong.set_result(None)
            else:
                waiting.append((number, pong))
        self._pong_waiters = waiting

    def stats(self) -> dict[str, int]:
        """Counters: ``frames_in``, ``dropped.<reason>``, ``connects``, ``disconnects``, ..."""
        return dict(self._counts)

    async def wait_connected(self, timeout_s: float) -> bool:
        """Wait until connected and subscribed; False on timeout."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    # -- the session loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self.backoff_initial_s
        while not self._stopping:
            try:
                await self._session()
                delay = self.backoff_initial_s
            except aiomqtt.MqttError as exc:
                self._counts["disconnects" if self._connected.is_set() else "connect_failures"] += 1
                logger.warning(
                    "MQTT %s:%d: %s; reconnecting in %.2f s", self.host, self.port, exc, delay
                )
            finally:
                self._connected.clear()
                self._client = None
                self._wake_pong_waiters(0)  # no PINGRESP comes on a connection that is gone
            if self._stopping:
                break
            await asyncio.sleep(delay * (1.0 + self.jitter * (2.0 * random.random() - 1.0)))
            delay = min(delay * 2.0, self.backoff_max_s)

    async def _session(self) -> None:
        client = aiomqtt.Client(
            self.host,
            self.port,
            identifier=self.client_id,
            clean_session=False,
            keepalive=self.keepalive_s,
            timeout=self.connect_timeout_s,
            logger=logger,
            username=self.credentials.username,
            password=self.credentials.password,
            tls_params=self._tls,
        )
        # the down-link awaits PUBACKs side by side (Downlink.max_in_flight, 64 by default):
        # that many outstanding publishes is the design, not a warning per publish
        client.pending_calls_threshold = 256
        self._reading = client  # a burst scheduled for an earlier session's client is stale
        paho_client: paho.Client = client._client
        paho_client.manual_ack_set(True)  # PUBACK only once the frame is on the queue
        # Messages are handled in paho's callback, as they are read: aiomqtt's own path (a
        # queue, then a task and an asyncio.wait per message) cost ~2x the CPU per message.
        paho_client.on_message = self._on_paho_message
        # aiomqtt's socket reader reads one packet per wake-up of the loop, and paho reads a
        # packet in 3+ recv calls (1 byte of type, the length byte by byte, the rest): read
        # the socket in large chunks into a buffer paho's reads are served from, and every
        # packet the buffer holds per wake-up (``_read_burst``).
        self._inbuf = bytearray()
        self._inpos = 0
        sock_recv = paho_client._sock_recv

        def buffered_recv(bufsize: int) -> bytes:
            pos = self._inpos
            if pos >= len(self._inbuf):
                data = sock_recv(_READ_CHUNK)  # raises BlockingIOError when nothing is there
                if not data:
                    return b""  # end of stream: paho sees the lost connection
                self._inbuf = bytearray(data)
                pos = 0
            out = bytes(self._inbuf[pos : pos + bufsize])
            self._inpos = pos + len(out)
            return out

        paho_client._sock_recv = buffered_recv  # type: ignore[method-assign]
        # PINGREQs (paho's keep-alive and ``_drain``'s) and PINGRESPs counted, for ``_drain``
        send_pingreq = paho_client._send_pingreq
        handle_pingresp = paho_client._handle_pingresp

        def counted_pingreq() -> paho.MQTTErrorCode:
            rc = send_pingreq()
            self._on_ping_sent(rc)
            return rc

        def counted_pingresp() -> paho.MQTTErrorCode:
            rc = handle_pingresp()
            if rc == paho.MQTT_ERR_SUCCESS:
                self._on_pong()
            return rc

        paho_client._send_pingreq = counted_pingreq  # type: ignore[method-assign]
        paho_client._handle_pingresp = counted_pingresp  # type: ignore[method-assign]
        loop = asyncio.get_running_loop()
        aio_open = paho_client.on_socket_open

        def on_open(c: paho.Client, userdata: Any, sock: Any) -> None:
            self._inbuf.clear()
            self._inpos = 0
            self._acks.clear()  # owed on a connection that is gone: the broker sends them again
            self._pings_sent = self._pongs = 0  # a PINGRESP answers a PINGREQ on its connection
            if aio_open is not None:
                aio_open(c, userdata, sock)  # queues aiomqtt's reader; ours, queued after, wins
            loop.call_soon_threadsafe(loop.add_reader, sock.fileno(), self._read_burst, client)

        paho_client.on_socket_open = on_open
        async with client:
            await client.subscribe([(topic, 1) for topic in self.subscriptions])
            self._client = client
            self._counts["connects"] += 1
            self._connected.set()
            logger.info("MQTT %s:%d connected and subscribed", self.host, self.port)
            async for _ in client.messages:  # none come here; ends (MqttError) on disconnect
                pass

    def _read_burst(self, client: aiomqtt.Client) -> None:
        """Handle every packet the read buffer holds (refilled from the socket in
        ``_READ_CHUNK`` pieces, up to ``_BURST`` packets a wake-up, the rest on the next loop
        iteration), then send the PUBACKs of the messages handled in one write.

        A whole QoS 0/1 PUBLISH in the buffer (MQTT 3.1.1) is taken here (``_take_publish``);
        every other packet, a partial one and refilling the buffer go through paho's own
        ``loop_read``, so connection state, keep-alive and errors stay paho's. A read that
        raises ends the session as aiomqtt's own reader does."""
        if client is not self._reading:
            return
        paho_client: paho.Client = client._client
        fast = paho_client._protocol == paho.MQTTv311
        taken = 0
        try:
            for _ in range(_BURST):
                if fast and not paho_client._in_packet["command"] and self._take_publish():
                    taken += 1
                    if self._inpos < len(self._inbuf):
                        continue
                try:
                    rc = paho_client.loop_read()
                except Exception as exc:  # the connection broke: aiomqtt's session ends with it
                    logger.warning("MQTT %s:%d read failed: %s", self.host, self.port, exc)
                    self._counts["read_errors"] += 1
                    if not client._disconnected.done():
                        client._disconnected.set_exception(exc)
                    return
                if rc != paho.MQTT_ERR_SUCCESS or self._inpos >= len(self._inbuf):
                    return
            asyncio.get_running_loop().call_soon(self._read_burst, client)  # more buffered
        finally:
            if taken:  # what paho's keep-alive check looks at
                paho_client._last_bytes_received = time.monotonic()
            self._send_acks(paho_client)

    def _take_publish(self) -> bool:
        """Handle the PUBLISH (QoS 0 or 1) at the read position if the buffer holds all of
        it; False (nothing consumed) for any other packet, a partial one or one that does not
        parse (paho reads those and reports what is wrong)."""
        buf, pos, end = self._inbuf, self._inpos, len(self._inbuf)
        if pos >= end or buf[pos] & 0xF0 != 0x30:
            return False
        qos = (buf[pos] >> 1) & 3
        if qos > 1:
            return False
        i, length, shift = pos + 1, 0, 0
        while True:  # the remaining length: up to 4 bytes of 7 bits
            if i >= end or shift > 21:
                return False
            byte = buf[i]
            length |= (byte & 0x7F) << shift
            i += 1
            if not byte & 0x80:
                break
            shift += 7
        stop = i + length
        head = 2 + 2 * qos  # topic length, and the packet id at QoS 1
        if stop > end or length < head:
            return False
        topic_end = i + 2 + ((buf[i] << 8) | buf[i + 1])
        if topic_end + 2 * qos > stop:
            return False
        try:
            topic = buf[i + 2 : topic_end].decode()
        except UnicodeDecodeError:
            return False
        self._inpos = stop
        if qos:
            self._handle(topic, bytes(buf[topic_end + 2 : stop]))
            self._acks.append((buf[topic_end] << 8) | buf[topic_end + 1])
        else:
            self._handle(topic, bytes(buf[topic_end:stop]))
        return True

    def _send_acks(self, paho_client: paho.Client) -> None:
        """One write of the PUBACKs owed (each frame is queued or dead-lettered already)."""
        mids = self._acks
        if not mids:
            return
        self._acks = []
        packet = b"".join(_PUBACK[mid] for mid in mids)
        # paho's own queue, as one packet: written whole, after what paho queued before it
        paho_client._packet_queue(paho.PUBACK, packet, 0, 0)
        self._counts["ack_writes"] += 1

    def _on_paho_message(self, client: paho.Client, _userdata: Any, message: Any) -> None:
        """paho's on_message: queue (or dead-letter) the frame; its PUBACK is owed from here
        and sent at the end of the read burst."""
        self._handle(message.topic, message.payload)
        if message.qos == 1:
            self._acks.append(message.mid)
        elif message.qos > 1:
            client.ack(message.mid, message.qos)

    # -- one message ---------------------------------------------------------------------------

    def _handle(self, name: str, raw: Any) -> None:
        now_ms = self._clock.now_ms()
        payload = _payload_bytes(raw)
        topic = self._topics.get(name)
        if topic is None:
            try:
                topic = topics.parse(name)
            except topics.TopicError as exc:
                self._drop(payload, name, now_ms, DropReason.UNKNOWN_TOPIC, exc.detail)
                return
            if len(self._topics) >= _MAX_TOPICS:  # bounded: start again (counted)
                self._topics.clear()
                self._counts["topic_cache_cleared"] += 1
            self._topics[name] = topic
        if len(payload) > self.max_payload_bytes:
            detail = (
                f"payload of {len(payload)} bytes on {name} exceeds {self.max_payload_bytes} "
                f"(first {self.max_payload_bytes} kept)"
            )
            self._drop(payload[: self.max_payload_bytes], name, now_ms, DropReason.OVERSIZE, detail)
            return
        if topic.direction == "ack":
            self._counts["acks_in"] += 1
            if self.on_ack is not None:
                self.on_ack(topic.device_id, topic.message_type, payload, now_ms)
            return
        if topic.direction != "up":
            self._drop(payload, name, now_ms, DropReason.UNKNOWN_TOPIC, "a down-link topic")
            return
        frame = InboundFrame(
            payload=payload,
            device_id=topic.device_id,
            device_kind=topic.kind,
            message_type=topic.message_type,
            transport="mqtt",
            channel=name,
            received_at_ms=now_ms,
        )
        if not self.queue.put(frame):
            detail = f"ingress queue full ({self.queue.capacity} frames)"
            self._drop(payload, name, now_ms, DropReason.QUEUE_FULL, detail)
            return
        self._counts["frames_in"] += 1

    def _drop(self, raw: bytes, topic: str, now_ms: int, reason: DropReason, detail: str) -> None:
        self._counts[f"dropped.{reason.value}"] += 1
        logger.debug("MQTT drop %s on %s: %s", reason.value, topic, detail)
        self._dead_letter(
            DeadLetter(
                raw=raw,
                source=f"mqtt:{topic}",
                received_at_ms=now_ms,
                reason=reason,
                detail=detail,
                where=topic,
            )
        )

    # -- down-link -------------------------------------------------------------------------------

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> bool:
        """Publish one down-link message; False (counted) when not connected or it fails."""
        client = self._client
        if client is None or not self._connected.is_set():
            self._counts["publish_offline"] += 1
            return False
        try:
            await client.publish(topic, payload, qos=qos)
        except aiomqtt.MqttError as exc:
            self._counts["publish_failed"] += 1
            logger.warning("MQTT publish to %s failed: %s", topic, exc)
            return False
        self._counts["published"] += 1
        return True


def _payload_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if payload is None:
        return b""
    return str(payload).encode()
