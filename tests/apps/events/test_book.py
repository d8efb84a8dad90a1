"""Event bookkeeping: ids are never two open at once, also across detectors sharing a pool."""

from __future__ import annotations

from v2xcloud.apps.events import EventBook
from v2xcloud.apps.events.book import EventIds


def _see(book: EventBook, key: str, now_ms: int) -> None:
    book.seen(key, now_ms, lat_deg=49.0, lon_deg=8.4, radius_m=10.0, confidence=0.9, description="")


def test_shared_pool_gives_distinct_ids_and_reuses_ended_ones() -> None:
    ids = EventIds()
    a = EventBook(kind="a", event_type=1)
    b = EventBook(kind="b", event_type=2)
    a.ids = b.ids = ids
    _see(a, "x", 0)
    _see(b, "y", 0)
    (ea,), (eb,) = a.tick(0), b.tick(0)
    assert (ea.event_id, eb.event_id) == (1, 2)
    (ended,) = a.tick(5000)  # not seen again: ended, its id released
    assert ended.end_ms == 0
    assert ids.take() == 3  # in turn, not the lowest free
    assert 1 not in ids._open and 2 in ids._open


def test_ids_wrap_after_255_skipping_open_ones() -> None:
    ids = EventIds()
    taken = [ids.take() for _ in range(255)]
    assert taken == list(range(1, 256))
    ids.release(7)
    assert ids.take() == 7  # the only free one
    assert ids.take() == 8  # all open: the next in turn is reused
