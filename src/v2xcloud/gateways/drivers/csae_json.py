"""Driver for lossless CSAE JSON (``"csae-json"``): a MessageFrame as ``codec.json_form`` writes it.

``{"bsmFrame": {...}}`` (or ``mapFrame``, ``rsmFrame``, ``spatFrame``, ``rsiFrame``,
``msgFrameExt``) with the standard's field names and wire units, as ``v2xcloud decode`` prints
and many RSUs publish. The driver encodes it with the device's message set — the schema's
constraint checks name the field path — and decodes those bytes through the codec's one
decode + plausibility stage, so a JSON frame reaches the scene exactly as its UPER twin would.
"""

from __future__ import annotations

import re
from typing import Any

from v2xcloud.codec import MessageSet, encode
from v2xcloud.codec.plausibility import DeploymentArea
from v2xcloud.errors import EncodeError
from v2xcloud.gateways.base import InboundFrame
from v2xcloud.gateways.drivers._json import load_json
from v2xcloud.gateways.drivers._scene import decode_uper
from v2xcloud.gateways.drivers.result import DriverOptions, Dropped, Parsed
from v2xcloud.model import DropReason

__all__ = ["FRAME_KEYS", "csae_json_from_value", "is_csae_json", "parse_csae_json"]

FRAME_KEYS = frozenset({"bsmFrame", "mapFrame", "rsmFrame", "spatFrame", "rsiFrame", "msgFrameExt"})
# asn1tools' wording for a value outside the schema's range or size
_CONSTRAINT = re.compile(r"^Expected .*\b(between|at most|at least|of size)\b")
_SHAPE = "csae-json"


def is_csae_json(value: Any) -> bool:
    """True for a one-key object whose key is a MessageFrame alternative."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in FRAME_KEYS


def parse_csae_json(
    frame: InboundFrame,
    *,
    message_set: MessageSet,
    area: DeploymentArea | None = None,
    options: DriverOptions | None = None,
) -> Parsed | Dropped:
    """The payload is one MessageFrame in lossless CSAE JSON."""
    value = load_json(frame.payload, _SHAPE)
    if isinstance(value, Dropped):
        return value
    return csae_json_from_value(value, frame, message_set=message_set, area=area)


def csae_json_from_value(
    value: Any, frame: InboundFrame, *, message_set: MessageSet, area: DeploymentArea | None
) -> Parsed | Dropped:
    """``parse_csae_json`` of an already parsed JSON value."""
    if not is_csae_json(value):
        keys = sorted(value) if isinstance(value, dict) else type(value).__name__
        return Dropped(
            reason=DropReason.BAD_PAYLOAD,
            detail=f"expected one key of {sorted(FRAME_KEYS)}, got {keys}",
            where="$",
            shape=_SHAPE,
        )
    try:
        data = encode(value, message_set=message_set)
    except EncodeError as exc:
        reason = DropReason.CONSTRAINT if _CONSTRAINT.match(exc.detail) else DropReason.BAD_PAYLOAD
        where = (exc.where or "$").replace("$.MessageFrame", "$")
        return Dropped(reason=reason, detail=exc.detail, where=where, shape=_SHAPE)
    return decode_uper(data, frame, message_set=message_set, area=area, shape=_SHAPE)
