"""The fast encoders against asn1tools (``check_constraints=True``): byte-identical for random
valid values and the real captures; for mutated values (out of range, wrong Python type,
missing or extra member, bad bit-string size) either the same bytes or no bytes at all, and
``encode_native`` gives the same bytes or the same ``EncodeError`` with and without them."""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from v2xcloud.codec import MessageSet, encode_native, fast
from v2xcloud.codec._schema import compiled
from v2xcloud.errors import EncodeError

CASES = [(ms, alt) for ms in MessageSet for alt in fast.HOT_ALTERNATIVES]
IDS = [f"{ms.value}:{alt}" for ms, alt in CASES]
REPLACEMENTS: list[Any] = [
    -1,
    2**40,
    -(2**40),
    0,
    1.5,
    None,
    True,
    "x",
    b"\x00",
    bytearray(b"\x01"),
    [],
    {},
    ("a", 1),
]


def _type_name(message_set: MessageSet, alternative: str) -> str:
    choice = compiled(message_set).types["MessageFrame"].type
    return {m.name: m.type_name for m in choice.root_index_to_member.values()}[alternative]


def _asn1tools(message_set: MessageSet, alternative: str, content: Any) -> bytes | Exception:
    try:
        return bytes(
            compiled(message_set).encode(
                "MessageFrame", (alternative, content), check_constraints=True
            )
        )
    except Exception as exc:
        return exc


def _fast(message_set: MessageSet, alternative: str, content: Any) -> bytes | None:
    try:
        return fast.build_encoder(message_set, alternative)(content)
    except Exception:
        return None


@pytest.mark.parametrize(("message_set", "alternative"), CASES, ids=IDS)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
@given(data=st.data())
def test_random_valid_values_encode_byte_identical(
    message_set: MessageSet,
    alternative: str,
    data: st.DataObject,
    project_strategies: dict[MessageSet, Any],
) -> None:
    type_name = _type_name(message_set, alternative)
    content = data.draw(project_strategies[message_set].for_type(type_name), label=type_name)
    expected = _asn1tools(message_set, alternative, content)
    assert fast.build_encoder(message_set, alternative)(content) == expected


def _hot(message_set: MessageSet, frames: list[bytes]) -> list[tuple[str, Any]]:
    spec = compiled(message_set)
    return [spec.decode("MessageFrame", f) for f in frames if f[0] >> 4 in (0, 2, 3)]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*path, i))
    elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        found += _paths(value[1], (*path, 1))
    return found


def _mutate(rng: random.Random, content: Any) -> Any:
    """One random change somewhere in a deep copy of ``content``."""
    value = copy.deepcopy(content)
    path = rng.choice(_paths(value)[1:])
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    if isinstance(parent, tuple):  # a CHOICE: rebuild it with another name or content
        return _replace(
            value,
            path[:-1],
            (parent[0] + "X", parent[1])
            if rng.random() < 0.3
            else (parent[0], rng.choice(REPLACEMENTS)),
        )
    old = parent[key]
    roll = rng.random()
    if isinstance(parent, dict) and roll < 0.15:
        del parent[key]
    elif isinstance(parent, dict) and roll < 0.25:
        parent[key + "Extra"] = 1
    elif isinstance(old, int) and not isinstance(old, bool) and roll < 0.7:
        parent[key] = old + rng.choice([-(2**16), -70000, -1, 1, 70000, 2**16, 2**31])
    elif (
        isinstance(old, tuple) and isinstance(old[0], bytes) and roll < 0.7
    ):  # BIT STRING: length, bytes, padding bits
        data, count = old
        parent[key] = rng.choice(
            [(data, count + 1), (data + b"\x00", count), (data[:-1] + b"\xff", count)]
        )
    else:
        parent[key] = rng.choice(REPLACEMENTS)
    return value


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, tuple):
        return _replace(value, path[:-1], (parent[0], new))
    parent[path[-1]] = new
    return value


def _encode_native_outcome(message_set: MessageSet, value: Any) -> bytes | str:
    try:
        return encode_native(value, message_set=message_set)
    except EncodeError as exc:
        return f"EncodeError: {exc}"


@pytest.mark.parametrize("message_set", list(MessageSet), ids=[ms.value for ms in MessageSet])
def test_mutated_values_give_the_same_bytes_or_none(
    message_set: MessageSet, capture_frames: list[bytes]
) -> None:
    seeds = _hot(message_set, capture_frames)
    rng = random.Random(f"20261121-encode-{message_set.value}")
    outcomes = {"same bytes": 0, "both refuse": 0, "fast refuses, asn1tools encodes": 0}
    for n in range(1500):
        alternative, content = rng.choice(seeds)
        mutated = _mutate(rng, content)
        expected, got = (
            _asn1tools(message_set, alternative, mutated),
            _fast(message_set, alternative, mutated),
        )
        if got is not None:
            assert got == expected, (alternative, mutated)
            outcomes["same bytes"] += 1
        else:
            outcomes[
                "both refuse"
                if isinstance(expected, Exception)
                else "fast refuses, asn1tools encodes"
            ] += 1
        if n % 10 == 0:
            frame = (alternative, mutated)
            fast.install(message_sets=[message_set], decoders=False)
            with_fast = _encode_native_outcome(message_set, frame)
            fast.uninstall(message_sets=[message_set], decoders=False)
            assert with_fast == _encode_native_outcome(message_set, frame)
            fast.install(message_sets=[message_set], decoders=False)
    print(message_set.value, outcomes)
    assert outcomes["same bytes"] > 0 and outcomes["both refuse"] > 0


@pytest.mark.parametrize("message_set", list(MessageSet), ids=[ms.value for ms in MessageSet])
def test_captures_re_encode_identically(
    message_set: MessageSet, capture_frames: list[bytes]
) -> None:
    hot = [f for f in capture_frames if f[0] >> 4 in (0, 2, 3)]
    for frame, (alternative, content) in zip(hot, _hot(message_set, hot), strict=True):
        assert fast.build_encoder(message_set, alternative)(content) == frame
    assert len(hot) == 4


def test_encode_native_uses_the_fast_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    fast.install()
    calls: list[Any] = []
    real: Callable[[Any], bytes] = fast.build_encoder(MessageSet.CSAE2017, "rsmFrame")
    spy = lambda content: calls.append(content) or real(content)  # noqa: E731
    from v2xcloud.codec.frame import register_fast_encoder

    register_fast_encoder(MessageSet.CSAE2017, "rsmFrame", spy)
    content = {"msgCnt": 1, "id": b"\x01" * 8, "refPos": {"lat": 1, "long": 2}, "participants": []}
    with contextlib.suppress(EncodeError):
        encode_native(("rsmFrame", content), message_set=MessageSet.CSAE2017)
    assert calls == [content]
    fast.install()
