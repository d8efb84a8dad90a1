"""The down-link: dissemination's deliveries leave as MQTT publishes, acknowledged and resent.

``Downlink`` is a ``runtime.sinks.DeliverySink``. On the tick's thread ``deliver`` only builds
the messages and hands them to the gateway's event loop (never blocking the tick); there an
asyncio task publishes them at QoS 1 and watches the acknowledgements.

What is sent (every payload is one JSON object; ``seqNum`` is per device):

- a road event (new, update or refresh) to each RSU dissemination addressed, on
  ``V2X/RSU/{esn}/RSI/DOWN``: ``{"seqNum", "msgType": "RSI", "reason", "key", "encoding",
  "data"}`` with the RSI (encoded here for each RSU, referenced at its position, under the
  delivery's ``sender_id``: the worker's or the centre's in a cluster, else the platform's
  ``PLATFORM_RSU_ID``) in the RSU's registered message set: ``"encoding": "uper-hex"`` and
  the UPER MessageFrame as hex text, or, for an RSU whose vendor shape is ``csae-json``,
  ``"encoding": "csae-json"`` and the lossless CSAE JSON object;
- an advisory to each addressed participant that a registered OBU reported, on
  ``V2X/OBU/{id}/ADVISORY/DOWN``: ``{"seqNum", "msgType": "ADVISORY", "reason", "key",
  "advisory": {app, level, ego_id, issued_ms, expires_ms, other_id, ttc_s, lat_deg, lon_deg,
  detail, values}}`` (SI units, UTC ms). OBUs do not acknowledge (cellular, fire and forget at
  QoS 1); RSUs do. An advisory addressed to an RSU is not sent to it (no standard message
  carries one vehicle's advisory; counted as ``advisory_rsu_not_sent``); events an RSU
  reported itself are not echoed to RSUs (dissemination's rule).

With a ``signer`` (``runtime.signing.OutboundSigner``: the platform's certificate, wired in
from ``cli`` when a PKI is configured) every payload leaves signed instead: an RSI as
``"encoding": "secured-uper-hex"`` with ``data`` the hex of the signed secured frame wrapping
its UPER MessageFrame (``"secured-json-hex"`` wrapping the CSAE JSON's UTF-8 bytes, for a
``csae-json`` RSU), and an advisory as ``{"seqNum", "msgType": "ADVISORY", "reason", "key",
"encoding": "secured-json-hex", "data"}`` whose secured frame wraps the advisory object's JSON
(the same fields as above). A receiver verifies the frame and reads the content only from
inside it. A message whose signing fails is not sent (counted as ``sign_failed``, logged).

An RSU acknowledges on ``V2X/RSU/{esn}/RSI/DOWN/ACK`` with ``{"seqNum": n, "errorCode": 0}``.
Without an ACK within ``resend_after_ms`` (1 s) the same message (same seqNum, same bytes) is
sent again, at most ``max_attempts`` times in all; every unanswered attempt is a failure in
the device's health, and three in a row mark its link abnormal until the next ACK. A seqNum is
never given to a second payload: each device's counter starts at the platform's clock in ms
when first used and only grows (a restart starts above any number used before, as long as a
device is sent fewer than 1000 messages a second). Pending messages per device are bounded
(``max_pending_per_device``; the oldest is given up when full, counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec

from v2xcloud.codec import MessageSet
from v2xcloud.gateways import topics
from v2xcloud.gateways.health import DeviceHealth
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import Advisory, Device, DeviceKind, RoadEvent
from v2xcloud.runtime.clock import Clock, SystemClock
from v2xcloud.runtime.dissemination import Delivery
from v2xcloud.runtime.identity import PLATFORM_RSU_ID
from v2xcloud.runtime.rsi_out import with_rsi
from v2xcloud.runtime.signing import OutboundSigner

__all__ = ["Downlink", "Outbound", "Publisher"]

logger = logging.getLogger(__name__)

#: ``publish(topic, payload) -> bool`` (the gateway's; False when it could not send now).
Publisher = Callable[[str, bytes], Awaitable[bool]]


class Outbound(msgspec.Struct, kw_only=True):
    """One down-link message and its delivery state."""

    device_id: str
    seq: int
    topic: str
    payload: bytes
    needs_ack: bool
    first_sent_ms: int | None = None
    last_sent_ms: int | None = None
    attempts: int = 0


class Downlink:
    """Deliveries → MQTT publishes with seqNum, ACK matching and resends (see module doc)."""

    name = "mqtt-downlink"

    def __init__(
        self,
        registry: DeviceRegistry,
        health: DeviceHealth,
        publish: Publisher,
        *,
        participant_device: Callable[[str], str | None] = lambda pid: None,
        clock: Clock | None = None,
        resend_after_ms: int = 1000,
        max_attempts: int = 3,
        max_pending_per_device: int = 256,
        check_every_s: float = 0.05,
        max_outbox: int = 10_000,
        max_in_flight: int = 64,
        signer: OutboundSigner | None = None,
    ) -> None:
        self.registry = registry
        self.signer = signer
        self.health = health
        self.publish = publish
        self.participant_device = participant_device
        self.clock: Clock = clock or SystemClock()
        self.resend_after_ms = resend_after_ms
        self.max_attempts = max_attempts
        self.max_pending_per_device = max_pending_per_device
        self.check_every_s = check_every_s
        self.max_outbox = max_outbox
        self.max_in_flight = max_in_flight
        self.counts: Counter[str] = Counter()
        self._next_seq: dict[str, int] = {}
        self._pending: dict[str, OrderedDict[int, Outbound]] = {}
        self._outbox: asyncio.Queue[Outbound] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        # publishes awaiting the broker's PUBACK: sent in order, awaited side by side, at most
        # max_in_flight at once (one slow round trip must not hold every later message back)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None

    # -- DeliverySink (the tick's thread) ----------------------------------------------------

    def deliver(self, deliveries: Sequence[Delivery], *, now_ms: int) -> None:
        """Build the messages of one tick's deliveries and hand them to the publisher task."""
        messages: list[Outbound] = []
        for delivery in deliveries:
            try:
                messages.extend(self._messages(delivery, now_ms))
            except Exception as exc:  # one bad delivery must not lose the others: log, count
                self.counts["build_failed"] += 1
                logger.exception("down-link message for %s not built: %s", delivery.key, exc)
        if not messages:
            return
        loop = self._loop
        if loop is None or self._outbox is None:
            self.counts["not_running"] += len(messages)
            logger.warning("down-link not running: %d messages not sent", len(messages))
            return
        loop.call_soon_threadsafe(self._enqueue, messages)

    def _enqueue(self, messages: list[Outbound]) -> None:
        assert self._outbox is not None
        for message in messages:
            try:
                self._outbox.put_nowait(message)
            except asyncio.QueueFull:
                self.counts["outbox_full"] += 1
                logger.warning(
                    "down-link outbox full: seqNum %d to %r not sent",
                    message.seq,
                    message.device_id,
                )

    def _messages(self, delivery: Delivery, now_ms: int) -> list[Outbound]:
        if delivery.reason == "expired":
            return []
        out: list[Outbound] = []
        if isinstance(delivery.payload, RoadEvent):
            for rsu_id in delivery.rsus:
                device = self.registry.get(rsu_id)
                if device is None or not device.is_enabled:
                    self.counts["rsu_not_registered"] += 1
                    continue
                body = self._rsi_body(delivery, device, now_ms)
                if body is not None:
                    out.append(self._outbound(device, "RSI", body, delivery, now_ms))
        elif isinstance(delivery.payload, Advisory):
            # an RSU has no standard message for one vehicle's advisory: those RSUs are not
            # sent anything (counted); the vehicle hears it over cellular when it has an OBU
            self.counts["advisory_rsu_not_sent"] += len(delivery.rsus)
            adv_body: dict[str, Any] | None = None
            for pid in delivery.participants:
                obu = self.registry.get(self.participant_device(pid) or pid)
                if obu is None or obu.kind is not DeviceKind.OBU or not obu.is_enabled:
                    self.counts["advisory_no_obu"] += 1  # the vehicle has no cellular link
                    continue
                if adv_body is None:  # built (and signed) once for all its recipients
                    adv_body = self._advisory_body(delivery, delivery.payload, now_ms)
                    if adv_body is None:
                        return out
                out.append(self._outbound(obu, "ADVISORY", adv_body, delivery, now_ms))
        return out

    def _rsi_body(self, delivery: Delivery, rsu: Device, now_ms: int) -> dict[str, Any] | None:
        if rsu.lat_deg is None or rsu.lon_deg is None:
            self.counts["rsu_no_position"] += 1
            return None
        plain = msgspec.structs.replace(delivery, rsi_uper=None, rsi_json=None, rsi_error=None)
        coded = with_rsi(
            plain,
            message_set=MessageSet(rsu.message_set),
            ref_lat_deg=rsu.lat_deg,
            ref_lon_deg=rsu.lon_deg,
            rsu_id=delivery.sender_id or PLATFORM_RSU_ID,
        )
        if coded.rsi_error is not None or coded.rsi_uper is None:
            self.counts["rsi_encode_failed"] += 1
            logger.warning(
                "RSI for %s to %s not encoded: %s", delivery.key, rsu.device_id, coded.rsi_error
            )
            return None
        if self.signer is not None:
            if rsu.shape == "csae-json":
                return self._signed(
                    "RSI",
                    json.dumps(coded.rsi_json, separators=(",", ":")).encode(),
                    "json",
                    now_ms,
                )
            return self._signed("RSI", coded.rsi_uper, "uper", now_ms)
        if rsu.shape == "csae-json":
            return {"encoding": "csae-json", "data": coded.rsi_json}
        return {"encoding": "uper-hex", "data": coded.rsi_uper.hex()}

    def _advisory_body(
        self, delivery: Delivery, advisory: Advisory, now_ms: int
    ) -> dict[str, Any] | None:
        if self.signer is None:
            return {"advisory": msgspec.to_builtins(advisory)}
        if delivery.secured is not None:  # the runtime signed this advisory's JSON already
            self.counts["signed_upstream"] += 1
            return {"encoding": "secured-json-hex", "data": delivery.secured.hex()}
        return self._signed("ADVISORY", msgspec.json.encode(advisory), "json", now_ms)

    def _signed(
        self, msg_type: str, payload: bytes, form: str, now_ms: int
    ) -> dict[str, Any] | None:
        """The body carrying ``payload`` signed by the platform; None (counted, logged) when
        the signer fails: the message is then not sent at all, never sent unsigned."""
        assert self.signer is not None
        try:
            secured = self.signer.sign(payload, message_type=msg_type, now_ms=now_ms)
        except Exception as exc:  # a signer failure must not stop the down-link: count, log
            self.counts["sign_failed"] += 1
            logger.warning("down-link %s not signed, not sent: %s", msg_type, exc)
            return None
        self.counts["signed"] += 1
        return {"encoding": f"secured-{form}-hex", "data": secured.hex()}

    def _outbound(
        self,
        device: Device,
        msg_type: str,
        body: dict[str, Any],
        delivery: Delivery,
        now_ms: int,
    ) -> Outbound:
        seq = self._next_seq.get(device.device_id, now_ms)
        self._next_seq[device.device_id] = seq + 1
        doc = {"seqNum": seq, "msgType": msg_type, "reason": delivery.reason, "key": delivery.key}
        doc.update(body)
        is_rsu = device.kind is DeviceKind.RSU
        topic = (
            topics.rsu_down(device.device_id, msg_type)
            if is_rsu
            else topics.obu_down(device.device_id)
        )
        return Outbound(
            device_id=device.device_id,
            seq=seq,
            topic=topic,
            payload=json.dumps(doc, separators=(",", ":")).encode(),
            needs_ack=is_rsu,
        )

    # -- acknowledgements (the gateway's loop) --------------------------------------------------

    def on_ack(self, esn: str, message_type: str, payload: bytes, received_at_ms: int) -> None:
        """Match ``{"seqNum": n, "errorCode": 0}`` to the pending message of ``esn``."""
        try:
            doc = json.loads(payload)
            seq = int(doc["seqNum"])
            error_code = int(doc.get("errorCode", 0))
        except (ValueError, KeyError, TypeError) as exc:
            self.counts["ack_malformed"] += 1
            logger.warning("malformed ACK from %r on %s: %s", esn, message_type, exc)
            return
        pending = self._pending.get(esn)
        message = pending.pop(seq, None) if pending is not None else None
        if message is None:
            self.counts["ack_unmatched"] += 1  # late (already given up) or a duplicate ACK
            return
        if error_code != 0:
            self.counts["ack_error"] += 1
            logger.warning("RSU %r refused seqNum %d: errorCode %d", esn, seq, error_code)
        self.counts["acked"] += 1
        started = message.first_sent_ms if message.first_sent_ms is not None else received_at_ms
        self.health.acked(esn, max(0, received_at_ms - started), received_at_ms)

    # -- the publisher task ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the publisher task on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._outbox = asyncio.Queue(maxsize=self.max_outbox)
        self._slots = asyncio.Semaphore(self.max_in_flight)
        self._task = asyncio.create_task(self._run(), name="mqtt-downlink")

    async def stop(self) -> None:
        """Stop the publisher task."""
        task, self._task = self._task, None
        self._loop = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        in_flight, self._in_flight = list(self._in_flight), set()
        for t in in_flight:
            t.cancel()
        for t in in_flight:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    def pending(self, device_id: str) -> int:
        """Messages sent to ``device_id`` and not yet acknowledged or given up."""
        return len(self._pending.get(device_id, ()))

    async def _run(self) -> None:
        assert self._outbox is not None
        while True:
            try:
                # not asyncio.wait_for: on Python 3.11 it swallows a cancel that arrives as the
                # get completes, and stop() then waited here forever
                async with asyncio.timeout(self.check_every_s):
                    message = await self._outbox.get()
            except TimeoutError:
                message = None
            try:
                if message is not None:
                    await self._send_new(message)
                await self._resend_due()
            except Exception as exc:  # keep the down-link alive; count and log
                self.counts["loop_error"] += 1
                logger.exception("down-link loop error: %s", exc)

    async def _spawn(self, message: Outbound, *, resend: bool) -> None:
        """Start publishing ``message`` (its bytes leave now, in call order) and go on without
        waiting for the broker's PUBACK; waits only while ``max_in_flight`` are outstanding."""
        assert self._slots is not None
        await self._slots.acquire()
        task = asyncio.create_task(self._attempt_guarded(message, resend=resend))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _attempt_guarded(self, message: Outbound, *, resend: bool) -> None:
        assert self._slots is not None
        try:
            await self._attempt(message, resend=resend)
        except Exception as exc:  # one failed publish must not stop the others: log, count
            self.counts["loop_error"] += 1
            logger.exception("down-link publish to %s failed: %s", message.topic, exc)
        finally:
            self._slots.release()

    async def _send_new(self, message: Outbound) -> None:
        if message.needs_ack:
            pending = self._pending.setdefault(message.device_id, OrderedDict())
            if len(pending) >= self.max_pending_per_device:
                _, oldest = pending.popitem(last=False)
                self.counts["gave_up_full"] += 1
                logger.warning(
                    "down-link to %r: %d pending, seqNum %d given up",
                    oldest.device_id,
                    len(pending) + 1,
                    oldest.seq,
                )
            pending[message.seq] = message
        await self._spawn(message, resend=False)

    async def _attempt(self, message: Outbound, *, resend: bool) -> None:
        now_ms = self.clock.now_ms()
        message.attempts += 1
        message.last_sent_ms = now_ms
        if message.first_sent_ms is None:
            message.first_sent_ms = now_ms
        sent = await self.publish(message.topic, message.payload)
        self.counts["resent" if resend else "sent"] += 1
        if not sent:
            self.counts["publish_failed"] += 1
        self.health.sent(message.device_id, resend=resend)

    async def _resend_due(self) -> None:
        now_ms = self.clock.now_ms()
        for device_id, pending in list(self._pending.items()):
            for seq, message in list(pending.items()):
                if (
                    message.last_sent_ms is None
                    or now_ms - message.last_sent_ms < self.resend_after_ms
                ):
                    continue
                self.health.unanswered(device_id)
                if message.attempts >= self.max_attempts:
                    del pending[seq]
                    self.counts["gave_up"] += 1
                    self.health.gave_up(device_id)
                    logger.warning(
                        "down-link to %r: seqNum %d unacknowledged after %d attempts",
                        device_id,
                        seq,
                        message.attempts,
                    )
                    continue
                await self._spawn(message, resend=True)
            if not pending:
                del self._pending[device_id]
