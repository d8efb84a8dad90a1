"""The ingest path: gateway frames → device checks → payload driver → the runtime's scene.

Each tick the serve loop calls ``Ingestor.drain(queue)``. For every ``InboundFrame``:

1. the device is looked up in the registry (``V2X/RSU/INFO/UP`` names it in its body):
   unknown → ``UNKNOWN_DEVICE`` (logged once per id) unless ``allow_unknown``, which registers
   it; disabled → ``DEVICE_DISABLED``; registered as another kind than its topic says, or a
   transport-vouched ``sender_id`` other than the topic's id → ``IDENTITY_MISMATCH``;
2. the per-device, per-type rate limit (``limits.RateLimits``) → ``RATE_LIMITED``, the device
   flagged in health, no other device affected; then its tenant's rate, all its devices
   together (``limits.TenantLimits``, when configured) → ``RATE_LIMITED``, no other tenant
   affected;
3. heartbeats (RSU ``HB``, radar ``STATUS``) and ``INFO`` only update health;
4. with a frame guard on the runtime (the security stage, ``Runtime.guard``), the payload
   passes it first: refused → the guard's reason (``unsigned``, ``bad_signature``, ...);
   passed → its UPER payload (a signed frame unwrapped) goes on;
5. everything else goes through the device's payload driver (``gateways.drivers``, by its
   registered vendor ``shape`` or detected) to SI models, handed
   to ``Runtime.ingest``; a payload that gives none is dead-lettered with the parser's reason.

With ``forward`` (the gateway tier on a NATS backbone, ``gateways.nats.FrameForwarder``) each
accepted frame is also handed to the backbone; with ``run_scene=False`` the models are only
judged (``Runtime.validate``), not given to this process's scene: the edge workers run it;
with ``flags`` (``runtime.screen.FlagBook``, the senders the workers flagged) a BSM of a
flagged sender is refused there as ``misbehaving`` and never reaches the backbone.

Every drop is a ``model.DeadLetter`` handed to ``dead_letter`` (the runtime's dead letters)
and counted per device and reason in ``DeviceHealth``; nothing raises out of ``process``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from v2xcloud.codec import MessageSet
from v2xcloud.errors import ConfigError
from v2xcloud.gateways import drivers
from v2xcloud.gateways.base import DeviceKind, InboundFrame, IngressQueue
from v2xcloud.gateways.health import DeviceHealth
from v2xcloud.gateways.limits import RateLimits, TenantLimits
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import (
    Bsm,
    DeadLetter,
    Device,
    DropReason,
    MapData,
    ParticipantState,
    Rsi,
    Rsm,
    Spat,
)
from v2xcloud.runtime import Runtime
from v2xcloud.runtime.screen import FlagBook

__all__ = [
    "HEALTH_ONLY_TYPES",
    "Forward",
    "Ingestor",
    "ParseResult",
    "PayloadParser",
    "parse_with_drivers",
]

logger = logging.getLogger(__name__)

#: Message types that only tell the platform the device is alive (or what it is).
HEALTH_ONLY_TYPES = frozenset({"HB", "INFO", "STATUS"})
_INFO_ID_KEYS = ("esn", "rsuEsn", "rsuId", "deviceId", "id")
_MAX_LOGGED_UNKNOWN = 1000

#: What a payload parser gives: models for the scene, or the dead letter explaining why none.
SceneModel = Bsm | Rsm | Spat | MapData | Rsi | ParticipantState
ParseResult = Sequence[SceneModel] | DeadLetter
PayloadParser = Callable[[InboundFrame, Device], ParseResult]
#: The hand-off of an accepted frame to the backbone (``gateways.nats.FrameForwarder``):
#: the frame (payload as accepted), its device, its message type and the models it gave.
Forward = Callable[[InboundFrame, Device, str, Sequence[SceneModel]], None]


def parse_with_drivers(frame: InboundFrame, device: Device) -> ParseResult:
    """The device's vendor-shape driver (``gateways.drivers``; ``shape`` empty = detect)."""
    result = drivers.parse(
        frame, message_set=MessageSet(device.message_set), shape=device.shape or None
    )
    if isinstance(result, drivers.Parsed):
        return result.models
    return result.dead_letter(frame)


def _letter(
    frame: InboundFrame, reason: DropReason, detail: str, where: str | None = None
) -> DeadLetter:
    return DeadLetter(
        raw=frame.payload,
        source=frame.device_id or frame.channel,
        received_at_ms=frame.received_at_ms,
        reason=reason,
        detail=detail,
        where=where if where is not None else frame.channel,
    )


