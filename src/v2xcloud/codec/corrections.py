"""RTCM corrections (T/CSAE 157-2020 ``RTCMcorrections``) ``model.day2.Rtcm`` → wire: the
payloads a reference station's corrections carry, relayed as they came (1..5 per message,
1..2047 bytes each; revision and message id left out). The decoding direction is
``codec.day2.rtcm_from_wire``."""

from __future__ import annotations

from typing import Any

from v2xcloud.codec.frame import encode_native
from v2xcloud.codec.message_set import DAY2_TYPE_NAMES, MessageSet
from v2xcloud.errors import EncodeError
from v2xcloud.model.day2 import Rtcm

__all__ = ["encode_rtcm", "rtcm_to_wire"]

_MSG = "RTCM"


def rtcm_to_wire(msg: Rtcm) -> dict[str, Any]:
    """``Rtcm`` → RTCMcorrections native value; raises ``EncodeError`` for no payload, more
    than five, or one outside 1..2047 bytes."""
    if not 1 <= len(msg.payloads) <= 5:
        raise EncodeError(_MSG, f"1..5 corrections per message, got {len(msg.payloads)}",
                          where="$.corrections")  # fmt: skip
    for k, p in enumerate(msg.payloads):
        if not 1 <= len(p) <= 2047:
            raise EncodeError(_MSG, f"a payload is 1..2047 bytes, got {len(p)}",
                              where=f"$.corrections[{k}].payload")  # fmt: skip
    return {"msgCnt": msg.msg_count % 128, "corrections": [{"payload": p} for p in msg.payloads]}


def encode_rtcm(msg: Rtcm, *, message_set: MessageSet = MessageSet.CSAE2020) -> bytes:
    """``Rtcm`` → UPER MessageFrame (msgFrameExt, messageId 10); raises ``EncodeError``."""
    value = ("msgFrameExt", {"messageId": DAY2_TYPE_NAMES[_MSG], "value": rtcm_to_wire(msg)})
    return encode_native(value, message_set=message_set)
