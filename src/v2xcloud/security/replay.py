"""Replay detection: the same signed content accepted twice within the freshness window.

A signed frame is identified by its signature (``r || s``): a signature is bound to the exact
signed bytes and (ECDSA and SM2 sign with a fresh random ``k``) different for every signing,
so the same value again is the same signed frame again — resent by an attacker or looped by a
network. Frames older than the freshness window are refused as ``STALE`` before they get
here, so the table only needs to remember the window: entries expire by their generation
time.

The table is bounded: past ``capacity`` the oldest entries are forgotten, and the
``floor_ms`` rises to the newest generation time forgotten so far. A frame generated at or
before the floor cannot be told from a replay any more and is refused (``is_fresh`` says
so), which keeps the guarantee "no replay is ever accepted" at the price of refusing some
late originals under a flood — counted in ``refused_below_floor``.

>>> w = ReplayWindow(window_ms=1000, capacity=2)
>>> w.seen(b"sig-1", 100, now_ms=100), w.seen(b"sig-1", 100, now_ms=150)
(False, True)
"""

from __future__ import annotations

from collections import deque

__all__ = ["ReplayWindow"]


class ReplayWindow:
    """Signatures accepted within ``window_ms`` (see the module docstring)."""

    def __init__(self, *, window_ms: int, capacity: int = 1_000_000) -> None:
        if window_ms <= 0 or capacity < 1:
            raise ValueError("window_ms must be positive and capacity at least 1")
        self.window_ms = window_ms
        self.capacity = capacity
        self.floor_ms: int | None = None
        self.forgotten = 0
        self.refused_below_floor = 0
        self._seen: dict[bytes, int] = {}
        self._order: deque[tuple[bytes, int]] = deque()
        self._expired_before = -(2**63)  # entries generated before this were forgotten

    def __len__(self) -> int:
        return len(self._seen)

    def is_known(self, key: bytes, generated_ms: int) -> bool:
        """Whether ``key`` (a signature) was accepted before, or cannot be told apart from one
        because the table forgot the time it was generated at (at or below the floor)."""
        if key in self._seen:
            return True
        if self.floor_ms is not None and generated_ms <= self.floor_ms:
            self.refused_below_floor += 1
            return True
        return generated_ms < self._expired_before

    def accept(self, key: bytes, generated_ms: int, *, now_ms: int) -> None:
        """Remember an accepted frame's signature; expire what left the window."""
        self._expire(now_ms)
        if key in self._seen:
            return
        self._seen[key] = generated_ms
        self._order.append((key, generated_ms))
        while len(self._seen) > self.capacity:
            gone, when = self._order.popleft()
            if self._seen.pop(gone, None) is not None:
                self.forgotten += 1
                self.floor_ms = when if self.floor_ms is None else max(self.floor_ms, when)

    def seen(self, key: bytes, generated_ms: int, *, now_ms: int) -> bool:
        """``is_known`` then, if not, ``accept``: True for a replay."""
        if self.is_known(key, generated_ms):
            return True
        self.accept(key, generated_ms, now_ms=now_ms)
        return False

    def _expire(self, now_ms: int) -> None:
        """Forget entries generated before the window (a frame that old is STALE anyway).
        Entries arrive roughly in generation order; one generated out of order waits behind
        newer ones, which only keeps it longer. Anything generated before the newest horizon
        counts as known from then on, so arrival times out of order cannot reopen it."""
        horizon = now_ms - self.window_ms
        if horizon <= self._expired_before:
            return
        self._expired_before = horizon
        order, seen = self._order, self._seen
        while order and order[0][1] < horizon:
            key, _ = order.popleft()
            seen.pop(key, None)
