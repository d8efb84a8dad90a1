"""Bytes ⇄ MessageFrame: the one place UPER is decoded and encoded.

``decode`` never raises for bad input: it returns ``Rejected`` with a reason. A faster decoder
for a hot message (BSM, RSM, SPAT) can be slotted in with ``register_fast_decoder`` without
changing any caller: it receives the frame bytes and returns the same native value.
``register_fast_encoder`` does the same for encoding a root alternative's native content.

A fast path that raises ``Fallback`` hands a value it does not cover to the generic path by
design: counted per set, direction, alternative and reason and logged once per key
(``_fastpath.hand_overs()``, in ``Runtime.stats()["codec"]``). A fast path that raises
anything else falls back to the generic one too. When the generic path then succeeds,
the fast path was wrong about valid input: the fallback is counted and logged in
``FAST_PATH_FAILURES`` (boundary ``codec:fast_decode:<alternative>`` or
``codec:fast_encode:<alternative>``; first of each kind with its traceback). When the generic
path fails too, the input was bad and the fast path was right to refuse it: nothing to report
beyond the ``Rejected`` / ``EncodeError`` every caller already gets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from typing import Any

from v2xcloud.codec._fastpath import Fallback, note_hand_over
from v2xcloud.codec._schema import compiled
from v2xcloud.codec._uper import Reject, decode_type, peek_alternative, split_error
from v2xcloud.codec.json_form import JsonForm
from v2xcloud.codec.message_set import DAY2_MESSAGES, FRAME_MESSAGES, MessageSet
from v2xcloud.codec.plausibility import DeploymentArea, check_frame, explain_version
from v2xcloud.codec.result import Decoded, Rejected
from v2xcloud.errors import ConfigError, EncodeError
from v2xcloud.failures import FailureLog
from v2xcloud.model import DropReason

__all__ = [
    "FAST_PATH_FAILURES",
    "FastDecoder",
    "FastEncoder",
    "decode",
    "encode",
    "encode_native",
    "frame_to_json",
    "register_fast_decoder",
    "register_fast_encoder",
    "unregister_fast_decoder",
    "unregister_fast_encoder",
]

FastDecoder = Callable[[bytes], Any]
_FAST: dict[tuple[MessageSet, str], FastDecoder] = {}
FastEncoder = Callable[[Any], bytes]
_FAST_ENCODERS: dict[tuple[MessageSet, str], FastEncoder] = {}

logger = logging.getLogger(__name__)

#: fast-path fallbacks on input the generic path accepted (a fast codec bug), per alternative
FAST_PATH_FAILURES = FailureLog(logger=logger)


def register_fast_decoder(message_set: MessageSet, alternative: str, fn: FastDecoder) -> None:
    """Use ``fn(frame_bytes) -> native MessageFrame value`` for one root alternative.

    ``fn`` must return exactly what asn1tools would (``("bsmFrame", {...})``) and raise any
    exception on bad input (the frame is then decoded by the generic path, which says why).
    """
    if alternative not in FRAME_MESSAGES:
        raise ConfigError(f"fast decoders exist only for {sorted(FRAME_MESSAGES)}")
    _FAST[(message_set, alternative)] = fn


def unregister_fast_decoder(message_set: MessageSet, alternative: str) -> None:
    """Go back to the generic decoder for one alternative."""
    _FAST.pop((message_set, alternative), None)


def register_fast_encoder(message_set: MessageSet, alternative: str, fn: FastEncoder) -> None:
    """Use ``fn(content) -> MessageFrame bytes`` to encode one root alternative's content.

    ``fn`` must return exactly what asn1tools would (with constraint checks) and raise any
    exception otherwise (the value is then encoded by the generic path, which says why).
    """
    if alternative not in FRAME_MESSAGES:
        raise ConfigError(f"fast encoders exist only for {sorted(FRAME_MESSAGES)}")
    _FAST_ENCODERS[(message_set, alternative)] = fn


def unregister_fast_encoder(message_set: MessageSet, alternative: str) -> None:
    """Go back to the generic encoder for one alternative."""
    _FAST_ENCODERS.pop((message_set, alternative), None)


@cache
def _json_form(message_set: MessageSet) -> JsonForm:
    spec = compiled(message_set)
    open_types = {
        mid: spec.types[type_name].type
        for mid, (_, type_name) in DAY2_MESSAGES.items()
        if type_name in spec.types
    }
    return JsonForm(open_types=open_types)


class _RepeatedFrames:
    """Native values of recently decoded frames of a static kind (MAP: an RSU repeats the same
    bytes every second, and the generic decoder takes milliseconds per MAP), keyed by set and
    exact bytes, so a repetition skips the decode. Only frames that decoded are kept (a bad
    frame is judged every time); at most ``max_frames`` values and ``max_bytes`` of frame
    bytes, the oldest entry dropped first. The values are shared: read-only, like every
    native value the codec hands out."""

    def __init__(self, *, max_frames: int = 4096, max_bytes: int = 32 << 20) -> None:
        self.max_frames, self.max_bytes = max_frames, max_bytes
        self._values: dict[tuple[MessageSet, bytes], Any] = {}
        self._bytes = 0
        self.hits = 0

    def get(self, message_set: MessageSet, data: bytes) -> Any:
        """The value decoded from exactly these bytes before, or ``None``."""
        found = self._values.get((message_set, data))
        if found is not None:
            self.hits += 1
        return found

    def put(self, message_set: MessageSet, data: bytes, value: Any) -> None:
        """Keep ``value`` for ``data``, dropping the oldest entries past the bounds."""
        if len(data) > self.max_bytes:
            return
        self._values[(message_set, data)] = value
        self._bytes += len(data)
        while len(self._values) > self.max_frames or self._bytes > self.max_bytes:
            old = next(iter(self._values))
            del self._values[old]
            self._bytes -= len(old[1])

    def __len__(self) -> int:
        return len(self._values)


#: the root alternatives whose decoded values are kept for repetitions (static content)
_REPEATED_KINDS = frozenset({"mapFrame"})
_REPEATED = _RepeatedFrames()


def _decode_value(data: bytes, message_set: MessageSet) -> Any:
    alternative = peek_alternative(data)
    if alternative not in _REPEATED_KINDS:
        return _decode_fresh(data, message_set, alternative)
    value = _REPEATED.get(message_set, data)
    if value is None:
        value = _decode_fresh(data, message_set, alternative)
        _REPEATED.put(message_set, data, value)
    return value


def _decode_fresh(data: bytes, message_set: MessageSet, alternative: str | None) -> Any:
    """The native value of ``data``: the fast decoder of its alternative if one is registered
    (handing over to the generic one when it refuses), else the generic one."""
    fast = _FAST.get((message_set, alternative)) if alternative else None
    fast_error: Exception | None = None
    if fast is not None:
        try:
            return fast(data)
        except Fallback as exc:  # by design: counted and logged once per reason
            note_hand_over(message_set.value, "decode", str(alternative), exc)
        except Exception as exc:  # the generic path below decodes it or says what is wrong
            fast_error = exc
    return _decode_generic(data, message_set, alternative, fast_error)


def _decode_generic(
    data: bytes, message_set: MessageSet, alternative: str | None, fast_error: Exception | None
) -> Any:
    """asn1tools' decode of a whole MessageFrame (``Reject`` on bad input); ``fast_error``:
    what the fast path raised on these bytes (reported as a fast-path bug if they decode)."""
    value = decode_type(message_set, "MessageFrame", data, "$")  # Reject: bad input
    if fast_error is not None:  # valid, yet the fast path refused it: a fast-path bug
        FAST_PATH_FAILURES.record(f"codec:fast_decode:{alternative}", fast_error)
    if value[0] is None:  # asn1tools: an extension alternative this set does not know
        raise Reject(
            DropReason.UNKNOWN_MESSAGE,
            f"MessageFrame alternative is an extension unknown to {message_set.value}",
            "$",
        )
    if value[0] == "msgFrameExt":
        value = ("msgFrameExt", _decode_day2(value[1], message_set))
    return value


def _decode_day2(ext: dict[str, Any], message_set: MessageSet) -> dict[str, Any]:
    mid = ext["messageId"]
    if mid not in DAY2_MESSAGES:
        raise Reject(
            DropReason.UNKNOWN_MESSAGE,
            f"Day-2 messageId {mid} is not defined in {message_set.value}",
            "$.msgFrameExt.messageId",
        )
    inner = decode_type(message_set, DAY2_MESSAGES[mid][1], ext["value"], "$.msgFrameExt.value")
    return {**ext, "value": inner}


def _message_type(value: Any) -> str:
    alternative, content = value
    if alternative == "msgFrameExt":
        return DAY2_MESSAGES[content["messageId"]][0]
    return FRAME_MESSAGES[alternative]


def decode(
    data: bytes,
    *,
    message_set: MessageSet,
    received_at_ms: int = 0,
    area: DeploymentArea | None = None,
    check_version: bool = True,
    wire_only: bool = False,
) -> Decoded[Any] | Rejected:
    """Decode one UPER MessageFrame and judge it. Never raises for bad bytes: returns ``Rejected``.

    Every validity and plausibility rule (``codec.plausibility``) runs here, once: a
    ``Decoded`` is valid by construction and its ``to_model()`` cannot fail.
    ``received_at_ms`` (UTC ms) resolves bare secMark/moy times in the SI model; ``area``
    switches on the strict deployment-area check of MAP and RSI reference points;
    ``check_version=False`` turns off the wrong-version heuristic used when no area is set
    (for data known to be on ``message_set``, e.g. generated test frames);
    ``wire_only=True`` (the lossless JSON path) keeps every frame valid on the wire: the
    model rules (``no_position``, ``implausible``) are not judged, so its ``to_model()`` may
    raise ``DecodeError`` and it must never be ingested. By default such frames are
    rejected, so an SI-model consumer never meets one.
    """
    data = bytes(data)
    if not data:
        return Rejected(raw=data, reason=DropReason.EMPTY, detail="no bytes")
    try:
        value = _decode_value(data, message_set)
    except Reject as exc:
        if check_version:
            exc = explain_version(exc, data, message_set)
        return Rejected(raw=data, reason=exc.reason, detail=exc.detail, where=exc.where)
    decoded: Decoded[Any] = Decoded(
        message_set=message_set,
        message_type=_message_type(value),
        value=value,
        raw=data,
        reference_ms=received_at_ms,
        area=area,
    )
    rejected = check_frame(decoded, check_version=check_version, wire_only=wire_only)
    return decoded if rejected is None else rejected


def frame_to_json(value: Any, *, message_set: MessageSet) -> dict[str, Any]:
    """Native MessageFrame value (Day-2 payload decoded) → lossless CSAE JSON."""
    spec = compiled(message_set)
    result: dict[str, Any] = _json_form(message_set).to_json(spec.types["MessageFrame"].type, value)
    return result


def encode_native(value: Any, *, message_set: MessageSet) -> bytes:
    """Native MessageFrame value (Day-2 payload as a decoded value or bytes) → UPER bytes."""
    spec = compiled(message_set)
    alternative, content = value
    fast = _FAST_ENCODERS.get((message_set, alternative))
    if fast is not None:
        try:
            return fast(content)
        except Fallback as exc:  # by design: counted and logged once per reason
            note_hand_over(message_set.value, "encode", alternative, exc)
        except Exception as exc:  # the generic path below encodes it or says what is wrong
            raw = _encode_generic(spec, alternative, content)  # EncodeError: bad
            FAST_PATH_FAILURES.record(f"codec:fast_encode:{alternative}", exc)
            return raw
    return _encode_generic(spec, alternative, content)


def _encode_generic(spec: Any, alternative: str, content: Any) -> bytes:
    value = (alternative, content)
    if alternative == "msgFrameExt" and not isinstance(content.get("value"), bytes | bytearray):
        mid = content.get("messageId")
        if mid not in DAY2_MESSAGES:
            raise EncodeError(
                "MessageFrame", f"unknown Day-2 messageId {mid!r}", where="$.msgFrameExt.messageId"
            )
        inner = _encode_type(spec, DAY2_MESSAGES[mid][1], content["value"], "$.msgFrameExt.value")
        value = (alternative, {**content, "value": inner})
    return _encode_type(spec, "MessageFrame", value, "$")


def _encode_type(spec: Any, type_name: str, value: Any, where: str) -> bytes:
    try:
        return bytes(spec.encode(type_name, value, check_constraints=True))
    except Exception as exc:  # asn1tools EncodeError/ConstraintsError, or TypeError on bad shapes
        location, text = split_error(exc)
        raise EncodeError(type_name, text, where=location or where) from exc


def encode(frame: dict[str, Any] | Decoded, *, message_set: MessageSet) -> bytes:
    """Lossless CSAE JSON of a MessageFrame (``{"bsmFrame": {...}}``) or a ``Decoded`` → UPER.

    Raises ``EncodeError`` naming the field path when a value does not fit the schema.
    """
    if isinstance(frame, Decoded):
        return encode_native(frame.value, message_set=frame.message_set)
    spec = compiled(message_set)
    native = _json_form(message_set).from_json(spec.types["MessageFrame"].type, frame)
    return encode_native(native, message_set=message_set)
