"""Random valid BSM/RSM/SPAT values (hypothesis, walking asn1tools' type tree), encoded by
asn1tools, and the real captures: the fast decoder gives exactly asn1tools' value without
falling back, and ``decode`` gives the same ``Decoded`` (value, JSON, SI model) either way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from v2xcloud.codec import Decoded, MessageSet, decode, fast
from v2xcloud.codec._schema import compiled
from v2xcloud.errors import DecodeError

CASES = [(ms, alt) for ms in MessageSet for alt in fast.HOT_ALTERNATIVES]
IDS = [f"{ms.value}:{alt}" for ms, alt in CASES]


def _model_or_error(result: Decoded) -> Any:
    try:
        return result.to_model()
    except DecodeError as exc:
        return ("DecodeError", str(exc))


def _decode_both_ways(data: bytes, message_set: MessageSet) -> tuple[Any, Any]:
    fast.install(message_sets=[message_set])
    with_fast = decode(data, message_set=message_set, check_version=False)
    fast.uninstall(message_sets=[message_set])
    try:
        without = decode(data, message_set=message_set, check_version=False)
    finally:
        fast.install(message_sets=[message_set])
    return with_fast, without


def _assert_same_decoded(a: Any, b: Any, strict: Callable[[Any], Any]) -> None:
    assert type(a) is type(b)
    if isinstance(a, Decoded):
        assert strict(a.value) == strict(b.value)
        assert a.json == b.json
        assert _model_or_error(a) == _model_or_error(b)
    else:
        assert (a.reason, a.detail, a.where) == (b.reason, b.detail, b.where)


@pytest.mark.parametrize(("message_set", "alternative"), CASES, ids=IDS)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    print_blob=True,
)
@given(data=st.data())
def test_random_valid_values_decode_exactly_as_asn1tools(
    message_set: MessageSet,
    alternative: str,
    data: st.DataObject,
    project_strategies: dict[MessageSet, Any],
    generic: Callable[[MessageSet, bytes], Any],
    strict: Callable[[Any], Any],
) -> None:
    spec = compiled(message_set)
    type_name = _type_name(spec, alternative)
    value = data.draw(project_strategies[message_set].for_type(type_name), label=type_name)
    frame = bytes(spec.encode("MessageFrame", (alternative, value), check_constraints=True))
    before = fast.stats()
    got = fast.build(message_set, alternative)(frame)
    assert fast.stats() == before  # neither a fallback nor a rejection
    assert strict(got) == strict(generic(message_set, frame))
    _assert_same_decoded(*_decode_both_ways(frame, message_set), strict)


def _type_name(spec: Any, alternative: str) -> str:
    choice = spec.types["MessageFrame"].type
    names = {m.name: m.type_name for m in choice.root_index_to_member.values()}
    return names[alternative]


@pytest.mark.parametrize("message_set", list(MessageSet), ids=[ms.value for ms in MessageSet])
def test_real_captures_decode_exactly_as_asn1tools(
    message_set: MessageSet,
    capture_frames: list[bytes],
    generic: Callable[[MessageSet, bytes], Any],
    strict: Callable[[Any], Any],
) -> None:
    hot = 0
    for frame in capture_frames:
        expected = generic(message_set, frame)
        if isinstance(expected, Exception) or expected[0] not in fast.HOT_ALTERNATIVES:
            continue
        hot += 1
        assert strict(fast.build(message_set, expected[0])(frame)) == strict(expected)
        _assert_same_decoded(*_decode_both_ways(frame, message_set), strict)
    assert hot == 4  # the capture's SPAT, two BSMs and RSM
