"""Dispatch between a ``Decoded`` frame and the SI models, in both directions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from v2xcloud.codec import (
    bsm,
    coordination,
    corrections,
    day2,
    mapdata,
    payment,
    rsi,
    rsm,
    sharing,
    spat,
)
from v2xcloud.codec.message_set import MessageSet
from v2xcloud.codec.result import Decoded
from v2xcloud.errors import EncodeError
from v2xcloud.model import Bsm, MapData, Rsi, Rsm, Spat
from v2xcloud.model.day2 import Psm, Rsc, Rtcm, Ssm, Vir, Vpm

__all__ = ["encode_model", "to_model"]

_DAY1 = {
    "BSM": bsm.from_wire,
    "RSM": rsm.from_wire,
    "SPAT": spat.from_wire,
    "MAP": mapdata.from_wire,
    "RSI": rsi.from_wire,
}


def to_model(decoded: Decoded) -> Any:
    """The SI model of a decoded frame (``Bsm``, ``Rsm``, ``Spat``, ``MapData``, ``Rsi``,
    or a ``model.day2`` type); secMark/moy resolve against ``decoded.reference_ms``."""
    alternative, content = decoded.value
    if alternative == "msgFrameExt":
        return day2.CONVERTERS[decoded.message_type](
            content["value"], reference_ms=decoded.reference_ms
        )
    return _DAY1[decoded.message_type](content, reference_ms=decoded.reference_ms)


_ENCODERS: dict[type, Callable[..., bytes]] = {
    Bsm: bsm.encode,
    Rsm: rsm.encode,
    Spat: spat.encode,
    MapData: mapdata.encode,
    Rsi: rsi.encode,
    Vir: coordination.encode_vir,
    Rsc: coordination.encode_rsc,
    Psm: day2.encode_psm,
    Ssm: sharing.encode_ssm,
    Vpm: payment.encode_vpm,
    Rtcm: corrections.encode_rtcm,
}


def encode_model(
    model: Bsm | Rsm | Spat | MapData | Rsi | Vir | Rsc | Psm | Ssm | Vpm | Rtcm,
    *,
    message_set: MessageSet,
) -> bytes:
    """SI model → UPER MessageFrame, rounded to the wire resolution.

    Raises ``EncodeError`` with the field path when a value is out of the wire's range.
    """
    encoder = _ENCODERS.get(type(model))
    if encoder is None:  # a subclass of one of the models
        encoder = next((e for t, e in _ENCODERS.items() if isinstance(model, t)), None)
    if encoder is None:
        raise EncodeError(
            type(model).__name__,
            "encode_model takes Bsm, Rsm, Spat, MapData, Rsi, Vir, Rsc, Psm, Ssm, Vpm or Rtcm",
        )
    return encoder(model, message_set=message_set)
