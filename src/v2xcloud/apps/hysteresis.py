"""Stable warnings: fire on the first hit, hold after the last one, never flicker.

Per (ego, other) pair an application's raw hits become advisories like this:

- a new hazard is issued on the tick it is first detected (no added delay), or, with
  ``confirm_ticks`` > 1, on the tick it has been detected ``confirm_ticks`` ticks in a row:
  a hazard that only one tick's prediction supports is no warning yet (the M-of-N
  confirmation of a tracker, here M = N; see ``AppConfig.confirm_ticks``);
- a higher level is issued at once (upgrade); a lower level only after it has held for
  ``hold_ticks`` ticks (downgrade), so a level that wobbles around a threshold does not flicker;
- an unchanged hazard is not re-issued, except to refresh it when its advisory would expire
  within a tick (``validity_ms`` after issue), so receivers keep showing it while it lasts;
- after the last hit the hazard is held for ``hold_ticks`` ticks: a single missed detection
  neither ends the warning nor re-issues it when it comes back.

Pairs are int64 keys (the scene's stable participant uids, ``ego << 32 | other``) and the
state is kept in sorted numpy arrays, so thousands of hits per tick cost a few array
operations.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["Decisions", "Hysteresis", "pair_keys"]

IntArray = npt.NDArray[np.int64]


def pair_keys(ego_uid: IntArray, other_uid: IntArray) -> IntArray:
    """One int64 key per (ego, other) pair of participant uids (each < 2**31)."""
    return (ego_uid.astype(np.int64, copy=False) << 32) | other_uid.astype(np.int64, copy=False)


class Decisions:
    """What to issue this tick: ``index`` into the tick's hits, ``level``, ``expires_ms``."""

    def __init__(self, index: IntArray, level: IntArray, expires_ms: IntArray) -> None:
        self.index = index
        self.level = level
        self.expires_ms = expires_ms

    def __len__(self) -> int:
        return int(self.index.size)


