"""The applications' per-pair warning memory forgets pairs after the hold: a stream of new
pairs keeps it at the pairs hit within the hold, and memory flat."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from v2xcloud.apps.hysteresis import Hysteresis, pair_keys

_FLOOD = """
import numpy as np
from v2xcloud.apps.hysteresis import Hysteresis, pair_keys
h = Hysteresis(hold_ticks=3, tick_ms=100)
levels = np.full(1000, 2, dtype=np.int64)

def fill(lo, hi):
    # 1000 new (ego, other) pairs per 100 ms tick, each hit once
    for tick in range(lo // 1000, hi // 1000):
        ego = np.arange(tick * 1000, tick * 1000 + 1000, dtype=np.int64)
        h.update(pair_keys(ego, ego + 1), levels, tick * 100)
        assert len(h) <= 4000, len(h)
"""


def test_pairs_are_forgotten_after_the_hold(
    flood_rss: Callable[[str, int, int], tuple[int, int]],
) -> None:
    h = Hysteresis(hold_ticks=3, tick_ms=100)
    levels = np.full(1000, 2, dtype=np.int64)
    for tick in range(100):  # 100k distinct pairs
        ego = np.arange(tick * 1000, tick * 1000 + 1000, dtype=np.int64)
        assert len(h.update(pair_keys(ego, ego + 1), levels, tick * 100)) == 1000
        assert len(h) <= 4000  # this tick's and the three held ticks' pairs
    assert len(h) == 4000
    _, grown = flood_rss(_FLOOD, 20_000, 100_000)
    assert grown < 2 << 20, f"80k more pairs grew memory by {grown / (1 << 20):.1f} MB"
