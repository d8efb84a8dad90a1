"""Compile an asn1tools UPER type tree into straight-line Python that encodes a native value.

The generated code appends every field to one ``int`` accumulator ``a`` and counts the bits
in ``n``. It produces bytes only for values asn1tools would encode with
``check_constraints=True`` to the very same bytes: it checks Python types strictly (``int``
not ``bool``, ``bytes`` not ``bytearray``, ``list``, ``tuple``, ``dict``) and every range and
size, and raises for anything else (a missing member, an unknown name, an extension value),
so the caller hands the value to asn1tools, which encodes it or says what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from v2xcloud.codec.fast._emit import Emitter

__all__ = ["emit_encode"]


def emit_encode(em: Emitter, node: Any, value: str) -> None:
    """Write code that appends the encoding of the local ``value`` (of ``node``) to ``a``."""
    emit: Callable[[Emitter, Any, str], None] = _EMITTERS.get(type(node).__name__, _unsupported)
    emit(em, node, value)


def _unsupported(em: Emitter, node: Any, value: str) -> None:
    em.line(f"raise Fallback({type(node).__name__!r})")


def _require(em: Emitter, condition: str, what: str) -> None:
    em.line(f"if not ({condition}):")
    em.indent()
    em.line(f"raise Fallback({what!r})")
    em.dedent()


def _ext(node: Any) -> int:
    return 1 if node.has_extension_marker else 0  # a leading 0 bit: value in the root


def _integer(em: Emitter, node: Any, value: str) -> None:
    if node.number_of_bits is None:
        return _unsupported(em, node, value)
    _require(
        em,
        f"type({value}) is int and {node.minimum} <= {value} <= {node.maximum}",
        node.name,
    )
    em.put(node.number_of_bits + _ext(node), f"({value} - {node.minimum})")


def _boolean(em: Emitter, node: Any, value: str) -> None:
    _require(em, f"type({value}) is bool", node.name)
    em.put(1, value)


def _null(em: Emitter, node: Any, value: str) -> None:
    return None  # no bits; asn1tools ignores the value


def _enumerated(em: Emitter, node: Any, value: str) -> None:
    table = em.const(dict(node.root_data_to_index), "N")
    extension = 1 if node.additions_index_to_data is not None else 0
    em.put(node.root_number_of_bits + extension, f"{table}[{value}]")  # KeyError: not root


def _size_check(em: Emitter, node: Any, size: str) -> None:
    _require(em, f"{node.minimum} <= {size} <= {node.maximum}", node.name)


def _bit_string(em: Emitter, node: Any, value: str) -> None:
    if node.number_of_bits is None or node.minimum != node.maximum:
        return _unsupported(em, node, value)
    size, pad = node.minimum, -node.minimum % 8
    data, count = em.fresh("d"), em.fresh("b")
    _require(em, f"type({value}) is tuple and len({value}) == 2", node.name)
    em.line(f"{data}, {count} = {value}")
    _require(
        em,
        f"type({data}) is bytes and {count} == {size} and len({data}) == {(size + 7) // 8}",
        node.name,
    )
    bits = em.fresh("w")
    em.assign(bits, f"int.from_bytes({data}, 'big')")
    if node.has_named_bits and pad:  # asn1tools would keep set padding bits: not ours
        _require(em, f"not {bits} & {(1 << pad) - 1}", node.name)
    em.put(size + _ext(node), f"({bits} >> {pad})")


def _octet_string(em: Emitter, node: Any, value: str) -> None:
    if node.number_of_bits is None:
        return _unsupported(em, node, value)
    _require(em, f"type({value}) is bytes", node.name)
    size = em.fresh("l")
    em.assign(size, f"len({value})")
    _size_check(em, node, size)
    em.put(node.number_of_bits + _ext(node), f"({size} - {node.minimum})")
    if node.minimum == node.maximum:
        em.put(8 * node.minimum, f"int.from_bytes({value}, 'big')")
        return
    em.flush()
    em.line(f"a = (a << (8 * {size})) | int.from_bytes({value}, 'big')")
    em.line(f"n += 8 * {size}")


def _ia5_string(em: Emitter, node: Any, value: str) -> None:
    identity = node.permitted_alphabet.encode_map == {i: i for i in range(128)}
    if node.number_of_bits is None or not identity or node.bits_per_character != 7:
        return _unsupported(em, node, value)
    _require(em, f"type({value}) is str and {value}.isascii()", node.name)
    size = em.fresh("l")
    em.assign(size, f"len({value})")
    _size_check(em, node, size)
    em.put(node.number_of_bits + _ext(node), f"({size} - {node.minimum})")
    em.flush()
    em.line(f"for ch in {value}.encode('ascii'):")
    em.indent()
    em.line("a = (a << 7) | ch")
    em.dedent()
    em.line(f"n += 7 * {size}")


def _sequence_of(em: Emitter, node: Any, value: str) -> None:
    if node.number_of_bits is None:
        return _unsupported(em, node, value)
    _require(em, f"type({value}) is list", node.name)
    size = em.fresh("l")
    em.assign(size, f"len({value})")
    _size_check(em, node, size)
    em.put(node.number_of_bits + _ext(node), f"({size} - {node.minimum})")
    em.flush()
    item = em.fresh("x")
    em.line(f"for {item} in {value}:")
    em.indent()
    emit_encode(em, node.element_type, item)
    em.flush()
    em.dedent()


def _choice(em: Emitter, node: Any, value: str) -> None:
    _require(em, f"type({value}) is tuple and len({value}) == 2", node.name)
    name, content = em.fresh("k"), em.fresh("c")
    em.line(f"{name}, {content} = {value}")
    extension = 1 if node.additions_index_to_member is not None else 0
    members = node.root_index_to_member
    em.flush()
    for i, member in members.items():
        em.line(f"{'if' if i == 0 else 'elif'} {name} == {member.name!r}:")
        em.indent()
        em.put((node.root_number_of_bits if len(members) > 1 else 0) + extension, str(i))
        emit_encode(em, member, content)
        em.flush()
        em.dedent()
    em.line("else:")
    em.indent()
    em.line(f"raise Fallback({node.name!r})")
    em.dedent()


def _sequence(em: Emitter, node: Any, value: str) -> None:
    _require(em, f"type({value}) is dict", node.name)
    for member in [*(node.additions or []), *(m for m in node.optionals if m.default is not None)]:
        em.line(f"if {member.name!r} in {value}:")  # an addition, or a DEFAULT to compare
        em.indent()
        em.line(f"raise Fallback({member.name!r})")
        em.dedent()
    optionals = node.optionals
    optional_ids = {id(m) for m in optionals}
    if optionals or node.additions is not None:
        bits = [
            f"({m.name!r} in {value}) << {len(optionals) - 1 - i}" for i, m in enumerate(optionals)
        ]
        em.put(len(optionals) + (node.additions is not None), "(" + " | ".join(bits or ["0"]) + ")")
    for member in node.root_members:
        field = em.fresh("f")
        if id(member) in optional_ids:
            em.flush()
            em.line(f"if {member.name!r} in {value}:")
            em.indent()
            em.assign(field, f"{value}[{member.name!r}]")
            emit_encode(em, member, field)
            em.flush()
            em.dedent()
        else:
            em.assign(field, f"{value}[{member.name!r}]")  # KeyError: a missing member
            emit_encode(em, member, field)


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
