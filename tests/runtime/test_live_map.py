"""The centre's live map (``runtime.live_map.LiveMap``): per-tile snapshots merged into one
scene, each road user once, stale and handed-over tiles dropped, bounded."""

from __future__ import annotations

from v2xcloud.model import ParticipantKind, ParticipantSource, ParticipantState
from v2xcloud.runtime.backbone import TileSnapshot
from v2xcloud.runtime.live_map import LiveMap


def _car(pid: str, t_ms: int, lat: float = 28.2) -> ParticipantState:
    return ParticipantState(
        id=pid,
        kind=ParticipantKind.VEHICLE,
        source=ParticipantSource.BSM,
        timestamp_ms=t_ms,
        lat_deg=lat,
        lon_deg=112.9,
    )


def _snap(tile: str, at_ms: int, worker: str, *cars: ParticipantState) -> TileSnapshot:
    return TileSnapshot(tile=tile, at_ms=at_ms, worker=worker, participants=cars)


def test_tiles_merge_and_a_newer_snapshot_replaces_its_tile() -> None:
    m = LiveMap()
    m.put(_snap("a", 0, "w1", _car("x", 0), _car("y", 0)), received_at_ms=0)
    m.put(_snap("b", 0, "w2", _car("z", 0)), received_at_ms=0)
    assert sorted(m.states(100)) == ["x", "y", "z"]
    m.put(_snap("a", 500, "w1", _car("x", 500)), received_at_ms=500)  # y left the tile
    assert sorted(m.states(600)) == ["x", "z"]
    assert m.states(600)["x"].timestamp_ms == 500


def test_unchanged_tiles_keep_the_same_state_objects() -> None:
    """A tick's delta (``RuntimeLive``) lists as changed only what a new snapshot brought."""
    m = LiveMap()
    m.put(_snap("a", 0, "w1", _car("x", 0)), received_at_ms=0)
    m.put(_snap("b", 0, "w2", _car("z", 0)), received_at_ms=0)
    before = m.states(100)
    m.put(_snap("b", 500, "w2", _car("z", 500)), received_at_ms=500)
    after = m.states(600)
    assert after["x"] is before["x"] and after["z"] is not before["z"]


def test_stale_tile_goes_the_fresh_one_stays() -> None:
    m = LiveMap(stale_ms=2000)
    m.put(_snap("a", 0, "w1", _car("x", 0)), received_at_ms=0)
    for t in range(0, 3000, 500):
        m.put(_snap("b", t, "w2", _car("z", t)), received_at_ms=t)
    assert sorted(m.states(2001)) == ["z"]
    assert m.counts["stale"] == 1 and m.tiles() == {"b": "w2"}


def test_a_road_user_in_two_tiles_shows_once_as_its_newest_report() -> None:
    m = LiveMap()
    m.put(_snap("a", 1000, "w1", _car("x", 900, lat=28.0)), received_at_ms=1000)
    m.put(_snap("b", 1100, "w2", _car("x", 1000, lat=28.1)), received_at_ms=1100)
    assert [(p.id, p.lat_deg) for p in m.states(1200).values()] == [("x", 28.1)]
    assert m.counts["duplicates"] == 1


def test_handover_replaces_and_the_old_owner_is_dropped() -> None:
    owners = {"a": "w1"}
    m = LiveMap(owners=lambda: owners)
    m.put(_snap("a", 0, "w1", _car("x", 0)), received_at_ms=0)
    assert list(m.states(10)) == ["x"]
    owners["a"] = "w2"  # the heartbeats say w2 has it: w1's snapshot is not shown
    assert m.states(20) == {} and m.counts["not_owner"] == 1
    m.put(_snap("a", 100, "w2", _car("x", 100)), received_at_ms=100)
    m.put(_snap("a", 50, "w1", _car("x", 50)), received_at_ms=110)  # the old owner's late one
    assert m.states(120)["x"].timestamp_ms == 100 and m.counts["not_owner"] == 2
    owners.clear()  # no heartbeat names an owner: another worker's snapshot replaces
    m.put(_snap("a", 600, "w3", _car("x", 600)), received_at_ms=600)
    assert m.states(610)["x"].timestamp_ms == 600 and m.counts["handed_over"] == 1


def test_reordered_snapshot_of_one_worker_is_ignored() -> None:
    m = LiveMap()
    m.put(_snap("a", 500, "w1", _car("x", 500)), received_at_ms=500)
    m.put(_snap("a", 0, "w1", _car("x", 0)), received_at_ms=510)
    assert m.states(520)["x"].timestamp_ms == 500 and m.counts["out_of_order"] == 1


def test_tiles_held_are_bounded() -> None:
    m = LiveMap(max_tiles=3)
    for i in range(5):
        m.put(_snap(f"t{i}", 0, "w", _car(f"c{i}", 0)), received_at_ms=i)
    assert sorted(m.states(10)) == ["c2", "c3", "c4"]
    assert m.stats() == {"snapshots": 5, "evicted": 2, "tiles": 3}
