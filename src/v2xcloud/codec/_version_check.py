"""Is a MAP/RSI on the message set it was decoded with? Plausibility and version hints."""

from __future__ import annotations

from typing import Any

from v2xcloud.codec._uper import Reject, decode_type, peek_alternative
from v2xcloud.codec.message_set import MessageSet
from v2xcloud.codec.plausibility import CHINA, DeploymentArea, reference_points, strict_problem
from v2xcloud.codec.result import RejectReason


def check_plausible(
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
            raise Reject(RejectReason.IMPLAUSIBLE, _mismatch_sentence(message_set, what), where)
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
        raise Reject(RejectReason.IMPLAUSIBLE, _mismatch_sentence(message_set, what), where)


def _other(message_set: MessageSet) -> MessageSet:
    return MessageSet.CSAE2017 if message_set is MessageSet.CSAE2020 else MessageSet.CSAE2020


def _mismatch_sentence(message_set: MessageSet, what: str) -> str:
    other = _other(message_set).value
    return f"decoded with {message_set.value} but {what}; is the device on {other}?"


def explain_version(exc: Reject, data: bytes, message_set: MessageSet) -> Reject:
    """A MAP/RSI that fails under one set but decodes cleanly under the other: say so."""
    if exc.reason not in _STRUCTURAL or peek_alternative(data) not in ("mapFrame", "rsiFrame"):
        return exc
    if not _other_set_is_plausible(data, message_set):
        return exc
    other = _other(message_set).value
    detail = (
        f"does not decode with {message_set.value} ({exc.reason.value}: {exc.detail}), but "
        f"{other} decodes it completely with its reference point inside China; "
        f"is the device on {other}?"
    )
    return Reject(RejectReason.IMPLAUSIBLE, detail, exc.where)


_STRUCTURAL = (RejectReason.MALFORMED, RejectReason.TRAILING_BYTES, RejectReason.CONSTRAINT)


def _other_set_is_plausible(data: bytes, message_set: MessageSet) -> bool:
    try:
        value = decode_type(_other(message_set), "MessageFrame", data, "$")
    except Reject:
        return False
    points = (
        list(reference_points(value[0], value[1])) if value[0] in ("mapFrame", "rsiFrame") else []
    )
    return bool(points) and all(CHINA.contains(la, lo) for _, la, lo in points)
