"""LruTable: the size-limited dict every per-id table uses."""

from __future__ import annotations

import logging
import pickle

import pytest

from v2xcloud.bounded import LruTable
from v2xcloud.errors import ConfigError


def test_writing_past_the_limit_evicts_the_least_recently_written() -> None:
    t: LruTable[str, int] = LruTable(limit=3, name="t")
    for k in "abc":
        t[k] = 0
    t["a"] = 1  # rewritten: now the newest
    _ = t["b"]  # a read does not refresh
    t["d"] = 2
    assert list(t) == ["c", "a", "d"] and t.evicted == 1
    for i in range(1000):
        t[f"x{i}"] = i
    assert len(t) == 3 and t.evicted == 1001
    del t["x999"]  # deleted by its owner: not an eviction
    assert t.evicted == 1001 and len(t) == 2


def test_the_first_eviction_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    t: LruTable[int, int] = LruTable(limit=1, name="sources of nothing")
    with caplog.at_level(logging.WARNING, logger="v2xcloud.bounded"):
        for i in range(50):
            t[i] = i
    assert t.evicted == 49
    assert [r.getMessage() for r in caplog.records] == [
        "sources of nothing: more than 1 entries, evicting the least recently written "
        "(counted, logged only this once)"
    ]


def test_pickles_with_its_limit_and_count() -> None:
    t: LruTable[str, int] = LruTable(limit=2, name="p")
    t["a"], t["b"], t["c"] = 1, 2, 3
    copy = pickle.loads(pickle.dumps(t))
    assert (list(copy.items()), copy.limit, copy.evicted, copy.name) == (
        [("b", 2), ("c", 3)],
        2,
        1,
        "p",
    )


def test_a_limit_below_one_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="clocks: table limit must be at least 1, got 0"):
        LruTable(limit=0, name="clocks")
