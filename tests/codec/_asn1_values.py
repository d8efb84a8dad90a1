"""Random valid asn1tools values for any compiled type, by walking its type tree (hypothesis).

Shared by the message-set tests (``tests/codec``) and the security codec's (``tests/security``):
compile a schema with ``"uper"`` (its tree carries the sizes and ranges) and draw values; the
values are codec-independent, so they can then be encoded with any codec (UPER, COER).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

__all__ = ["DAY2_TYPES", "ValueStrategies"]

# Day-2 messageId -> ASN.1 type of the open-type value (T/CSAE 157-2020 table)
DAY2_TYPES = {
    0: "TestMsg",
    10: "RTCMcorrections",
    11: "RoadsideCoordination",
    12: "SensorSharingMsg",
    13: "VehIntentionAndRequest",
    14: "PAMData",
    15: "PersonalSafetyMessage",
    16: "CLPMM",
    17: "VehiclePaymentMessage",
}


class ValueStrategies:
    """Random valid native values for the types of one compiled spec.

    Lists get their minimum size plus up to ``extra`` elements (fewer deeper down, so a MAP
    stays small); the Day-2 open type draws a messageId and encodes a random value of its type.
    """

    def __init__(self, spec: Any, *, extra: int = 2, lowest_unbounded: int = -(2**31)) -> None:
        self.spec = spec
        self.extra = extra
        # asn1tools' UPER tree forgets the lower bound of ``(0..MAX)``: a schema full of such
        # integers (the security AIDs) asks for unbounded integers drawn from 0
        self.lowest_unbounded = lowest_unbounded
        self._memo: dict[tuple[int, int], st.SearchStrategy[Any]] = {}

    def for_type(self, type_name: str) -> st.SearchStrategy[Any]:
        return self._of(self.spec.types[type_name].type, 0)

    def _of(self, node: Any, depth: int) -> st.SearchStrategy[Any]:
        key = (id(node), min(depth, 8))
        if key not in self._memo:
            self._memo[key] = st.deferred(lambda: self._build(node, depth))
        return self._memo[key]

    def _build(self, node: Any, depth: int) -> st.SearchStrategy[Any]:
        builder: Callable[[Any, int], st.SearchStrategy[Any]] = getattr(
            self, _BUILDERS[type(node).__name__]
        )
        return builder(node, depth)

    def _size(self, node: Any, depth: int, cap: int = 8) -> tuple[int, int]:
        low = _bound(getattr(node, "minimum", None)) or 0
        extra = max(0, self.extra - depth // 3)
        top = _bound(getattr(node, "maximum", None))
        high = top if top is not None else low + cap
        return low, min(high, low + extra)

    def _integer(self, node: Any, depth: int) -> st.SearchStrategy[int]:
        low, high = _bound(node.minimum), _bound(node.maximum)
        return st.integers(
            low if low is not None else self.lowest_unbounded, high if high is not None else 2**31
        )

    def _boolean(self, node: Any, depth: int) -> st.SearchStrategy[bool]:
        return st.booleans()

    def _null(self, node: Any, depth: int) -> st.SearchStrategy[None]:
        return st.none()

    def _enumerated(self, node: Any, depth: int) -> st.SearchStrategy[str]:
        additions = getattr(node, "additions_index_to_data", None) or {}
        return st.sampled_from(sorted([*node.root_index_to_data.values(), *additions.values()]))

    def _bit_string(self, node: Any, depth: int) -> st.SearchStrategy[tuple[bytes, int]]:
        low, _ = self._size(node, 0, cap=16)

        def make(length: int, number: int) -> tuple[bytes, int]:
            size = (length + 7) // 8
            number &= (1 << length) - 1
            return (number << (size * 8 - length)).to_bytes(size, "big"), length

        return st.integers(low, max(low, _bound(node.maximum) or low + 16)).flatmap(
            lambda n: st.integers(0, (1 << n) - 1 if n else 0).map(lambda v: make(n, v))
        )

    def _octet_string(self, node: Any, depth: int) -> st.SearchStrategy[bytes]:
        low, high = self._size(node, 0, cap=8)
        top = _bound(node.maximum)
        return st.binary(min_size=low, max_size=max(low, min(high + 6, top or high + 6)))

    def _ia5_string(self, node: Any, depth: int) -> st.SearchStrategy[str]:
        low, _ = self._size(node, 0, cap=8)
        top = _bound(getattr(node, "maximum", None))  # (UPER's UTF8String keeps no size)
        top = top if top is not None else low + 8
        return st.text(
            alphabet=st.characters(min_codepoint=32, max_codepoint=126),
            min_size=low,
            max_size=min(top, low + 8),
        )

    def _recursive(self, node: Any, depth: int) -> st.SearchStrategy[Any]:
        return self._of(node._inner, depth + 1)  # a type that contains itself

    def _sequence_of(self, node: Any, depth: int) -> st.SearchStrategy[list[Any]]:
        low, high = self._size(node, depth)
        return st.lists(self._of(node.element_type, depth + 1), min_size=low, max_size=high)

    def _choice(self, node: Any, depth: int) -> st.SearchStrategy[tuple[str, Any]]:
        members = [
            *node.root_index_to_member.values(),
            *(node.additions_index_to_member or {}).values(),
        ]
        return st.one_of([self._of(m, depth + 1).map(lambda v, n=m.name: (n, v)) for m in members])

    def _sequence(self, node: Any, depth: int) -> st.SearchStrategy[dict[str, Any]]:
        members = [m for m in [*node.root_members, *(node.additions or [])] if m is not None]
        if any(type(m).__name__ == "OpenType" for m in members):
            return self._open_type(node, depth)
        parts = {}
        for m in members:
            value = self._of(m, depth + 1)
            is_optional = m.optional or m.default is not None or m in (node.additions or [])
            parts[m.name] = st.one_of(st.just(_ABSENT), value) if is_optional else value
        return st.fixed_dictionaries(parts).map(
            lambda d: {k: v for k, v in d.items() if v is not _ABSENT}
        )

    def _open_type(self, node: Any, depth: int) -> st.SearchStrategy[dict[str, Any]]:
        def build(mid: int) -> st.SearchStrategy[dict[str, Any]]:
            inner = self.for_type(DAY2_TYPES[mid])
            return inner.map(
                lambda v: {"messageId": mid, "value": self.spec.encode(DAY2_TYPES[mid], v)}
            )

        return st.sampled_from(sorted(DAY2_TYPES)).flatmap(build)


def _bound(limit: Any) -> int | None:
    """A size or range limit as a number; ``None`` for none or for ``MIN``/``MAX``."""
    return limit if isinstance(limit, int) else None


_ABSENT = object()
_BUILDERS = {
    "Integer": "_integer",
    "Boolean": "_boolean",
    "Null": "_null",
    "Enumerated": "_enumerated",
    "BitString": "_bit_string",
    "OctetString": "_octet_string",
    "IA5String": "_ia5_string",
    "UTF8String": "_ia5_string",
    "Recursive": "_recursive",
    "SequenceOf": "_sequence_of",
    "Choice": "_choice",
    "Sequence": "_sequence",
}
