"""The scene's per-source, per-node, per-event and per-participant state stays bounded."""

from __future__ import annotations

from collections.abc import Callable

from v2xcloud.model import IntersectionState, NodeId, RoadEvent, Rsi, Spat
from v2xcloud.twin import SourceClocks
from v2xcloud.twin.places import Places

FloodRss = Callable[[str, int, int], tuple[int, int]]
MB = 1 << 20

_CLOCKS = """
from v2xcloud.twin import SourceClocks
clocks = SourceClocks(window_ms=10_000, max_sources=1_000)
names = [f"rsu-{i}" for i in range(100_000)]

def fill(lo, hi):
    for i in range(lo, hi):
        clocks.to_platform(names[i], frame_ms=i, received_at_ms=i + 40)
        clocks.to_platform("rsu-real", frame_ms=i, received_at_ms=i + 25)  # heard all along
"""


def test_clock_offsets_keep_at_most_max_sources(flood_rss: FloodRss) -> None:
    scope: dict[str, object] = {}
    exec(_CLOCKS, scope)
    scope["fill"](0, 100_000)  # type: ignore[operator]
    clocks = scope["clocks"]
    assert isinstance(clocks, SourceClocks)
    assert len(clocks) == 1_000 and clocks.evicted == 100_000 - 999
    assert clocks.offset_ms("rsu-real") == 25  # a live source is never the one evicted
    assert clocks.offset_ms("rsu-0") is None and len(clocks.sources()) == 1_000
    _, grown = flood_rss(_CLOCKS, 10_000, 100_000)
    assert grown < 2 * MB, f"90k more sources grew memory by {grown / MB:.1f} MB"


_PLACES = """
from v2xcloud.model import IntersectionState, NodeId, RoadEvent, Rsi, Spat
from v2xcloud.twin.places import Places
places = Places(max_intersections=500, max_events=300)

def fill(lo, hi):
    for i in range(lo, hi):
        node = IntersectionState(node=NodeId(region=1, id=i))
        places.add_spat(Spat(msg_count=0, intersections=(node,)), received_ms=i)
        event = RoadEvent(event_id=i, event_type=401, source="police", lat_deg=28.2)
        rsi = Rsi(msg_count=0, rsu_id="rsu-x", ref_lat_deg=28.2, ref_lon_deg=112.9, events=(event,))
        places.add_rsi(rsi, received_ms=i)
"""


def test_invented_node_and_event_ids_cannot_grow_the_places(flood_rss: FloodRss) -> None:
    places = Places(max_intersections=500, max_events=300)
    for i in range(100_000):
        node = IntersectionState(node=NodeId(region=1, id=i))
        places.add_spat(Spat(msg_count=0, intersections=(node,)), received_ms=i)
        event = RoadEvent(event_id=i, event_type=401, source="police", lat_deg=28.2)
        rsi = Rsi(msg_count=0, rsu_id="rsu-x", ref_lat_deg=28.2, ref_lon_deg=112.9, events=(event,))
        places.add_rsi(rsi, received_ms=i)
    assert len(places.intersections) == 500 and len(places.events) == 300
    assert places.evicted() == {"intersections": 99_500, "maps": 0, "events": 99_700, "signs": 0}
    assert NodeId(region=1, id=99_999) in places.intersections  # the newest are kept
    places.expire(100_000 + places.ttl_ms + 1)  # expiry still applies to the bounded tables
    assert len(places.events) == 0
    _, grown = flood_rss(_PLACES, 10_000, 100_000)
    assert grown < 2 * MB, f"90k more node and event ids grew memory by {grown / MB:.1f} MB"


_SCENE = """
import msgspec
from v2xcloud.twin import Scene
from v2xcloud.twin.testing import TEST_FRAME, state_at
scene = Scene(TEST_FRAME, stale_after_ms=1_000)
template = state_at("p", x_m=0, y_m=0, t_ms=0, speed_mps=5.0, heading_deg=0.0)
replace = msgspec.structs.replace

def fill(lo, hi):
    # 1000 new participant ids per 100 ms tick, each from its own OBU (its own clock source)
    for tick in range(lo // 1000, hi // 1000):
        now = tick * 100
        for i in range(tick * 1000, tick * 1000 + 1000):
            lat, lon = template.lat_deg + i % 300 * 1e-5, template.lon_deg + i // 300 % 300 * 1e-5
            state = replace(template, id=f"p{i}", timestamp_ms=now, lat_deg=lat, lon_deg=lon)
            scene.ingest(state, received_at_ms=now, source=f"obu-{i}")
        scene.update(now)
        assert len(scene) <= 11_000, len(scene)  # the last second's participants only
    if hi == 60_000:
        assert scene.stats.expired >= 60_000 - 11_000, scene.stats.expired
        assert scene.evicted()["clock_sources"] == 60_000 - 10_000  # one per OBU, 10k kept
"""


def test_participants_expire_so_a_stream_of_new_ids_stays_flat(flood_rss: FloodRss) -> None:
    """60k distinct participant ids from 60k OBUs: only the last second's are held."""
    base, grown = flood_rss(_SCENE, 20_000, 60_000)
    assert grown < 0.1 * base, f"{grown / MB:.1f} MB grown over {base / MB:.1f} MB"
