"""Fast decoders of whole MessageFrames holding one hot alternative (BSM, RSM, SPAT).

``build(message_set, alternative)`` compiles the alternative's asn1tools UPER type tree into
one Python function (see ``_plan``) that returns exactly asn1tools' native value
(``("bsmFrame", {...})``) and raises on anything else: another alternative, a set extension
bit (``Fallback``), bits that are not a valid value, a value outside the schema's
constraints, whole bytes left over or non-zero padding. The codec then decodes the frame the
generic way, which accepts it or says why not. ``stats()`` counts the fallbacks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import cache
from typing import Any

from v2xcloud.codec._schema import compiled
from v2xcloud.codec.fast._additions import skip_unknown_additions
from v2xcloud.codec.fast._emit import Emitter
from v2xcloud.codec.fast._plan import Fallback, Invalid, emit_node
from v2xcloud.codec.message_set import MessageSet
from v2xcloud.errors import ConfigError

__all__ = ["HOT_ALTERNATIVES", "FastFrameDecoder", "build", "source", "stats"]

HOT_ALTERNATIVES = ("bsmFrame", "rsmFrame", "spatFrame")

FastFrameDecoder = Callable[[bytes], tuple[str, Any]]

_STATS: Counter[tuple[str, str, str]] = Counter()


def stats() -> dict[tuple[str, str, str], int]:
    """(message set, alternative, ``"fallback"``/``"invalid"``) → frames handed to asn1tools."""
    return dict(_STATS)


def _frame_code(message_set: MessageSet, alternative: str) -> Emitter:
    frame = compiled(message_set)._types["MessageFrame"]._type
    index = {m.name: i for i, m in frame.root_index_to_member.items()}[alternative]
    em = Emitter()
    em.line("try:")
    em.indent()
    em.assign("r", "len(data) * 8")
    em.assign("v", "int.from_bytes(data, 'big')")
    if frame.additions_index_to_member is not None:
        em.line(f"if {em.read(1)}:")
        em.indent()
        em.line("raise Fallback('MessageFrame extension')")
        em.dedent()
    em.line(f"if {em.read(frame.root_number_of_bits)} != {index}:")
    em.indent()
    em.line(f"raise Invalid('not a {alternative}')")
    em.dedent()
    emit_node(em, frame.root_index_to_member[index], "value")
    em.flush()
    # whole bytes used, zero padding: as the generic path's checks
    em.line("if r < 0 or r >= 8 or v & ((1 << r) - 1):")
    em.indent()
    em.line("raise Invalid('length or padding')")
    em.dedent()
    em.line(f"return ({alternative!r}, value)")
    em.dedent()
    em.line("except Fallback:")
    em.indent()
    em.line(f"_STATS[({message_set.value!r}, {alternative!r}, 'fallback')] += 1")
    em.line("raise")
    em.dedent()
    em.line("except Exception:")
    em.indent()
    em.line(f"_STATS[({message_set.value!r}, {alternative!r}, 'invalid')] += 1")
    em.line("raise")
    em.dedent()
    return em


def source(message_set: MessageSet, alternative: str) -> str:
    """The generated Python text of one fast decoder (for reading and debugging)."""
    return _frame_code(message_set, alternative).source(f"decode_{alternative}")


@cache
def build(message_set: MessageSet, alternative: str) -> FastFrameDecoder:
    """The compiled fast decoder of MessageFrames holding ``alternative`` under one set."""
    if alternative not in HOT_ALTERNATIVES:
        raise ConfigError(f"fast decoders exist only for {HOT_ALTERNATIVES}")
    em = _frame_code(message_set, alternative)
    name = f"decode_{alternative}"
    namespace: dict[str, Any] = {
        **em.consts,
        "Fallback": Fallback,
        "Invalid": Invalid,
        "_STATS": _STATS,
        "skip_unknown_additions": skip_unknown_additions,
    }
    code = compile(em.source(name), f"<v2xcloud fast {message_set.value} {alternative}>", "exec")
    exec(code, namespace)  # our own generated code, from our own schema
    fn: FastFrameDecoder = namespace[name]
    return fn
