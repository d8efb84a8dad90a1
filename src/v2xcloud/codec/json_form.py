"""Lossless CSAE JSON: the standard's field names and wire units, reversible to the same bytes.

Convention (one rule per ASN.1 kind):

- SEQUENCE → object with the members that are present (absent OPTIONAL members are omitted);
- CHOICE → one-key object ``{"alternative": value}``;
- OCTET STRING → lower-case hex string (``"0a1b"``);
- BIT STRING → string of ``0``/``1``, one character per bit, first bit first (``"0010"``);
- ENUMERATED → its name; INTEGER → number; BOOLEAN → true/false; IA5String → string;
- the Day-2 open type ``MessageFrameExt.value`` → the value of the type its ``messageId``
  selects (``{"messageId": 15, "value": {...PersonalSafetyMessage...}}``).

``to_json`` and ``from_json`` work on asn1tools' native values (tuples for CHOICE and BIT
STRING, ``bytes`` for OCTET STRING), driven by the compiled type tree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from v2xcloud.codec.message_set import DAY2_MESSAGES
from v2xcloud.errors import EncodeError

__all__ = ["JsonForm"]

ToJson = Callable[[Any], Any] | None  # None: the value is already JSON
FromJson = Callable[[Any, str], Any]


def _members(node: Any) -> list[Any]:
    return [m for m in [*node.root_members, *(node.additions or [])] if m is not None]


def _choice_members(node: Any) -> list[Any]:
    return [*node.root_index_to_member.values(), *(node.additions_index_to_member or {}).values()]


def _bits_to_text(value: tuple[bytes, int]) -> str:
    data, length = value
    return format(int.from_bytes(data, "big"), f"0{len(data) * 8}b")[:length] if length else ""


def _text_to_bits(text: Any, path: str) -> tuple[bytes, int]:
    if not isinstance(text, str) or text.strip("01"):
        raise EncodeError(
            "MessageFrame", f"bit string must be a text of 0/1, got {text!r}", where=path
        )
    length = len(text)
    padded = text + "0" * (-length % 8)
    return int(padded or "0", 2).to_bytes(len(padded) // 8, "big"), length


def _hex_to_bytes(text: Any, path: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except (TypeError, ValueError):
        raise EncodeError(
            "MessageFrame", f"octet string must be hex text, got {text!r}", where=path
        ) from None


class JsonForm:
    """Converter between asn1tools native values and lossless JSON for one compiled spec.

    ``open_types`` maps a Day-2 messageId to the compiled type node of its value.
    """

    def __init__(self, *, open_types: dict[int, Any]) -> None:
        self._open_types = open_types
        self._to: dict[int, ToJson] = {}
        self._from: dict[int, FromJson] = {}

    def to_json(self, node: Any, value: Any) -> Any:
        """Native value of type ``node`` → lossless JSON."""
        fn = self._to_fn(node)
        return value if fn is None else fn(value)

    def from_json(self, node: Any, value: Any, path: str = "$") -> Any:
        """Lossless JSON → native value of type ``node``; raises EncodeError with the path."""
        return self._from_fn(node)(value, path)

    # -- native -> JSON -------------------------------------------------------------------
    def _to_fn(self, node: Any) -> ToJson:
        key = id(node)
        if key not in self._to:
            self._to[key] = None  # provisional, guards recursion
            self._to[key] = self._build_to(node)
        return self._to[key]

    def _build_to(self, node: Any) -> ToJson:
        kind = type(node).__name__
        if kind == "OctetString":
            return bytes.hex
        if kind == "BitString":
            return _bits_to_text
        if kind == "SequenceOf":
            inner = self._to_fn(node.element_type)
            return None if inner is None else (lambda v: [inner(x) for x in v])
        if kind == "Choice":
            fns = {m.name: self._to_fn(m) for m in _choice_members(node)}
            return lambda v: {v[0]: v[1] if fns[v[0]] is None else fns[v[0]](v[1])}  # type: ignore[misc]
        if kind == "Sequence":
            return self._sequence_to(node)
        return None

    def _sequence_to(self, node: Any) -> ToJson:
        members = _members(node)
        if any(type(m).__name__ == "OpenType" for m in members):
            return self._open_to
        fns = {m.name: f for m in members if (f := self._to_fn(m)) is not None}
        if not fns:
            return None

        def convert(value: dict[str, Any]) -> dict[str, Any]:
            return {k: (fns[k](v) if k in fns else v) for k, v in value.items()}

        return convert

    def _open_to(self, value: dict[str, Any]) -> dict[str, Any]:
        out = dict(value)
        out["value"] = self.to_json(self._open_types[value["messageId"]], value["value"])
        return out

    # -- JSON -> native -------------------------------------------------------------------
    def _from_fn(self, node: Any) -> FromJson:
        key = id(node)
        if key not in self._from:
            self._from[key] = lambda v, p: self._from[key](v, p)  # recursion trampoline
            self._from[key] = self._build_from(node)
        return self._from[key]

    def _build_from(self, node: Any) -> FromJson:
        kind = type(node).__name__
        if kind == "OctetString":
            return _hex_to_bytes
        if kind == "BitString":
            return _text_to_bits
        if kind == "SequenceOf":
            return self._list_from(node)
        if kind == "Choice":
            return self._choice_from(node)
        if kind == "Sequence":
            return self._sequence_from(node)
        return lambda v, p: v

    def _list_from(self, node: Any) -> FromJson:
        inner = self._from_fn(node.element_type)

        def convert(value: Any, path: str) -> list[Any]:
            if not isinstance(value, list):
                raise EncodeError("MessageFrame", f"expected a list, got {value!r}", where=path)
            return [inner(x, f"{path}[{i}]") for i, x in enumerate(value)]

        return convert

    def _choice_from(self, node: Any) -> FromJson:
        fns = {m.name: self._from_fn(m) for m in _choice_members(node)}

        def convert(value: Any, path: str) -> tuple[str, Any]:
            if not isinstance(value, dict) or len(value) != 1:
                raise EncodeError("MessageFrame", "a CHOICE is a one-key object", where=path)
            ((name, inner),) = value.items()
            if name not in fns:
                raise EncodeError(
                    "MessageFrame",
                    f"no alternative {name!r}; expected one of {sorted(fns)}",
                    where=path,
                )
            return name, fns[name](inner, f"{path}.{name}")

        return convert

    def _sequence_from(self, node: Any) -> FromJson:
        members = _members(node)
        is_open = any(type(m).__name__ == "OpenType" for m in members)
        fns = {m.name: self._from_fn(m) for m in members if type(m).__name__ != "OpenType"}

        def convert(value: Any, path: str) -> dict[str, Any]:
            if not isinstance(value, dict):
                raise EncodeError("MessageFrame", f"expected an object, got {value!r}", where=path)
            out: dict[str, Any] = {}
            for name, inner in value.items():
                if is_open and name == "value":
                    out[name] = self._open_from(value, path)
                    continue
                if name not in fns:
                    raise EncodeError("MessageFrame", f"unknown field {name!r}", where=path)
                out[name] = fns[name](inner, f"{path}.{name}")
            return out

        return convert

    def _open_from(self, value: dict[str, Any], path: str) -> Any:
        mid = value.get("messageId")
        if mid not in self._open_types:
            known = sorted(DAY2_MESSAGES)
            raise EncodeError(
                "MessageFrame",
                f"unknown Day-2 messageId {mid!r}; known {known}",
                where=f"{path}.messageId",
            )
        return self.from_json(self._open_types[mid], value["value"], f"{path}.value")
