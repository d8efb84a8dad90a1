"""Bytes ⇄ MessageFrame: the one place UPER is decoded and encoded.

``decode`` never raises for bad input: it returns ``Rejected`` with a reason. A faster decoder
for a hot message (BSM, RSM, SPAT) can be slotted in with ``register_fast_decoder`` without
changing any caller: it receives the frame bytes and returns the same native value.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from asn1tools.codecs import uper as _uper

from v2xcloud.codec._schema import compiled
from v2xcloud.codec.json_form import JsonForm
from v2xcloud.codec.message_set import DAY2_MESSAGES, FRAME_MESSAGES, MessageSet
from v2xcloud.codec.plausibility import CHINA, DeploymentArea, reference_points, strict_problem
from v2xcloud.codec.result import Decoded, Rejected, RejectReason
from v2xcloud.errors import EncodeError

__all__ = [
    "FastDecoder",
    "decode",
    "encode",
    "encode_native",
    "frame_to_json",
    "register_fast_decoder",
    "unregister_fast_decoder",
]

FastDecoder = Callable[[bytes], Any]
_FAST: dict[tuple[MessageSet, str], FastDecoder] = {}
_ROOT_ORDER = list(FRAME_MESSAGES)  # MessageFrame root alternatives, in index order


class _Reject(Exception):
    def __init__(self, reason: RejectReason, detail: str, where: str | None = None) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.where = reason, detail, where


def register_fast_decoder(message_set: MessageSet, alternative: str, fn: FastDecoder) -> None:
    """Use ``fn(frame_bytes) -> native MessageFrame value`` for one root alternative.

    ``fn`` must return exactly what asn1tools would (``("bsmFrame", {...})``) and raise any
    exception on bad input (the frame is then decoded by the generic path, which says why).
    """
    if alternative not in FRAME_MESSAGES:
        raise ValueError(f"fast decoders exist only for {sorted(FRAME_MESSAGES)}")
    _FAST[(message_set, alternative)] = fn


def unregister_fast_decoder(message_set: MessageSet, alternative: str) -> None:
    """Go back to the generic decoder for one alternative."""
    _FAST.pop((message_set, alternative), None)


@cache
def _json_form(message_set: MessageSet) -> JsonForm:
    spec = compiled(message_set)
    open_types = {
        mid: spec.types[type_name].type
        for mid, (_, type_name) in DAY2_MESSAGES.items()
        if type_name in spec.types
    }
    return JsonForm(open_types=open_types)


def _split(exc: Exception) -> tuple[str | None, str]:
    """asn1tools' ``"a.b.c: what"`` → (``"$.a.b.c"``, ``"what"``)."""
    text = str(exc) or type(exc).__name__
    head, sep, tail = text.partition(": ")
    if sep and " " not in head:
        return "$." + head, tail
    return None, text


def _decode_type(message_set: MessageSet, type_name: str, data: bytes, where: str) -> Any:
    compiled_type = compiled(message_set)._types[type_name]
    decoder = _uper.Decoder(bytearray(data))
    try:
        value = compiled_type._type.decode(decoder)
    except Exception as exc:  # asn1tools raises DecodeError, but also IndexError/ValueError
        location, text = _split(exc)
        raise _Reject(RejectReason.MALFORMED, f"{type_name}: {text}", location or where) from exc
    used_bits = decoder.number_of_read_bits()
    used_bytes = (used_bits + 7) // 8
    if used_bytes < len(data):
        raise _Reject(
            RejectReason.TRAILING_BYTES,
            f"{type_name} ends at byte {used_bytes} of {len(data)}",
            f"byte {used_bytes}",
        )
    if used_bits % 8 and data[-1] & (0xFF >> (used_bits % 8)):
        # UPER pads the last octet with zeros; anything else is not a frame we could re-create
        raise _Reject(
            RejectReason.MALFORMED, f"{type_name}: non-zero padding bits", f"byte {used_bytes - 1}"
        )
    try:
        compiled_type.check_constraints(value)
    except Exception as exc:
        location, text = _split(exc)
        raise _Reject(RejectReason.CONSTRAINT, f"{type_name}: {text}", location or where) from exc
    return value


def _peek_alternative(data: bytes) -> str | None:
    first = data[0]
    if first & 0x80:
        return None  # extension alternative (Day-2)
    index = (first >> 4) & 0x7
    return _ROOT_ORDER[index] if index < len(_ROOT_ORDER) else None


def _decode_value(data: bytes, message_set: MessageSet) -> Any:
    alternative = _peek_alternative(data)
    fast = _FAST.get((message_set, alternative)) if alternative else None
    if fast is not None:
        try:
            return fast(data)
        except Exception:  # the generic path below explains what is wrong
            pass
    value = _decode_type(message_set, "MessageFrame", data, "$")
    if value[0] is None:  # asn1tools: an extension alternative this set does not know
        raise _Reject(
            RejectReason.UNKNOWN_MESSAGE,
            f"MessageFrame alternative is an extension unknown to {message_set.value}",
            "$",
        )
    if value[0] == "msgFrameExt":
        value = ("msgFrameExt", _decode_day2(value[1], message_set))
    return value


