"""Tables keyed by ids that arrive from outside (VINs, sources, nodes) with a size limit.

Any state the platform keeps per device, per vehicle, per source or per participant grows
with its input: a sender that invents a new id per frame would otherwise grow it until the
process runs out of memory. Such a table is a :class:`LruTable`: a dict that, when a write
takes it past ``limit`` entries, evicts the least recently written entry and counts it in
``evicted``. The first eviction of each table is logged once (a warning naming the table and
its limit), every later one only counted, so a flood neither grows memory nor floods the log.

Like ``errors``, this module sits beside the layers: every package may import it.

>>> t = LruTable[str, int](limit=2, name="example")
>>> t["a"], t["b"], t["a"], t["c"] = 1, 2, 3, 4   # "a" rewritten, so "b" is the oldest
>>> list(t), t.evicted
(['a', 'c'], 1)
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, TypeVar

from v2xcloud.errors import ConfigError

__all__ = ["LruTable"]

logger = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


class LruTable(OrderedDict[K, V]):
    """A dict of at most ``limit`` entries; writing past it evicts the least recently written.

    Reads (``get``, ``[]``, ``in``) do not refresh an entry: what keeps an entry is being
    written, i.e. its owner still hearing from that id. ``evicted`` counts the entries dropped
    for the limit (not those deleted by their owner).
    """

    def __init__(self, *, limit: int, name: str) -> None:
        if limit < 1:
            raise ConfigError(f"{name}: table limit must be at least 1, got {limit}")
        super().__init__()
        self.limit = limit
        self.name = name
        self.evicted = 0

    def __setitem__(self, key: K, value: V) -> None:
        if key in self:
            self.move_to_end(key)
            super().__setitem__(key, value)
            return
        super().__setitem__(key, value)
        if len(self) > self.limit:
            self.popitem(last=False)
            if self.evicted == 0:
                logger.warning(
                    "%s: more than %d entries, evicting the least recently written "
                    "(counted, logged only this once)",
                    self.name,
                    self.limit,
                )
            self.evicted += 1

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.limit, self.name, self.evicted, list(self.items())))

    def __repr__(self) -> str:
        return f"LruTable({self.name!r}, {len(self)}/{self.limit}, evicted={self.evicted})"


def _rebuild(limit: int, name: str, evicted: int, items: list[tuple[K, V]]) -> LruTable[K, V]:
    table: LruTable[K, V] = LruTable(limit=limit, name=name)
    for k, v in items:
        table[k] = v
    table.evicted = evicted
    return table
