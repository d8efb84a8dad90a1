"""Compile an asn1tools UPER type tree into straight-line Python (the "plan" of one type).

Each node kind writes code that leaves the decoded value in a named local, exactly as
asn1tools' ``Type.decode`` would return it, and checks the constraints asn1tools'
``check_constraints`` would check. What the plan does not cover raises ``Fallback``
(set extension bits other than a SEQUENCE's whose additions the schema does not know, which
are skipped as asn1tools skips them; unbounded lengths); impossible bits raise
``Invalid``. Either way the caller hands the frame to the asn1tools path, which decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from v2xcloud.codec._fastpath import Fallback
from v2xcloud.codec.fast._emit import Emitter

__all__ = ["Fallback", "Invalid", "emit_node"]


class Invalid(Exception):
    """The bits are not a valid value (the generic path gives the reason)."""


def emit_node(em: Emitter, node: Any, target: str) -> None:
    """Write code that decodes ``node`` into the local ``target``."""
    emit: Callable[[Emitter, Any, str], None] = _EMITTERS.get(type(node).__name__, _unsupported)
    emit(em, node, target)


def _unsupported(em: Emitter, node: Any, target: str) -> None:
    em.line(f"raise Fallback({type(node).__name__!r})")
    em.assign(target, "None")


def _extension_bit(em: Emitter, present: bool) -> None:
    """A set extension bit (a value outside the root) is left to asn1tools."""
    if present:
        em.line(f"if {em.read(1)}:")
        em.indent()
        em.line("raise Fallback('extension')")
        em.dedent()


def _range_check(em: Emitter, value: str, node: Any) -> None:
    if node.has_extension_marker:
        return  # asn1tools' checker ignores an extensible range
    if node.maximum is not None and (node.maximum - node.minimum) != (1 << node.number_of_bits) - 1:
        em.line(f"if {value} > {node.maximum}:")
        em.indent()
        em.line(f"raise Invalid({node.name!r})")
        em.dedent()


def _integer(em: Emitter, node: Any, target: str) -> None:
    if node.number_of_bits is None:
        return _unsupported(em, node, target)
    _extension_bit(em, bool(node.has_extension_marker))
    read = em.read(node.number_of_bits)
    em.assign(target, f"{read} + {node.minimum}" if node.minimum else read)
    _range_check(em, target, node)


def _boolean(em: Emitter, node: Any, target: str) -> None:
    em.assign(target, f"{em.read(1)} == 1")


def _null(em: Emitter, node: Any, target: str) -> None:
    em.assign(target, "None")


def _enumerated(em: Emitter, node: Any, target: str) -> None:
    _extension_bit(em, node.additions_index_to_data is not None)
    names = tuple(node.root_index_to_data[i] for i in range(len(node.root_index_to_data)))
    table = em.const(names, "E")
    em.assign(target, f"{table}[{em.read(node.root_number_of_bits)}]")  # IndexError if beyond


def _length(em: Emitter, node: Any, target: str) -> bool:
    """A SIZE-constrained length into ``target``; False if unbounded (not covered)."""
    if node.number_of_bits is None:
        _unsupported(em, node, target)
        return False
    _extension_bit(em, bool(node.has_extension_marker))
    if node.minimum == node.maximum:
        em.assign(target, str(node.minimum))
        return True
    read = em.read(node.number_of_bits)
    em.assign(target, f"{read} + {node.minimum}" if node.minimum else read)
    _range_check(em, target, node)
    return True


def _bits_of(em: Emitter, node: Any, target: str, per_unit: int, finish: str) -> None:
    """Fixed or constrained-length run of bits, turned into bytes by ``finish``."""
    if node.number_of_bits is not None and node.minimum == node.maximum:
        _extension_bit(em, bool(node.has_extension_marker))
        count = node.minimum * per_unit
        em.assign(target, finish.format(bits=em.read(count), n=count))
        return
    size = em.fresh("n")
    if not _length(em, node, size):
        return
    count = f"{size} * {per_unit}" if per_unit != 1 else size
    em.flush()
    em.assign(target, finish.format(bits=em.read_var(count), n=count))
    em.line(f"r -= {count}")


def _bit_string(em: Emitter, node: Any, target: str) -> None:
    finish = "(({bits}) << (-({n}) % 8)).to_bytes((({n}) + 7) // 8, 'big'), {n}"
    _bits_of(em, node, target, 1, "(" + finish + ")")


def _octet_string(em: Emitter, node: Any, target: str) -> None:
    _bits_of(em, node, target, 8, "({bits}).to_bytes(({n}) // 8, 'big')")


def _ia5_string(em: Emitter, node: Any, target: str) -> None:
    identity = node.permitted_alphabet.decode_map == {i: i for i in range(128)}
    if not identity or node.bits_per_character != 7:
        return _unsupported(em, node, target)
    size = em.fresh("n")
    if not _length(em, node, size):
        return
    em.flush()
    em.assign(target, f"''.join([chr((v >> (r - 7 * i)) & 0x7F) for i in range(1, {size} + 1)])")
    em.line(f"r -= 7 * {size}")


def _sequence_of(em: Emitter, node: Any, target: str) -> None:
    size = em.fresh("n")
    if not _length(em, node, size):
        return
    em.flush()
    item = em.fresh("x")
    em.assign(target, "[]")
    em.line(f"for _ in range({size}):")
    em.indent()
    emit_node(em, node.element_type, item)
    em.flush()
    em.line(f"{target}.append({item})")
    em.dedent()


def _choice(em: Emitter, node: Any, target: str) -> None:
    _extension_bit(em, node.additions_index_to_member is not None)
    members = node.root_index_to_member
    if len(members) == 1:
        value = em.fresh("c")
        emit_node(em, members[0], value)
        em.assign(target, f"({members[0].name!r}, {value})")
        return
    index = em.fresh("i")
    em.assign(index, em.read(node.root_number_of_bits))
    em.flush()
    for i, member in members.items():
        em.line(f"{'if' if i == 0 else 'elif'} {index} == {i}:")
        em.indent()
        value = em.fresh("c")
        emit_node(em, member, value)
        em.flush()
        em.assign(target, f"({member.name!r}, {value})")
        em.dedent()
    em.line("else:")
    em.indent()
    em.line(f"raise Invalid({node.name!r})")
    em.dedent()


def _sequence(em: Emitter, node: Any, target: str) -> None:
    extended = em.fresh("e")
    if node.additions:  # additions the schema knows: asn1tools decodes them
        _extension_bit(em, True)
    elif node.additions is not None:  # none known: skipped after the root members
        em.assign(extended, em.read(1))
    optionals = node.optionals
    mask = em.fresh("m")
    if optionals:
        em.assign(mask, em.read(len(optionals)))
    flags = {id(m): 1 << (len(optionals) - 1 - i) for i, m in enumerate(optionals)}
    parts: list[tuple[Any, str]] = []
    for member in node.root_members:
        value = em.fresh("f")
        if id(member) in flags:
            em.flush()
            em.line(f"if {mask} & {flags[id(member)]}:")
            em.indent()
            emit_node(em, member, value)
            em.flush()
            em.dedent()
        else:
            emit_node(em, member, value)
        parts.append((member, value))
    if node.additions is not None and not node.additions:
        em.flush()
        em.line(f"if {extended}:")
        em.indent()
        em.assign("r", "skip_unknown_additions(v, r)")
        em.dedent()
    _build_dict(em, target, parts, mask, flags)


def _build_dict(
    em: Emitter, target: str, parts: list[tuple[Any, str]], mask: str, flags: dict[int, int]
) -> None:
    """The dict in member order, as asn1tools inserts them (defaults where absent)."""
    head = 0
    while head < len(parts) and id(parts[head][0]) not in flags:
        head += 1
    em.assign(target, "{" + ", ".join(f"{m.name!r}: {v}" for m, v in parts[:head]) + "}")
    for member, value in parts[head:]:
        key = f"{target}[{member.name!r}]"
        if id(member) not in flags:
            em.assign(key, value)
            continue
        em.line(f"if {mask} & {flags[id(member)]}:")
        em.indent()
        em.assign(key, value)
        em.dedent()
        if member.default is not None:
            em.line("else:")
            em.indent()
            em.assign(key, em.const(member.default, "D"))
            em.dedent()


_EMITTERS: dict[str, Callable[[Emitter, Any, str], None]] = {
    "Integer": _integer,
    "Boolean": _boolean,
    "Null": _null,
    "Enumerated": _enumerated,
    "BitString": _bit_string,
    "OctetString": _octet_string,
    "IA5String": _ia5_string,
    "SequenceOf": _sequence_of,
    "Choice": _choice,
    "Sequence": _sequence,
}
