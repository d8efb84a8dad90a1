"""Hysteresis: first hit at once, upgrades at once, downgrades held, no flicker, hold on gaps."""

from __future__ import annotations

import numpy as np

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
