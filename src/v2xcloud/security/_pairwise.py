"""The checks that compare a report with other senders' or with roadside perception:
intersection (two bodies in one place), Sybil (ids moving as one), data replay (content seen
before) and perception contradiction. Each table here is bounded and expires.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from v2xcloud.security._tracks import Sample

__all__ = ["Fingerprints", "Neighbours", "Perception", "SybilPairs"]

CELL_M = 10.0  # spatial hash cell: the 3x3 cells around a report cover >= 10 m around it


def _extrapolate(s: Sample, t_ms: int) -> tuple[float, float]:
    """Where ``s`` is at ``t_ms`` when it keeps its speed and heading."""
    if s.speed_mps is None or s.heading_deg is None:
        return s.x_m, s.y_m
    dt = (t_ms - s.t_ms) * 0.001
    rad = math.radians(s.heading_deg)
    return s.x_m + s.speed_mps * dt * math.sin(rad), s.y_m + s.speed_mps * dt * math.cos(rad)


class Neighbours:
    """The latest sample of every sender in a spatial hash, for nearby-sender look-ups."""

    def __init__(self) -> None:
        self._cells: dict[tuple[int, int], dict[str, Sample]] = {}
        self._cell_of: dict[str, tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self._cell_of)

    def put(self, sender: str, s: Sample) -> None:
        """Make ``s`` the sender's latest sample."""
        cell = (math.floor(s.x_m / CELL_M), math.floor(s.y_m / CELL_M))
        old = self._cell_of.get(sender)
        if old is not None and old != cell:
            self._drop_from(old, sender)
        self._cells.setdefault(cell, {})[sender] = s
        self._cell_of[sender] = cell

    def remove(self, sender: str) -> None:
        """Forget a sender (expired)."""
        old = self._cell_of.pop(sender, None)
        if old is not None:
            self._drop_from(old, sender)

    def _drop_from(self, cell: tuple[int, int], sender: str) -> None:
        members = self._cells.get(cell)
        if members is not None:
            members.pop(sender, None)
            if not members:
                del self._cells[cell]

    def near(self, s: Sample, *, max_age_ms: int) -> list[tuple[str, Sample, float]]:
        """(sender, latest sample, distance at ``s.t_ms``) of senders reported within
        ``max_age_ms`` of ``s`` in the 3x3 cells around it."""
        cx, cy = math.floor(s.x_m / CELL_M), math.floor(s.y_m / CELL_M)
        out = []
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for sender, o in self._cells.get((cx + dx, cy + dy), {}).items():
                    if abs(o.t_ms - s.t_ms) <= max_age_ms:
                        ox, oy = _extrapolate(o, s.t_ms)
                        out.append((sender, o, math.hypot(ox - s.x_m, oy - s.y_m)))
        return out


@dataclass(slots=True)
class _Pair:
    dx_m: float
    dy_m: float
    last_t_ms: int
    count: int


class SybilPairs:
    """Pairs of senders reporting the same speed and heading at the same instant with the
    same relative offset, report after report: one body sending under several ids."""

    def __init__(self, *, capacity: int) -> None:
        self._pairs: OrderedDict[tuple[str, str], _Pair] = OrderedDict()
        self._capacity = capacity
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._pairs)

    def observe(self, a: str, sa: Sample, b: str, sb: Sample, *, offset_tol_m: float) -> int:
        """Count one more lock-step report of ``a`` and ``b``; returns the run length."""
        key = (a, b) if a < b else (b, a)
        dx, dy = sb.x_m - sa.x_m, sb.y_m - sa.y_m
        if key[0] != a:
            dx, dy = -dx, -dy
        pair = self._pairs.get(key)
        if pair is None or math.hypot(dx - pair.dx_m, dy - pair.dy_m) > offset_tol_m:
            pair = _Pair(dx, dy, sa.t_ms, 0)
            self._pairs[key] = pair
            if len(self._pairs) > self._capacity:
                self._pairs.popitem(last=False)
                self.evicted += 1
        if sa.t_ms != pair.last_t_ms or pair.count == 0:
            pair.count += 1
            pair.last_t_ms = sa.t_ms
        self._pairs.move_to_end(key)
        return pair.count

    def expire(self, before_ms: int) -> None:
        """Drop pairs not seen in lock-step since ``before_ms``."""
        while self._pairs:
            key, pair = next(iter(self._pairs.items()))
            if pair.last_t_ms >= before_ms:
                break
            del self._pairs[key]


class Fingerprints:
    """Recently reported moving content (position, speed, heading as sent) → first sender and
    generation time, so content sent again — by another id, or by the same id at another time
    — is recognised."""

    def __init__(self, *, capacity: int) -> None:
        self._seen: OrderedDict[tuple[int, int, int, int], tuple[str, int]] = OrderedDict()
        self._capacity = capacity
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._seen)

    def first_sender(
        self, key: tuple[int, int, int, int], sender: str, t_ms: int
    ) -> tuple[str, int] | None:
        """Who sent this content first and when, if it was not ``sender`` at ``t_ms``;
        remembers the content otherwise."""
        seen = self._seen.get(key)
        if seen is None:
            self._seen[key] = (sender, t_ms)
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
                self.evicted += 1
            return None
        if seen == (sender, t_ms):
            return None  # the same report delivered twice (a QoS 1 redelivery)
        return seen

    def expire(self, before_ms: int) -> None:
        """Forget content first sent before ``before_ms``."""
        while self._seen:
            key, (_, t) = next(iter(self._seen.items()))
            if t >= before_ms:
                break
            del self._seen[key]


class Perception:
    """The latest perception snapshot of every roadside sensor (one RSM each)."""

    def __init__(self) -> None:
        self.latest: dict[str, tuple[int, list[Sample]]] = {}

    def put(self, rsu_id: str, t_ms: int, objects: list[Sample]) -> None:
        """Replace a sensor's snapshot (objects as samples at their own times); RSMs of the
        same instant (a sensor splits what it sees over several) add up."""
        held = self.latest.get(rsu_id)
        if held is not None and held[0] == t_ms:
            held[1].extend(objects)
        else:
            self.latest[rsu_id] = (t_ms, objects)

    def nearest(self, rsu_id: str, s: Sample, *, max_age_ms: int) -> tuple[float, Sample] | None:
        """The sensor's object nearest to ``s`` (distance at ``s.t_ms``), or ``None`` if the
        sensor's snapshot is older than ``max_age_ms`` (then it says nothing).
        ``(inf, s)`` when the fresh snapshot holds no object at all."""
        snap = self.latest.get(rsu_id)
        if snap is None or abs(snap[0] - s.t_ms) > max_age_ms:
            return None
        best: tuple[float, Sample] = (math.inf, s)
        for o in snap[1]:
            ox, oy = _extrapolate(o, s.t_ms)
            d = math.hypot(ox - s.x_m, oy - s.y_m)
            if d < best[0]:
                best = (d, o)
        return best
