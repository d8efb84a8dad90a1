"""Fixtures of the fast-decoder tests: value strategies over the project's own schemas, the
real capture frames, and a strict comparison (types too: ``True == 1``, ``b"" == bytearray()``
would pass a plain ``==``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from v2xcloud.codec import MessageSet, iter_capture_lines
from v2xcloud.codec._schema import compiled
from v2xcloud.codec._uper import Reject, decode_type


@pytest.fixture(scope="session")
def project_strategies(value_strategies: dict[str, Any]) -> dict[MessageSet, Any]:
    """The codec suite's tree-walking strategy (``tests/codec/conftest.py``), over our sets."""
    strategy_class = type(next(iter(value_strategies.values())))
    return {ms: strategy_class(compiled(ms), extra=3) for ms in MessageSet}


@pytest.fixture(scope="session")
def capture_frames(reference_dir: Path) -> list[bytes]:
    """Every MessageFrame of the real 2017 captures."""
    text = (reference_dir / "captures/csae53-2017-hisense-captures.txt").read_text(encoding="utf-8")
    return [f.frame for _, record in iter_capture_lines(text) for f in record]


def _generic(message_set: MessageSet, data: bytes) -> Any:
    try:
        return decode_type(message_set, "MessageFrame", data, "$")
    except Reject as exc:
        return exc


def _strict(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}, list(value)
    if isinstance(value, list | tuple):
        return type(value).__name__, [_strict(v) for v in value]
    return type(value).__name__, value


@pytest.fixture(scope="session")
def generic() -> Callable[[MessageSet, bytes], Any]:
    """``generic(set, frame)``: the asn1tools path's value (with its length, padding and
    constraint checks) or the ``Reject`` it raises."""
    return _generic


@pytest.fixture(scope="session")
def strict() -> Callable[[Any], Any]:
    """``strict(value)``: ``value`` with every leaf tagged by its type and every dict by its
    key order, so ``strict(a) == strict(b)`` is an exact comparison."""
    return _strict
