"""Hysteresis: first hit at once, upgrades at once, downgrades held, no flicker, hold on gaps."""

from __future__ import annotations

import numpy as np
import pytest

from v2xcloud.apps.hysteresis import Hysteresis, pair_keys

W, IMM = 2, 3  # WARNING, IMMINENT


def _tick(h: Hysteresis, now: int, hits: dict[int, int]) -> dict[int, int]:
    keys = np.array(sorted(hits), dtype=np.int64)
    levels = np.array([hits[k] for k in sorted(hits)], dtype=np.int64)
    d = h.update(keys, levels, now)
    return {int(keys[i]): int(lvl) for i, lvl in zip(d.index, d.level, strict=True)}


def test_first_hit_is_issued_on_the_same_tick() -> None:
    h = Hysteresis(hold_ticks=3, validity_ms=1000, tick_ms=100)
    assert _tick(h, 0, {7: W}) == {7: W}


def test_repeats_are_not_reissued_until_refresh() -> None:
    h = Hysteresis(hold_ticks=3, validity_ms=1000, tick_ms=100)
    issued = [_tick(h, t, {7: W}) for t in range(0, 2000, 100)]
    times = [k * 100 for k, out in enumerate(issued) if out]
    assert times == [0, 900, 1800]  # refreshed within a tick of expiry


def test_upgrade_at_once_downgrade_only_after_hold() -> None:
    h = Hysteresis(hold_ticks=3, validity_ms=1000, tick_ms=100)
    _tick(h, 0, {7: W})
    assert _tick(h, 100, {7: IMM}) == {7: IMM}
    # a level wobbling down for one or two ticks is not issued
    assert _tick(h, 200, {7: W}) == {}
    assert _tick(h, 300, {7: IMM}) == {}
    assert _tick(h, 400, {7: W}) == {}
    assert _tick(h, 500, {7: W}) == {}
    assert _tick(h, 600, {7: W}) == {}
    assert _tick(h, 700, {7: W}) == {7: W}  # held lower for 3 ticks


def test_a_missed_detection_does_not_end_or_reissue_the_warning() -> None:
    h = Hysteresis(hold_ticks=3, validity_ms=1000, tick_ms=100)
    _tick(h, 0, {7: W})
    assert _tick(h, 100, {}) == {}
    assert _tick(h, 200, {7: W}) == {}  # back within the hold: no new advisory
    assert len(h) == 1
    for t in (300, 400, 500, 600):
        _tick(h, t, {})
    assert len(h) == 0  # forgotten after the hold
    assert _tick(h, 700, {7: W}) == {7: W}


def test_thousands_of_pairs_in_one_call() -> None:
    h = Hysteresis()
    ego = np.arange(5000, dtype=np.int64)
    keys = pair_keys(ego, ego + 1)
    d = h.update(keys, np.full(5000, W, dtype=np.int64), 0)
    assert len(d) == 5000
    assert len(h.update(keys, np.full(5000, W, dtype=np.int64), 100)) == 0


# --- a scalar model of the documented behaviour, checked against the vectorised state ------


class _ScalarModel:
    """The module docstring's rules, one pair at a time (slow, obviously right)."""

    def __init__(self, hold_ticks: int, validity_ms: int, tick_ms: int, confirm: int = 1) -> None:
        self.hold_ms, self.validity_ms, self.tick_ms = hold_ticks * tick_ms, validity_ms, tick_ms
        self.confirm = confirm
        self.state: dict[int, list[int]] = {}  # key -> [level, last, expires, lower since]
        self.pending: dict[int, tuple[int, int]] = {}  # key -> (ticks in a row, last tick)

    def update(self, hits: list[tuple[int, int]], now: int) -> list[tuple[int, int, int]]:
        out = []
        pending, self.pending = self.pending, {}
        for i, (key, lvl) in enumerate(hits):
            s = self.state.get(key)
            if s is None:
                n, last = pending.get(key, (0, -(10**9)))
                n = n + 1 if now - last <= self.tick_ms * 3 // 2 else 1
                if n < self.confirm:
                    self.pending[key] = (n, now)
                    continue
                self.state[key] = [lvl, now, now + self.validity_ms, -1]
                out.append((i, lvl, now + self.validity_ms))
                continue
            held, _, expires, lower = s
            below = lvl < held
            lower = (now if lower < 0 else lower) if below else -1
            change = lvl > held or (below and now - lower >= self.hold_ms)
            issue = change or expires - now <= self.tick_ms
            level = lvl if change else held
            s[:] = [
                level,
                now,
                now + self.validity_ms if issue else expires,
                -1 if change else lower,
            ]
            if issue:
                out.append((i, level, now + self.validity_ms))
        self.state = {k: s for k, s in self.state.items() if now - s[1] <= self.hold_ms}
        return out


