"""Dissemination's per-item and per-recipient memory stays bounded under a stream of ids."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from v2xcloud.model import Advisory, AdvisoryLevel, RoadEvent
from v2xcloud.runtime.dissemination import Disseminator
from v2xcloud.twin.testing import TEST_FRAME

MB = 1 << 20


class _Passing:
    """``n`` vehicles south of the origin heading north at it, ids ``v{first}..``."""

    def __init__(self, first: int, n: int) -> None:
        self.ids = [f"v{i}" for i in range(first, first + n)]
        self.frame = TEST_FRAME
        self.x_m = np.zeros(n)
        self.y_m = np.linspace(-200.0, -10.0, n)
        self.heading_deg = np.zeros(n)
        self._rows = {pid: k for k, pid in enumerate(self.ids)}

    def row_of(self, participant_id: str) -> int | None:
        return self._rows.get(participant_id)


EVENT = RoadEvent(event_id=1, event_type=401, source="police", lat_deg=28.19, lon_deg=112.97)


def test_a_long_lived_event_remembers_at_most_max_recipients() -> None:
    d = Disseminator(max_recipients=2_000)
    key = "event|police|None|1"
    sent_to: list[str] = []
    for tick in range(200):  # 100k distinct vehicles pass the event, 500 per tick
        for delivery in d.events([EVENT], _Passing(tick * 500, 500), tick * 100):
            sent_to.extend(delivery.participants)
        assert len(d.recipients_of(key)) <= 2_000
    assert len(set(sent_to)) == 100_000  # every newcomer was still addressed
    assert d.stats["recipients_forgotten"] > 90_000
    assert len(d) == 1


_ADVISORIES = """
from v2xcloud.model import Advisory, AdvisoryLevel
from v2xcloud.runtime.dissemination import Disseminator
from v2xcloud.twin.testing import TEST_FRAME
import numpy as np

class View:
    ids, frame = [], TEST_FRAME
    x_m = y_m = heading_deg = np.zeros(0)
    def row_of(self, pid):
        return None

d, view = Disseminator(), View()

def fill(lo, hi):
    # 1000 new egos per 100 ms tick, each warned once for 1 s
    for tick in range(lo // 1000, hi // 1000):
        now = tick * 100
        items = [
            Advisory(app="FCW", level=AdvisoryLevel.WARNING, ego_id=f"e{i}", issued_ms=now,
                     expires_ms=now + 1000, other_id="x")
            for i in range(tick * 1000, tick * 1000 + 1000)
        ]
        d.advisories(items, view, now)
        d.expire(now)
        assert len(d) <= 11_000, len(d)
"""


def test_advisories_are_forgotten_when_they_expire(
    flood_rss: Callable[[str, int, int], tuple[int, int]],
) -> None:
    d = Disseminator()
    for tick in range(30):
        items = [
            Advisory(
                app="FCW",
                level=AdvisoryLevel.WARNING,
                ego_id=f"e{tick}-{i}",
                issued_ms=tick * 100,
                expires_ms=tick * 100 + 1000,
            )
            for i in range(100)
        ]
        d.advisories(items, _Passing(0, 0), tick * 100)
        d.expire(tick * 100)
    assert len(d) == 1_000  # the last second's: 10 ticks x 100
    assert d.stats["expired"] == 2_000
    _, grown = flood_rss(_ADVISORIES, 15_000, 50_000)
    assert grown < 4 * MB, f"35k more advisories grew memory by {grown / MB:.1f} MB"


def test_runtime_stats_show_the_scene_tables_evictions() -> None:
    from v2xcloud.model import IntersectionState, NodeId, Spat
    from v2xcloud.runtime import Runtime

    runtime = Runtime(frame=TEST_FRAME, apps=[])
    places = runtime.scene.places
    for i in range(places.intersections.limit + 5):
        spat = Spat(msg_count=0, intersections=(IntersectionState(node=NodeId(region=1, id=i)),))
        runtime.scene.ingest(spat, received_at_ms=i, source="rsu-x")
    assert runtime.stats()["evicted"] == {
        "clock_sources": 0,
        "intersections": 5,
        "maps": 0,
        "events": 0,
        "signs": 0,
    }
