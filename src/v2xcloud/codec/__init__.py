"""Wire formats of C-V2X messages: UPER (T/CSAE 53-2017, 53-2020/YD/T 3709, 157-2020 Day-2)
and lossless CSAE JSON, to and from the SI domain model.

May import: ``model``, ``errors``. Schemas and anything generated from them stay inside.

The message-set version is a per-device setting (``MessageSet``). ``decode`` never raises for
bad bytes; it returns ``Rejected(raw, reason, where, detail)``, to be counted per
``model.DropReason`` by the caller. Every validity and plausibility rule runs once, inside
``decode`` (``plausibility``), so a ``Decoded`` is valid by construction; models that enter
without bytes (a gateway's JSON driver, ``Runtime.ingest``) go through the same rules with
``check_model(model)``. A ``Decoded[M]`` carries the message type, the asn1tools value,
the lossless CSAE JSON (``.json``, see ``json_form`` for the convention) and the SI model
(``.to_model()``). Day-2 messages (``msgFrameExt``) are decoded in the same call.

>>> from v2xcloud.codec import MessageSet, decode, encode
>>> frame = bytes.fromhex(hex_text)                                      # doctest: +SKIP
>>> result = decode(frame, message_set=MessageSet.CSAE2017, received_at_ms=now_ms)  # doctest: +SKIP
>>> if isinstance(result, Decoded):                                       # doctest: +SKIP
...     bsm = result.to_model()              # v2xcloud.model.Bsm, SI units
...     assert encode(result.json, message_set=MessageSet.CSAE2017) == frame
... else:
...     dead_letters[result.reason.value] += 1

The simulator goes the other way: ``encode_model(model, message_set=...)`` turns a ``Bsm``,
``Rsm``, ``Spat``, ``MapData`` or ``Rsi`` into UPER bytes, rounding to the wire resolution and
raising ``EncodeError`` with the field path for values out of range.

Lossless CSAE JSON (``json_form``): SEQUENCE → object of present members, CHOICE →
``{"alternative": value}``, OCTET STRING → hex text, BIT STRING → text of ``0``/``1``,
ENUMERATED → name, Day-2 open type → the value of its ``messageId``'s type. decode → encode is
byte-identical for every frame valid under the set's schema (frames carrying X.691 extension
additions of a newer version decode, but re-encode without what the schema does not know).

Framing (``framing``): raw UPER, hex text one frame per line, and the vendor capture record
(8-byte device id, 8-byte LE ms timestamp, then u16 LE length + frame, or a count byte and
several length-prefixed frames: the capture's "19-byte" BSM prefix is such a batch of two).

Validity (``plausibility``, the one stage): positions on the Earth and available, speed
within ``MAX_SPEED_MPS``, heading and elevation in range (``implausible``/``no_position``);
with ``area=DeploymentArea(...)`` every MAP/RSI reference point must lie inside it and lane
points near their node; without an area, a MAP/RSI that fails or lands outside China under
one set but decodes cleanly inside China under the other is rejected as ``wrong_version``
with "is the device on csae2017?".

Per-message modules follow msgspec's interface: ``bsm.decode(data) -> Bsm``,
``bsm.encode(msg) -> bytes`` and a reusable ``bsm.Decoder``; likewise ``rsm``, ``spat``,
``mapdata``, ``rsi``. ``register_fast_decoder`` slots a faster decoder in for a hot message
without changing any caller; ``codec.fast`` registers generated decoders and encoders for
BSM, RSM and SPAT by default (``V2XCLOUD_FAST_DECODE=0`` or ``fast.uninstall()`` turns them
off), proven equal to asn1tools.
"""

from v2xcloud.codec._fastpath import hand_overs as fast_path_hand_overs
from v2xcloud.codec._schema import compiled as _compiled_schema
from v2xcloud.codec._schema import compiled_files as compile_asn1
from v2xcloud.codec.fast import install_default as _install_fast_decoders
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
from v2xcloud.codec.plausibility import CHINA, DeploymentArea, check_model
from v2xcloud.codec.result import Decoded, Rejected


def prepare(message_set: MessageSet) -> None:
    """Compile ``message_set``'s schema now. It is otherwise compiled on the first frame of
    that set, which takes seconds: a service calls this at start, before devices talk."""
    _compiled_schema(message_set)


__all__ = [
    "CHINA",
    "DAY2_MESSAGES",
    "FRAME_MESSAGES",
    "CaptureFrame",
    "Decoded",
    "DeploymentArea",
    "MessageSet",
    "Rejected",
    "check_model",
    "compile_asn1",
    "decode",
    "encode",
    "encode_model",
    "encode_native",
    "fast_path_hand_overs",
    "iter_capture_lines",
    "iter_hex_lines",
    "message_set_of",
    "parse_capture_record",
    "prepare",
    "register_fast_decoder",
    "to_model",
    "unregister_fast_decoder",
]

_install_fast_decoders()
