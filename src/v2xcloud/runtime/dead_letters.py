"""Dead letters: inputs that could not be used, counted per ``DropReason`` and kept, bounded.

The letter itself is the one ``model.DeadLetter`` (raw bytes as received, source, time,
reason, where, detail). ``DeadLetters`` keeps the newest ``capacity`` of them for the API, a
counter per reason that never forgets, and an outbox of the letters not yet handed to the
history (``take_new``), bounded too: when nobody drains it, the oldest unsent letters are
dropped and counted in ``unsent_dropped``.
"""

from __future__ import annotations

from collections import Counter, deque

from v2xcloud.model import DeadLetter

__all__ = ["DeadLetter", "DeadLetters"]


class DeadLetters:
    """A bounded store (the newest ``capacity`` letters) with a counter per reason that never
    forgets, plus a bounded outbox (``outbox_capacity``) of letters for the history sink."""

    def __init__(self, *, capacity: int = 1000, outbox_capacity: int = 10_000) -> None:
        self.capacity = capacity
        self.counts: Counter[str] = Counter()
        self.unsent_dropped = 0
        self._letters: deque[DeadLetter] = deque(maxlen=capacity)
        self._outbox: deque[DeadLetter] = deque(maxlen=outbox_capacity)

    def add(self, letter: DeadLetter) -> None:
        """Count (under ``letter.reason.value``) and keep one letter; the oldest kept one is
        dropped when full."""
        self.counts[letter.reason.value] += 1
        self._letters.append(letter)
        outbox = self._outbox
        if len(outbox) == outbox.maxlen:
            self.unsent_dropped += 1
        outbox.append(letter)

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

    def take_new(self) -> list[DeadLetter]:
        """The letters added since the last call, oldest first (the outbox is emptied)."""
        out = list(self._outbox)
        self._outbox.clear()
        return out
