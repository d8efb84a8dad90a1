"""Tile assignment, liveness and the ownership plan (pure logic, no server)."""

from __future__ import annotations

import itertools
import random

from v2xcloud.model import Advisory, AdvisoryLevel
from v2xcloud.runtime.ownership import (
    Liveness,
    MergeWatch,
    advisory_msg_id,
    assign,
    assign_by_load,
    cut_by_load,
    episode_key,
    plan,
    split_hot,
    tile_loads,
    unit_of,
)


def test_assign_cuts_sorted_tiles_into_contiguous_balanced_runs() -> None:
    tiles = [f"{i:04d}" for i in range(10)]
    out = assign(reversed(tiles), ["b", "a", "c"])
    assert [out[t] for t in tiles] == ["a"] * 4 + ["b"] * 3 + ["c"] * 3
    assert assign(tiles, []) == {}
    assert assign(tiles, ["a", "b"]) == assign(tiles, ["b", "a"])  # order-free


def _best_max(weights: list[float], k: int) -> float:
    """The least busiest-run load over every way to cut ``weights`` into ``k`` runs."""
    n = len(weights)
    best = float("inf")
    for cuts in itertools.combinations(range(1, n), k - 1):
        edges = (0, *cuts, n)
        best = min(best, max(sum(weights[a:b]) for a, b in itertools.pairwise(edges)))
    return best


def test_cut_by_load_is_contiguous_nonempty_and_its_busiest_run_is_the_least_possible() -> None:
    rng = random.Random(7)
    for _ in range(200):
        n, k = rng.randint(1, 9), rng.randint(1, 5)
        tiles = [f"{i:02d}" for i in range(n)]
        weights = {t: rng.choice([0.0, 1.0, 2.5, 10.0, rng.uniform(0, 20)]) for t in tiles}
        runs = cut_by_load(tiles, weights, k)
        assert [t for run in runs for t in run] == tiles and all(runs)
        assert len(runs) == min(n, k)
        busiest = max(sum(weights[t] for t in run) for run in runs)
        assert busiest <= _best_max([weights[t] for t in tiles], min(n, k)) + 1e-6


def test_assign_by_load_balances_load_not_tile_counts() -> None:
    tiles = [f"{i:02d}" for i in range(12)]
    members = ["a", "b", "c"]
    assert assign_by_load(tiles, members, {}) == assign(tiles, members)  # nothing measured yet
    loads = {t: 1.0 for t in tiles} | {"00": 9.0, "01": 9.0}  # a dense centre
    counted = assign(tiles, members)
    weighted = assign_by_load(tiles, members, loads)

    def busiest(owners: dict[str, str]) -> float:
        per: dict[str, float] = {}
        for t, m in owners.items():
            per[m] = per.get(m, 0.0) + loads[t]
        return max(per.values())

    assert busiest(counted) == 20.0 and busiest(weighted) == 10.0
    assert set(weighted.values()) == set(members)
    # a tile not measured yet counts as the mean of the measured
    assert assign_by_load(tiles, members, {"00": 5.0}) == assign(tiles, members)


def test_assign_by_load_keeps_owners_through_wandering_loads_and_moves_few_on_a_death() -> None:
    tiles = [f"{i:02d}" for i in range(12)]
    members = ["a", "b", "c"]
    loads = {t: 1.0 + (i % 3) for i, t in enumerate(tiles)}
    current = assign_by_load(tiles, members, loads)
    wandered = {t: v * (1.15 if i % 2 else 0.9) for i, (t, v) in enumerate(loads.items())}
    assert assign_by_load(tiles, members, wandered, current) == current  # hysteresis
    hot = loads | {tiles[0]: 12.0}
    assert assign_by_load(tiles, members, hot, current) != current  # far out of balance
    after = assign_by_load(tiles, ["a", "c"], loads, current)  # b died
    assert set(after.values()) == {"a", "c"}
    kept = sum(after[t] == current[t] for t in tiles if current[t] != "b")
    assert kept >= 6  # the survivors' runs stay mostly where they were (8 tiles were theirs)
    joined = assign_by_load(tiles, [*members, "d"], loads, current)
    assert "d" in joined.values()  # a member without a tile: re-cut


def test_tile_loads_are_each_tiles_own_frames_to_two_figures() -> None:
    assert tile_loads({"a": 300.0, "b": 104.0}) == {"a": 300.0, "b": 100.0}
    assert tile_loads({"a": 1234.0}) == {"a": 1200.0}
    assert tile_loads({"a": 0.0, "b": -1.0}) == {"a": 0.0, "b": 0.0}


def test_measured_loads_do_not_move_a_balanced_cut_again() -> None:
    """Loads measured after a re-cut (each tile's own frames) leave the cut where it is: the
    same traffic, measured by its new owners, gives the same weights."""
    frames = {"00": 40.0, "01": 130.0, "02": 45.0, "03": 1.0, "1": 100.0, "2": 10.0, "3": 10.0}
    owners = assign(frames, ["w0", "w1"])
    for _ in range(4):
        after = assign_by_load(frames, ["w0", "w1"], tile_loads(frames), owners)
        if after == owners:
            break
        owners = after
    else:
        raise AssertionError(f"the cut kept moving: {owners}")
    assert assign_by_load(frames, ["w0", "w1"], tile_loads(frames), owners) == owners