def _decode_day2(ext: dict[str, Any], message_set: MessageSet) -> dict[str, Any]:
    mid = ext["messageId"]
    if mid not in DAY2_MESSAGES:
        raise _Reject(
            RejectReason.UNKNOWN_MESSAGE,
            f"Day-2 messageId {mid} is not defined in {message_set.value}",
            "$.msgFrameExt.messageId",
        )
    inner = _decode_type(message_set, DAY2_MESSAGES[mid][1], ext["value"], "$.msgFrameExt.value")
    return {**ext, "value": inner}


def _message_type(value: Any) -> str:
    alternative, content = value
    if alternative == "msgFrameExt":
        return DAY2_MESSAGES[content["messageId"]][0]
    return FRAME_MESSAGES[alternative]


def _check_plausible(
    value: Any,
    message_set: MessageSet,
    data: bytes,
    area: DeploymentArea | None,
    check_version: bool,
) -> None:
    alternative, content = value
    if alternative not in ("mapFrame", "rsiFrame"):
        return
    if area is not None:
        problem = strict_problem(alternative, content, area)
        if problem:
            where, what = problem
            raise _Reject(RejectReason.IMPLAUSIBLE, _mismatch_sentence(message_set, what), where)
        return
    if not check_version:
        return
    outside = [
        (w, la, lo)
        for w, la, lo in reference_points(alternative, content)
        if not CHINA.contains(la, lo)
    ]
    if outside and _other_set_is_plausible(data, message_set):
        where, lat, lon = outside[0]
        what = f"reference point ({lat:.5f}, {lon:.5f}) lies outside China, while {_other(message_set).value} puts it inside"
        raise _Reject(RejectReason.IMPLAUSIBLE, _mismatch_sentence(message_set, what), where)


def _other(message_set: MessageSet) -> MessageSet:
    return MessageSet.CSAE2017 if message_set is MessageSet.CSAE2020 else MessageSet.CSAE2020


def _mismatch_sentence(message_set: MessageSet, what: str) -> str:
    other = _other(message_set).value
    return f"decoded with {message_set.value} but {what}; is the device on {other}?"


def _explain_version(exc: _Reject, data: bytes, message_set: MessageSet) -> _Reject:
    """A MAP/RSI that fails under one set but decodes cleanly under the other: say so."""
    if exc.reason not in _STRUCTURAL or _peek_alternative(data) not in ("mapFrame", "rsiFrame"):
        return exc
    if not _other_set_is_plausible(data, message_set):
        return exc
    other = _other(message_set).value
    detail = (
        f"does not decode with {message_set.value} ({exc.reason.value}: {exc.detail}), but "
        f"{other} decodes it completely with its reference point inside China; "
        f"is the device on {other}?"
    )
    return _Reject(RejectReason.IMPLAUSIBLE, detail, exc.where)


_STRUCTURAL = (RejectReason.MALFORMED, RejectReason.TRAILING_BYTES, RejectReason.CONSTRAINT)


def _other_set_is_plausible(data: bytes, message_set: MessageSet) -> bool:
    try:
        value = _decode_type(_other(message_set), "MessageFrame", data, "$")
    except _Reject:
        return False
    points = (
        list(reference_points(value[0], value[1])) if value[0] in ("mapFrame", "rsiFrame") else []
    )
    return bool(points) and all(CHINA.contains(la, lo) for _, la, lo in points)


def decode(
    data: bytes,
    *,
    message_set: MessageSet,
    received_at_ms: int = 0,
    area: DeploymentArea | None = None,
    check_version: bool = True,
) -> Decoded | Rejected:
    """Decode one UPER MessageFrame. Never raises for bad bytes: returns ``Rejected``.

    ``received_at_ms`` (UTC ms) resolves bare secMark/moy times in the SI model; ``area``
    switches on the strict plausibility check of MAP and RSI reference points;
    ``check_version=False`` turns off the wrong-version heuristic used when no area is set
    (for data known to be on ``message_set``, e.g. generated test frames).
    """
    data = bytes(data)
    if not data:
        return Rejected(raw=data, reason=RejectReason.EMPTY, detail="no bytes")
    try:
        value = _decode_value(data, message_set)
        _check_plausible(value, message_set, data, area, check_version)
    except _Reject as exc:
        if check_version:
            exc = _explain_version(exc, data, message_set)
        return Rejected(raw=data, reason=exc.reason, detail=exc.detail, where=exc.where)
    return Decoded(
        message_set=message_set,
        message_type=_message_type(value),
        value=value,
        raw=data,
        reference_ms=received_at_ms,
        area=area,
    )


def frame_to_json(value: Any, *, message_set: MessageSet) -> dict[str, Any]:
    """Native MessageFrame value (Day-2 payload decoded) → lossless CSAE JSON."""
    spec = compiled(message_set)
    result: dict[str, Any] = _json_form(message_set).to_json(spec.types["MessageFrame"].type, value)
    return result


def encode_native(value: Any, *, message_set: MessageSet) -> bytes:
    """Native MessageFrame value (Day-2 payload as a decoded value or bytes) → UPER bytes."""
    spec = compiled(message_set)
    alternative, content = value
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
        location, text = _split(exc)
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