def _compare(hold_ticks: int, validity_ms: int, tick_ms: int, seed: int, confirm: int = 1) -> None:
    rng = np.random.default_rng(seed)
    h = Hysteresis(
        hold_ticks=hold_ticks, validity_ms=validity_ms, tick_ms=tick_ms, confirm_ticks=confirm
    )
    model = _ScalarModel(hold_ticks, validity_ms, tick_ms, confirm)
    uids = rng.integers(0, 2**31 - 1, size=12)  # large keys: float64 would lose them
    pool = np.unique(pair_keys(uids[:6], uids[6:]))
    now = 0
    for _ in range(150):
        now += tick_ms * int(rng.choice([1, 1, 1, 2]))
        chosen = np.sort(rng.choice(pool, size=int(rng.integers(0, pool.size + 1)), replace=False))
        levels = rng.integers(1, 4, size=chosen.size).astype(np.int64)
        d = h.update(chosen.astype(np.int64), levels, now)
        expected = model.update(list(zip(chosen.tolist(), levels.tolist(), strict=True)), now)
        got = list(zip(d.index.tolist(), d.level.tolist(), d.expires_ms.tolist(), strict=True))
        assert got == expected, f"at {now} ms"
        active = h.active()
        assert active == {k: s[0] for k, s in model.state.items()}
        assert all(type(k) is int and type(v) is int for k, v in active.items())
        assert len(h) == len(model.state)


def test_matches_the_scalar_model_on_random_hit_sequences() -> None:
    for seed, (hold, validity, tick) in enumerate([(3, 500, 100), (1, 1000, 100), (5, 300, 50)]):
        _compare(hold, validity, tick, seed)


def test_with_confirmation_matches_the_scalar_model_on_random_hit_sequences() -> None:
    cases = [(3, 500, 100, 2), (1, 1000, 100, 3), (5, 300, 50, 2), (2, 800, 100, 4)]
    for seed, (hold, validity, tick, confirm) in enumerate(cases):
        _compare(hold, validity, tick, 10 + seed, confirm)


def test_a_new_hazard_is_issued_once_seen_confirm_ticks_in_a_row() -> None:
    h = Hysteresis(hold_ticks=3, validity_ms=1000, tick_ms=100, confirm_ticks=2)
    assert _tick(h, 0, {7: W, 8: W}) == {}  # one tick's prediction is not a warning yet
    assert len(h) == 0
    assert _tick(h, 100, {7: IMM}) == {7: IMM}  # the second tick in a row, at its level
    assert _tick(h, 200, {8: W}) == {}  # 8 missed a tick: it starts again
    assert _tick(h, 300, {8: W}) == {8: W}
    assert _tick(h, 400, {7: IMM, 8: W}) == {}  # held pairs go on as without confirmation


def test_a_confirmed_hazard_forgotten_after_its_hold_is_confirmed_again() -> None:
    h = Hysteresis(hold_ticks=1, validity_ms=1000, tick_ms=100, confirm_ticks=2)
    _tick(h, 0, {7: W})
    assert _tick(h, 100, {7: W}) == {7: W}
    for t in (200, 300):
        _tick(h, t, {})
    assert len(h) == 0
    assert _tick(h, 400, {7: W}) == {}
    assert _tick(h, 500, {7: W}) == {7: W}


