"""Tile assignment, liveness and the ownership plan (pure logic, no server)."""

from __future__ import annotations

from v2xcloud.model import Advisory, AdvisoryLevel
from v2xcloud.runtime.ownership import (
    Liveness,
    advisory_msg_id,
    assign,
    episode_key,
    plan,
)


def test_assign_cuts_sorted_tiles_into_contiguous_balanced_runs() -> None:
    tiles = [f"{i:04d}" for i in range(10)]
    out = assign(reversed(tiles), ["b", "a", "c"])
    assert [out[t] for t in tiles] == ["a"] * 4 + ["b"] * 3 + ["c"] * 3
    assert assign(tiles, []) == {}
    assert assign(tiles, ["a", "b"]) == assign(tiles, ["b", "a"])  # order-free


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
