"""Fast encoders of the hot MessageFrame alternatives (BSM, RSM, SPAT): native value → UPER.

``build_encoder(message_set, alternative)`` compiles the alternative's asn1tools type tree
(see ``_encode_plan``) into one function ``fn(content) -> bytes`` of the whole MessageFrame,
byte-identical to ``spec.encode("MessageFrame", (alternative, content),
check_constraints=True)``. For any value it does not encode exactly so (a missing member, a
value out of range, a type asn1tools would coerce, an extension) it raises, and the codec
encodes the value with asn1tools, which gives the bytes or the ``EncodeError``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from v2xcloud.codec._schema import compiled
from v2xcloud.codec.fast._emit import Emitter
from v2xcloud.codec.fast._encode_plan import emit_encode
from v2xcloud.codec.fast._plan import Fallback
from v2xcloud.codec.fast.decoders import HOT_ALTERNATIVES
from v2xcloud.codec.message_set import MessageSet
from v2xcloud.errors import ConfigError

__all__ = ["FastFrameEncoder", "build_encoder", "encoder_source"]

FastFrameEncoder = Callable[[Any], bytes]


def _frame_code(message_set: MessageSet, alternative: str) -> Emitter:
    frame = compiled(message_set)._types["MessageFrame"]._type
    index = {m.name: i for i, m in frame.root_index_to_member.items()}[alternative]
    em = Emitter(advance="n += {}")
    em.assign("a", "0")
    em.assign("n", "0")
    extension = 1 if frame.additions_index_to_member is not None else 0
    em.put(frame.root_number_of_bits + extension, str(index))
    emit_encode(em, frame.root_index_to_member[index], "value")
    em.flush()
    em.assign("pad", "-n % 8")
    em.line("return (a << pad).to_bytes((n + pad) // 8, 'big')")
    return em


def encoder_source(message_set: MessageSet, alternative: str) -> str:
    """The generated Python text of one fast encoder (for reading and debugging)."""
    return _frame_code(message_set, alternative).source(f"encode_{alternative}", "value")


@cache
def build_encoder(message_set: MessageSet, alternative: str) -> FastFrameEncoder:
    """The compiled fast encoder of ``alternative``'s content as a whole MessageFrame."""
    if alternative not in HOT_ALTERNATIVES:
        raise ConfigError(f"fast encoders exist only for {HOT_ALTERNATIVES}")
    em = _frame_code(message_set, alternative)
    name = f"encode_{alternative}"
    namespace: dict[str, Any] = {**em.consts, "Fallback": Fallback}
    text = em.source(name, "value")
    exec(
        compile(text, f"<v2xcloud fast encoder {message_set.value} {alternative}>", "exec"),
        namespace,
    )
    fn: FastFrameEncoder = namespace[name]
    return fn
