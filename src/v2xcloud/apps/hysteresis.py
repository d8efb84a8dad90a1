"""Stable warnings: fire on the first hit, hold after the last one, never flicker.

Per (ego, other) pair an application's raw hits become advisories like this:

- a new hazard is issued on the tick it is first detected (no added delay);
- a higher level is issued at once (upgrade); a lower level only after it has held for
  ``hold_ticks`` ticks (downgrade), so a level that wobbles around a threshold does not flicker;
- an unchanged hazard is not re-issued, except to refresh it shortly before its advisory
  expires (``validity_ms`` after issue), so receivers keep showing it while it lasts;
- after the last hit the hazard is held for ``hold_ticks`` ticks: a single missed detection
  neither ends the warning nor re-issues it when it comes back.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Decision", "Hysteresis"]


@dataclass(slots=True)
class _Track:
    level: int  # level last issued
    issued_ms: int
    expires_ms: int
    last_hit_ms: int
    lower_since_ms: int = -1  # since when hits have been below ``level``


@dataclass(frozen=True, slots=True)
class Decision:
    """An advisory to issue now: for ``key`` at ``level``, valid until ``expires_ms``."""

    key: tuple[str, str]
    level: int
    expires_ms: int
    index: int  # position of the hit in the tick's hit list


class Hysteresis:
    """Per-pair memory of one application's warnings (see the module docstring).

    ``tick_ms`` is the tick period; the hold and the refresh are counted in ticks of it.
    """

    def __init__(self, *, hold_ticks: int = 3, validity_ms: int = 500, tick_ms: int = 100) -> None:
        self.hold_ms = hold_ticks * tick_ms
        self.validity_ms = validity_ms
        self.tick_ms = tick_ms
        self._tracks: dict[tuple[str, str], _Track] = {}

    def __len__(self) -> int:
        return len(self._tracks)

    def active(self) -> dict[tuple[str, str], int]:
        """Pairs currently warned, with their issued level."""
        return {key: track.level for key, track in self._tracks.items()}

    def update(self, keys: list[tuple[str, str]], levels: list[int], now_ms: int) -> list[Decision]:
        """Feed this tick's hits (one level per key, keys unique); returns what to issue."""
        out: list[Decision] = []
        for index, (key, level) in enumerate(zip(keys, levels, strict=True)):
            track = self._tracks.get(key)
            if track is None:
                self._tracks[key] = self._issue(key, level, now_ms, index, out)
                continue
            track.last_hit_ms = now_ms
            if level > track.level:
                self._tracks[key] = self._issue(key, level, now_ms, index, out)
            elif level < track.level:
                if track.lower_since_ms < 0:
                    track.lower_since_ms = now_ms
                if now_ms - track.lower_since_ms >= self.hold_ms:
                    self._tracks[key] = self._issue(key, level, now_ms, index, out)
                elif track.expires_ms - now_ms <= self.tick_ms:
                    self._refresh(track, key, now_ms, index, out)
            else:
                track.lower_since_ms = -1
                if track.expires_ms - now_ms <= self.tick_ms:
                    self._refresh(track, key, now_ms, index, out)
        self._forget(now_ms)
        return out

    def _issue(
        self, key: tuple[str, str], level: int, now_ms: int, index: int, out: list[Decision]
    ) -> _Track:
        expires = now_ms + self.validity_ms
        out.append(Decision(key=key, level=level, expires_ms=expires, index=index))
        return _Track(level=level, issued_ms=now_ms, expires_ms=expires, last_hit_ms=now_ms)

    def _refresh(
        self, track: _Track, key: tuple[str, str], now_ms: int, index: int, out: list[Decision]
    ) -> None:
        track.expires_ms = now_ms + self.validity_ms
        track.issued_ms = now_ms
        out.append(Decision(key=key, level=track.level, expires_ms=track.expires_ms, index=index))

    def _forget(self, now_ms: int) -> None:
        stale = [k for k, t in self._tracks.items() if now_ms - t.last_hit_ms > self.hold_ms]
        for key in stale:
            del self._tracks[key]