class Ingestor:
    """Drains an ``IngressQueue`` into a ``Runtime`` with the device checks in between."""

    def __init__(
        self,
        runtime: Runtime,
        registry: DeviceRegistry,
        *,
        dead_letter: Callable[[DeadLetter], None],
        health: DeviceHealth | None = None,
        limits: RateLimits | None = None,
        tenant_limits: TenantLimits | None = None,
        allow_unknown: bool = False,
        parser: PayloadParser = parse_with_drivers,
        max_later: int = 100_000,
        max_participants: int = 100_000,
        forward: Forward | None = None,
        run_scene: bool = True,
        flags: FlagBook | None = None,
    ) -> None:
        self.runtime = runtime
        self.flags = flags
        self.forward = forward
        self.run_scene = run_scene
        self.registry = registry
        self.health = health if health is not None else DeviceHealth()
        self.limits = limits if limits is not None else RateLimits()
        self.tenant_limits = tenant_limits
        self.allow_unknown = allow_unknown
        self.parser = parser
        self._dead_letter = dead_letter
        self.counts: Counter[str] = Counter()
        self._logged_unknown: set[str] = set()
        self._later: deque[DeadLetter] = deque()
        self.max_later = max_later
        self._participant_device: OrderedDict[str, str] = OrderedDict()
        self.max_participants = max_participants
        registry.listeners.append(lambda d: self.limits.forget(d.device_id))

    def dead_letter_later(self, letter: DeadLetter) -> None:
        """Keep a gateway's dead letter for the next ``drain`` (thread-safe: the gateway's loop
        may run on another thread than the tick). Bounded by ``max_later``; past it the letter
        is counted (``dead_letters_lost``) and logged, not kept."""
        if len(self._later) >= self.max_later:
            self.counts["dead_letters_lost"] += 1
            logger.warning(
                "dead letter from %s not kept: %d waiting", letter.source, len(self._later)
            )
            return
        self._later.append(letter)

    def device_of(self, participant_id: str) -> str | None:
        """The registered OBU whose BSMs carried ``participant_id`` (for the down-link)."""
        return self._participant_device.get(participant_id)

    def drain(self, queue: IngressQueue, limit: int | None = None) -> int:
        """Take the gateways' dead letters, then process up to ``limit`` queued frames (all
        when None); returns how many frames. Runs on the tick's thread."""
        while self._later:
            self._dead_letter(self._later.popleft())
        frames = queue.drain(limit)
        for frame in frames:
            self.process(frame)
        return len(frames)

    def process(self, frame: InboundFrame) -> bool:
        """Take one frame; False when it was dead-lettered. Never raises."""
        try:
            return self._process(frame)
        except Exception as exc:  # a bug on one frame must not stop the loop: log, count, keep
            logger.exception("ingest of a frame from %r failed", frame.device_id)
            self._drop(
                frame, frame.device_id, DropReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"
            )
            return False

    def _process(self, frame: InboundFrame) -> bool:
        now_ms = frame.received_at_ms
        device_id = frame.device_id or self._info_id(frame)
        if not device_id:
            return self._drop(frame, "", DropReason.BAD_PAYLOAD, "INFO names no device id")
        device = self._device(frame, device_id)
        if device is None:
            return False
        message_type = frame.message_type or "?"
        key = f"{frame.device_kind.name}:{message_type}"
        if not self.limits.allow(device_id, key, now_ms, device.rate_limits_per_s):
            rate = self.limits.rate_of(key, device.rate_limits_per_s)
            return self._drop(
                frame, device_id, DropReason.RATE_LIMITED, f"over {rate:g}/s for {key}"
            )
        tenants = self.tenant_limits
        if tenants is not None and not tenants.allow(device.tenant, now_ms):
            detail = f"tenant {device.tenant!r} over {tenants.rate_of(device.tenant):g}/s"
            return self._drop(frame, device_id, DropReason.RATE_LIMITED, detail)
        if message_type in HEALTH_ONLY_TYPES:
            if message_type == "INFO":
                self.health.set_info(device_id, self._info(frame) or {})
            self.health.seen(device_id, "HB" if message_type == "STATUS" else message_type, now_ms)
            self.counts["health"] += 1
            return True
        signer: str | None = None
        if self.runtime.guard is not None:
            guarded = self._guard(frame, device, message_type)
            if guarded is None:
                return False
            frame, signer = guarded
        result = self.parser(frame, device)
        if isinstance(result, DeadLetter):
            self.health.seen(device_id, message_type, now_ms)  # it is alive, if confused
            self.health.dead_letter(device_id, result.reason.value, now_ms)
            self.counts[f"dropped.{result.reason.value}"] += 1
            self._dead_letter(result)
            return False
        self.health.seen(device_id, message_type, now_ms)
        accepted: list[SceneModel] = []
        for model in result:
            if self._take(model, now_ms, device_id, frame.payload, signer):
                accepted.append(model)
                if device.kind is DeviceKind.OBU and isinstance(model, Bsm):
                    self._remember(model.participant.id, device_id)
            else:  # the runtime's validity stage dropped it and kept the dead letter
                recent = self.runtime.dead_letters.recent(1)
                reason = recent[-1].reason.value if recent else DropReason.IMPLAUSIBLE.value
                self.health.dead_letter(device_id, reason, now_ms)
                self.counts[f"dropped.{reason}"] += 1
        self.counts["accepted" if accepted or not result else "rejected_by_runtime"] += 1
        if accepted and self.forward is not None:
            self.forward(frame, device, message_type, accepted)
        return bool(accepted) or not result

    def _take(
        self, model: SceneModel, now_ms: int, device_id: str, raw: bytes, signer: str | None
    ) -> bool:
        """The scene takes the model (``run_scene``), or only its validity is judged (the
        gateway tier: the edge workers run the scene)."""
        if not self.run_scene:
            if self.flags is not None and isinstance(model, Bsm):
                refused = self.flags.refusal(model.participant.id, now_ms)
                if refused is not None:
                    self.runtime.dead_letter(
                        DeadLetter(
                            raw=bytes(raw),
                            source=device_id,
                            received_at_ms=now_ms,
                            reason=DropReason.MISBEHAVING,
                            detail=refused,
                            where="$",
                        )
                    )
                    return False
            return self.runtime.validate(model, received_at_ms=now_ms, source=device_id, raw=raw)
        return self.runtime.ingest(
            model, received_at_ms=now_ms, source=device_id, raw=raw, certificate_digest=signer
        )

    def _guard(
        self, frame: InboundFrame, device: Device, message_type: str
    ) -> tuple[InboundFrame, str | None] | None:
        """The runtime's frame guard (the security stage) on the payload: the frame with the
        payload it passed (a signed frame's UPER) with its signer's certificate digest (None
        when unsigned), or None when refused (dead-lettered, counted here and in the device's
        health)."""
        device_id = device.device_id
        payload = self.runtime.guard_frame(
            frame.payload,
            source=device_id,
            kind=device.kind.value,
            received_at_ms=frame.received_at_ms,
        )
        if isinstance(payload, DeadLetter):
            reason = payload.reason.value
            self.health.seen(device_id, message_type, frame.received_at_ms)
            self.health.dead_letter(device_id, reason, frame.received_at_ms)
            self.counts[f"dropped.{reason}"] += 1
            self._dead_letter(payload)
            return None
        if payload.payload is frame.payload:
            return frame, payload.signer
        self.counts["guard.unwrapped"] += 1
        return msgspec.structs.replace(frame, payload=payload.payload), payload.signer

    def _remember(self, participant_id: str, device_id: str) -> None:
        known = self._participant_device
        if known.get(participant_id) != device_id:
            known[participant_id] = device_id
            known.move_to_end(participant_id)
            if len(known) > self.max_participants:
                known.popitem(last=False)

    def _device(self, frame: InboundFrame, device_id: str) -> Device | None:
        device = self.registry.get(device_id)
        if device is None:
            if not self.allow_unknown:
                if (
                    len(self._logged_unknown) < _MAX_LOGGED_UNKNOWN
                    and device_id not in self._logged_unknown
                ):
                    self._logged_unknown.add(device_id)
                    logger.warning(
                        "frame from unknown device %r on %s refused", device_id, frame.channel
                    )
                self._drop(
                    frame, None, DropReason.UNKNOWN_DEVICE, f"{device_id!r} is not registered"
                )
                return None
            try:
                device = self.registry.register_unknown(
                    device_id, frame.device_kind, frame.received_at_ms
                )
            except ConfigError as exc:
                logger.warning("cannot register %r: %s", device_id, exc)
                self._drop(frame, None, DropReason.UNKNOWN_DEVICE, str(exc))
                return None
            self.counts["registered"] += 1
        if not device.is_enabled:
            self._drop(frame, device_id, DropReason.DEVICE_DISABLED, f"{device_id!r} is disabled")
            return None
        if frame.sender_id is not None and frame.sender_id != device_id:
            detail = f"{frame.sender_id!r} sent as {device_id!r}"
            self._drop(
                frame,
                frame.sender_id if frame.sender_id in self.registry else None,
                DropReason.IDENTITY_MISMATCH,
                detail,
            )
            return None
        if frame.device_kind not in (device.kind, DeviceKind.UNKNOWN):
            detail = f"{device_id!r} is a registered {device.kind.value}, not a {frame.device_kind.value}"
            self._drop(frame, device_id, DropReason.IDENTITY_MISMATCH, detail)
            return None
        return device

    def _drop(
        self, frame: InboundFrame, device_id: str | None, reason: DropReason, detail: str
    ) -> bool:
        self.counts[f"dropped.{reason.value}"] += 1
        if device_id:
            self.health.dead_letter(device_id, reason.value, frame.received_at_ms)
        self._dead_letter(_letter(frame, reason, detail))
        return False

    def _info(self, frame: InboundFrame) -> dict[str, Any] | None:
        try:
            doc = json.loads(frame.payload)
        except (ValueError, UnicodeDecodeError):
            return None
        return doc if isinstance(doc, dict) else None

    def _info_id(self, frame: InboundFrame) -> str:
        if frame.message_type != "INFO":
            return ""
        doc = self._info(frame) or {}
        for key in _INFO_ID_KEYS:
            value = doc.get(key)
            if isinstance(value, str | int) and str(value):
                return str(value)
        return ""