class Hysteresis:
    """Per-pair memory of one application's warnings (see the module docstring).

    ``tick_ms`` is the tick period; the hold, the refresh and the confirmation are counted in
    ticks of it.
    """

    def __init__(
        self,
        *,
        hold_ticks: int = 3,
        validity_ms: int = 500,
        tick_ms: int = 100,
        confirm_ticks: int = 1,
    ) -> None:
        if confirm_ticks < 1:
            raise ValueError(f"confirm_ticks must be at least 1, got {confirm_ticks}")
        self.hold_ms = hold_ticks * tick_ms
        self.validity_ms = validity_ms
        self.tick_ms = tick_ms
        self.confirm_ticks = confirm_ticks
        empty = np.empty(0, dtype=np.int64)
        self._key, self._level, self._last, self._expires, self._lower = (empty,) * 5
        # new hazards not confirmed yet (key, consecutive ticks seen), all seen last on the
        # tick of ``_pending_ms``: the table is replaced every tick
        self._pending_key, self._pending_n = empty, empty
        self._pending_ms = 0

    def __len__(self) -> int:
        return int(self._key.size)

    def active(self) -> dict[int, int]:
        """Pair keys currently warned, with their issued level."""
        return dict(zip(self._key.tolist(), self._level.tolist(), strict=True))

    def update(self, keys: IntArray, levels: IntArray, now_ms: int) -> Decisions:
        """Feed this tick's hits (unique keys, levels > 0); returns what to issue now."""
        if self.confirm_ticks > 1:
            ok = self._confirmed(keys, now_ms)
            if not ok.all():
                rows = ok.nonzero()[0]
                d = self._update(keys[rows], levels[rows], now_ms)
                return Decisions(rows[d.index], d.level, d.expires_ms)
        return self._update(keys, levels, now_ms)

    def _confirmed(self, keys: IntArray, now_ms: int) -> npt.NDArray[np.bool_]:
        """Which of this tick's (sorted or not) keys may be issued: those already held, and
        new ones seen ``confirm_ticks`` ticks in a row (this one included). Remembers the
        others; a pair missing from a tick starts again."""
        held = np.isin(keys, self._key, assume_unique=True)
        new = (~held).nonzero()[0]
        n = np.ones(new.size, dtype=np.int64)
        # the previous tick (half a tick of slack for a late one)
        recent = now_ms - self._pending_ms <= self.tick_ms + self.tick_ms // 2
        if new.size and self._pending_key.size and recent:
            pos = np.minimum(self._pending_key.searchsorted(keys[new]), self._pending_key.size - 1)
            seen = self._pending_key[pos] == keys[new]
            n = np.where(seen, self._pending_n[pos] + 1, 1)
        done = n >= self.confirm_ticks
        wait = ~done
        order = keys[new[wait]].argsort(kind="stable")
        self._pending_key = keys[new[wait]][order]
        self._pending_n = n[wait][order]
        self._pending_ms = now_ms
        ok = held
        ok[new[done]] = True
        return ok

    def _update(self, keys: IntArray, levels: IntArray, now_ms: int) -> Decisions:
        if keys.size == 0:
            self._forget(now_ms)
            return Decisions(keys, keys, keys)
        held_n = self._key.size
        if held_n:
            pos = self._key.searchsorted(keys)
            np.minimum(pos, held_n - 1, out=pos)
            found = self._key[pos] == keys
            tracked = found.nonzero()[0]
        else:
            tracked = np.empty(0, dtype=np.int64)
        if tracked.size == 0:  # only new hazards: all issued at once
            self._add(keys, levels, now_ms)
            if held_n:
                self._forget(now_ms)
            return self._issue(np.arange(keys.size), levels, now_ms)
        old = pos[tracked]
        lvl, held, lower_old = levels[tracked], self._level[old], self._lower[old]
        expires_old = self._expires[old]
        below = lvl < held
        lower = np.where(below, np.where(lower_old < 0, now_ms, lower_old), -1)
        change = (lvl > held) | (below & (now_ms - lower >= self.hold_ms))
        # a change is issued; an unchanged hazard is refreshed when its advisory is about to expire
        issue_old = change | (expires_old - now_ms <= self.tick_ms)
        level_old = np.where(change, lvl, held)
        self._last[old] = now_ms
        self._lower[old] = np.where(change, -1, lower)
        self._level[old] = level_old
        self._expires[old] = np.where(issue_old, now_ms + self.validity_ms, expires_old)
        if tracked.size == keys.size:  # nothing new (``tracked`` is 0..n-1)
            self._forget(now_ms)
            idx = issue_old.nonzero()[0]
            return self._issue(idx, level_old[idx], now_ms)
        new = (~found).nonzero()[0]
        self._add(keys[new], levels[new], now_ms)
        self._forget(now_ms)
        issue = ~found
        issue[tracked] = issue_old
        out_level = levels.copy()
        out_level[tracked] = level_old
        idx = issue.nonzero()[0]
        return self._issue(idx, out_level[idx], now_ms)

    def _issue(self, index: IntArray, levels: IntArray, now_ms: int) -> Decisions:
        expires = np.full(index.size, now_ms + self.validity_ms, dtype=np.int64)
        return Decisions(index, levels, expires)

    def _add(self, keys: IntArray, levels: IntArray, now_ms: int) -> None:
        if keys.size == 0:
            return
        n = keys.size
        key = np.concatenate([self._key, keys])
        order = key.argsort(kind="stable")
        self._key = key[order]
        self._level = np.concatenate([self._level, levels])[order]
        self._last = np.concatenate([self._last, np.full(n, now_ms, dtype=np.int64)])[order]
        expires = np.full(n, now_ms + self.validity_ms, dtype=np.int64)
        self._expires = np.concatenate([self._expires, expires])[order]
        self._lower = np.concatenate([self._lower, np.full(n, -1, dtype=np.int64)])[order]

    def _forget(self, now_ms: int) -> None:
        keep = now_ms - self._last <= self.hold_ms
        if not keep.all():
            self._key, self._level, self._last, self._expires, self._lower = (
                a[keep] for a in (self._key, self._level, self._last, self._expires, self._lower)
            )
