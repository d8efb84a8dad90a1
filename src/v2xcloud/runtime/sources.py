"""Scripted inputs for tests and replays: a list of timed messages or frames."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import msgspec

from v2xcloud.twin import SceneMessage

__all__ = ["ListSource", "TimedFrame", "TimedMessage"]


class TimedMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A decoded message that arrives at ``received_at_ms`` from ``source``."""

    received_at_ms: int
    source: str
    message: SceneMessage


class TimedFrame(msgspec.Struct, frozen=True, kw_only=True):
    """Raw bytes that arrive at ``received_at_ms`` from ``source`` (decoded by the runtime)."""

    received_at_ms: int
    source: str
    raw: bytes


class ListSource:
    """A fixed, time-ordered list of arrivals; ``until(t)`` hands out those due by ``t``."""

    def __init__(self, items: Iterable[TimedMessage | TimedFrame]) -> None:
        self._items = sorted(items, key=lambda item: item.received_at_ms)
        self._next = 0

    def __iter__(self) -> Iterator[TimedMessage | TimedFrame]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def until(self, now_ms: int) -> list[TimedMessage | TimedFrame]:
        """Arrivals with ``received_at_ms`` ≤ ``now_ms`` not handed out before."""
        start = self._next
        while self._next < len(self._items) and self._items[self._next].received_at_ms <= now_ms:
            self._next += 1
        return self._items[start : self._next]

    @property
    def exhausted(self) -> bool:
        """True once every arrival has been handed out."""
        return self._next >= len(self._items)