def test_confirmation_allows_a_late_tick_but_not_a_missed_one() -> None:
    h = Hysteresis(hold_ticks=3, validity_ms=1000, tick_ms=100, confirm_ticks=2)
    _tick(h, 0, {7: W})
    assert _tick(h, 150, {7: W}) == {7: W}  # half a tick late: still the next tick
    _tick(h, 300, {9: W})
    assert _tick(h, 500, {9: W}) == {}  # a tick missed in between: it starts again
    assert _tick(h, 600, {9: W}) == {9: W}


def test_confirm_ticks_must_be_positive() -> None:
    with pytest.raises(ValueError, match="confirm_ticks"):
        Hysteresis(confirm_ticks=0)


def test_defaults_hold_three_ticks_and_advisories_last_half_a_second() -> None:
    h = Hysteresis()
    d = h.update(np.array([1], dtype=np.int64), np.array([W], dtype=np.int64), 0)
    assert d.expires_ms.tolist() == [500] and d.level.tolist() == [W]
    issued = [len(h.update(np.array([1]), np.array([W]), t)) for t in range(100, 1000, 100)]
    assert issued == [0, 0, 0, 1, 0, 0, 0, 1, 0]  # refreshed when 100 ms or less remain
    for t in (1000, 1100, 1200, 1300):
        h.update(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), t)
    assert len(h) == 0  # last hit at 900: held 300 ms, forgotten at 1300


def test_hold_boundary_is_inclusive() -> None:
    """Kept while ``now - last <= hold``; a lower level is issued once held ``>= hold``."""
    h = Hysteresis(hold_ticks=2, validity_ms=10_000, tick_ms=100)
    empty = np.empty(0, dtype=np.int64)
    h.update(np.array([5]), np.array([IMM]), 0)
    h.update(empty, empty, 200)
    assert len(h) == 1  # exactly the hold: still held
    assert len(h.update(np.array([5]), np.array([IMM]), 300)) == 0
    h.update(empty, empty, 501)
    assert len(h) == 0
    h.update(np.array([5]), np.array([IMM]), 600)
    assert len(h.update(np.array([5]), np.array([W]), 700)) == 0
    d = h.update(np.array([5]), np.array([W]), 900)  # lower for exactly 200 ms
    assert d.level.tolist() == [W]


def test_an_empty_tick_returns_empty_decisions() -> None:
    h = Hysteresis()
    d = h.update(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), 0)
    assert len(d) == 0 and d.index.size == d.level.size == d.expires_ms.size == 0


def test_pair_keys_put_ego_in_the_high_half() -> None:
    keys = pair_keys(np.array([1, 2**31 - 1], dtype=np.int32), np.array([2, 7], dtype=np.int32))
    assert keys.dtype == np.int64
    assert keys.tolist() == [(1 << 32) | 2, ((2**31 - 1) << 32) | 7]
    ego = np.array([3], dtype=np.int64)
    other = np.array([5], dtype=np.int64)
    pair_keys(ego, other)
    assert ego.tolist() == [3] and other.tolist() == [5]  # inputs untouched


def test_default_hold_is_three_100_ms_ticks() -> None:
    h = Hysteresis()
    h.update(np.array([1]), np.array([W]), 0)
    empty = np.empty(0, dtype=np.int64)
    h.update(empty, empty, 300)
    assert len(h) == 1
    h.update(empty, empty, 301)
    assert len(h) == 0


def test_a_downgrade_starting_at_time_zero_is_held_from_zero() -> None:
    h = Hysteresis(hold_ticks=3, validity_ms=10_000, tick_ms=100)
    h.update(np.array([1]), np.array([IMM]), -100)
    for t in (0, 100, 200):
        assert len(h.update(np.array([1]), np.array([W]), t)) == 0
    assert h.update(np.array([1]), np.array([W]), 300).level.tolist() == [W]
