"""Dead letters: frames and messages that could not be used, counted per reason and kept."""

from __future__ import annotations

from collections import Counter, deque

import msgspec

__all__ = ["DeadLetter", "DeadLetters"]


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """One rejected input: raw bytes (empty for a decoded message), who sent it, when, why."""

    raw: bytes
    source: str
    received_at_ms: int
    reason: str
    detail: str
    where: str | None = None


class DeadLetters:
    """A bounded store (the newest ``capacity`` letters) with a counter per reason that never
    forgets."""

    def __init__(self, *, capacity: int = 1000) -> None:
        self.capacity = capacity
        self.counts: Counter[str] = Counter()
        self._letters: deque[DeadLetter] = deque(maxlen=capacity)

    def add(self, letter: DeadLetter) -> None:
        """Count and keep one letter (the oldest kept one is dropped when full)."""
        self.counts[letter.reason] += 1
        self._letters.append(letter)

    def __len__(self) -> int:
        return len(self._letters)

    @property
    def total(self) -> int:
        """All letters ever added."""
        return sum(self.counts.values())

    def recent(self, limit: int | None = None) -> list[DeadLetter]:
        """Kept letters, newest last; at most ``limit``."""
        letters = list(self._letters)
        return letters if limit is None else letters[-limit:]
