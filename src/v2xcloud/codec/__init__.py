"""Wire formats of C-V2X messages: UPER (T/CSAE 53-2017, 53-2020/YD/T 3709, 157-2020 Day-2)
and lossless CSAE JSON, to and from the SI domain model.

May import: ``model``, ``errors``. Schemas and anything generated from them stay inside.

The message-set version is a per-device setting (``MessageSet``). ``decode`` never raises for
bad bytes; it returns ``Rejected(raw, reason, where, detail)``, to be counted per
``RejectReason`` by the caller. A ``Decoded`` carries the message type, the asn1tools value,
the lossless CSAE JSON (``.json``, see ``json_form`` for the convention) and the SI model
(``.to_model()``). Day-2 messages (``msgFrameExt``) are decoded in the same call.

>>> from v2xcloud.codec import MessageSet, decode, encode
>>> frame = bytes.fromhex(hex_text)                                      # doctest: +SKIP
>>> result = decode(frame, message_set=MessageSet.CSAE2017, received_at_ms=now_ms)  # doctest: +SKIP
>>> if isinstance(result, Decoded):                                       # doctest: +SKIP
...     bsm = result.to_model()              # v2xcloud.model.Bsm, SI units
...     assert encode(result.json, message_set=MessageSet.CSAE2017) == frame
... else:
...     dead_letters[result.reason] += 1

The simulator goes the other way: ``encode_model(model, message_set=...)`` turns a ``Bsm``,
``Rsm``, ``Spat``, ``MapData`` or ``Rsi`` into UPER bytes, rounding to the wire resolution and
raising ``EncodeError`` with the field path for values out of range.

Per-message modules follow msgspec's interface: ``bsm.decode(data) -> Bsm``,
``bsm.encode(msg) -> bytes`` and a reusable ``bsm.Decoder``; likewise ``rsm``, ``spat``,
``mapdata``, ``rsi``. ``register_fast_decoder`` slots a faster decoder in for a hot message
without changing any caller.
"""

from v2xcloud.codec.frame import (
    decode,
    encode,
    encode_native,
    register_fast_decoder,
    unregister_fast_decoder,
)
from v2xcloud.codec.framing import (
    CaptureFrame,
    iter_capture_lines,
    iter_hex_lines,
    parse_capture_record,
)
from v2xcloud.codec.message_set import DAY2_MESSAGES, FRAME_MESSAGES, MessageSet, message_set_of
from v2xcloud.codec.model_convert import encode_model, to_model
from v2xcloud.codec.plausibility import CHINA, DeploymentArea
from v2xcloud.codec.result import Decoded, Rejected, RejectReason

__all__ = [
    "CHINA",
    "DAY2_MESSAGES",
    "FRAME_MESSAGES",
    "CaptureFrame",
    "Decoded",
    "DeploymentArea",
    "MessageSet",
    "RejectReason",
    "Rejected",
    "decode",
    "encode",
    "encode_model",
    "encode_native",
    "iter_capture_lines",
    "iter_hex_lines",
    "message_set_of",
    "parse_capture_record",
    "register_fast_decoder",
    "to_model",
    "unregister_fast_decoder",
]