def test_split_hot_splits_a_dense_tile_into_children_and_places_its_roadside_frames() -> None:
    load = {"10": 50.0, "100": 30.0, "101": 15.0, "102": 5.0, "1000": 20.0, "1001": 10.0}
    units = split_hot(["10", "11"], lambda u: load.get(u, 0.0), 25.0, finest=4)
    # 10 is hot: its children 100 (hot again: 1000, 1001 and its first child kept), 101, 102
    # (103 holds nothing), 11 is cool
    assert units == ["1000", "1001", "101", "102", "11"]
    assert split_hot(["10"], lambda u: 99.0, 1.0, finest=3) == ["100", "101", "102", "103"]
    assert unit_of("1001", units, zoom=2) == "1001"
    assert unit_of("10123", units, zoom=2) == "101"
    assert unit_of("11", units, zoom=2) == "11"
    assert unit_of("10", units, zoom=2) == "1000"  # a split tile's roadside: first descendant
    assert unit_of("13", units, zoom=2) is None


def test_merge_watch_merges_a_cooled_split_tile_only_after_the_hold() -> None:
    now = [0.0]
    watch = MergeWatch(hold_s=10.0, clock=lambda: now[0])
    split = ["10"]
    units = ["100", "101", "102", "103", "11"]
    hot = {"100": 60.0, "101": 40.0, "102": 5.0, "103": 5.0, "11": 500.0}
    cool = {"100": 20.0, "101": 10.0, "102": 5.0, "103": 5.0, "11": 500.0}  # 40 < 50
    assert watch.due(split, units, hot, 50.0) == []  # split at 0, still 110 frames/s
    now[0] = 5.0
    assert watch.due(split, units, cool, 50.0) == []  # cool since 5: not yet held
    now[0] = 12.0
    assert watch.due(split, units, hot | {"100": 31.0}, 50.0) == []  # 51: not below the limit
    now[0] = 13.0
    assert watch.due(split, units, cool, 50.0) == []  # cool again since 13 (the rise reset it)
    now[0] = 22.9
    assert watch.due(split, units, cool, 50.0) == []
    now[0] = 23.0
    assert watch.due(split, units, cool, 50.0) == ["10"]  # cool 10 s, split 23 s
    # a child whose load is not known, or a child split again, holds the merge back
    gone = {k: v for k, v in cool.items() if k != "103"}
    assert watch.due(split, units, gone, 50.0) == []
    now[0] = 40.0
    assert watch.due(split, units, cool, 50.0) == []  # the unknown load started it again
    now[0] = 50.0
    assert watch.due(split, units, cool, 50.0) == ["10"]
    nested = ["1000", "1001", "101", "102", "103"]
    assert watch.due(["10", "100"], nested, {u: 1.0 for u in nested}, 50.0) == []
    # a tile seen split only now waits the hold from now, however cool
    assert watch.due(["12"], ["120"], {"120": 0.0}, 50.0) == []
    now[0] = 60.0
    assert watch.due(["12"], ["120"], {"120": 0.0}, 50.0) == ["12"]


def test_liveness_on_the_observers_clock() -> None:
    now = [0.0]
    live = Liveness(ttl_s=1.0, forget_s=5.0, clock=lambda: now[0])
    live.heard("w1", 1)
    live.heard("w2", 1)
    now[0] = 0.8
    live.heard("w1", 2)  # w1 renews; w2 does not
    now[0] = 1.5
    assert live.alive() == ["w1"]
    live.heard("w2", 1)  # the same revision again is no renewal
    assert live.alive() == ["w1"]
    live.gone("w1")
    assert live.alive() == []
    now[0] = 10.0
    live.alive()
    assert live._seen == {}  # forgotten: the table stays bounded


def test_plan_claims_from_the_dead_hands_over_to_the_living() -> None:
    desired = {"t1": "a", "t2": "a", "t3": "b"}
    moves = plan(me="a", desired=desired, owners={"t1": "", "t2": "x", "t3": "a"}, alive=["a", "b"])
    assert moves.claim == ("t1", "t2")  # unowned, and owned by the dead x
    assert moves.hand_over == (("t3", "b"),)
    moves = plan(me="a", desired=desired, owners={"t2": "b", "t3": "a"}, alive=["a", "b"])
    assert moves.claim == ("t1",)  # t2 held by the live b: not taken until b hands it over
    moves = plan(me="a", desired=desired, owners={"t2": "b", "t3": "a"}, alive=["a"])
    assert moves.claim == ("t1", "t2")  # b gone: its tile is taken
    assert moves.keep == ("t3",) and moves.hand_over == ()  # desired for the dead b: kept


def test_advisory_ids_are_the_same_from_any_worker_and_differ_per_tick() -> None:
    a = Advisory(
        app="FCW",
        level=AdvisoryLevel.WARNING,
        ego_id="e",
        other_id="o",
        issued_ms=100,
        expires_ms=600,
    )
    b = Advisory(
        app="FCW",
        level=AdvisoryLevel.WARNING,
        ego_id="e",
        other_id="o",
        issued_ms=100,
        expires_ms=600,
        ttc_s=2.0,
    )
    later = Advisory(
        app="FCW",
        level=AdvisoryLevel.WARNING,
        ego_id="e",
        other_id="o",
        issued_ms=200,
        expires_ms=700,
    )
    assert advisory_msg_id("t", a) == advisory_msg_id("t", b) != advisory_msg_id("t", later)
    assert episode_key("t", a) == episode_key("t", later) != episode_key("u", a)
    assert episode_key("t", a).replace("ep.", "").isalnum()  # a valid KV key
