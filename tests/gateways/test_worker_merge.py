"""A split tile that cooled merges back into one unit (``TileWorker._merge_cool``), driven
without a server: the tiles bucket is a dict with compare-and-set, and each worker is told of
the other's writes as its watcher would tell it (``_on_tile``). The cluster-level proof is
``tests/cluster/test_load_balance.py`` (split, then merge, on real nats-server)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import nats
import pytest

from v2xcloud.errors import GatewayError
from v2xcloud.gateways.tile_worker import MERGING, SPLIT, TileWorker, WorkerConfig

ORIGIN = (28.2, 112.9)
PARENT = "1321202201021202"
KIDS = [PARENT + d for d in "0123"]


class _Tiles:
    """The tiles bucket as the worker writes it (``update`` / ``delete`` with ``last``); every
    write is also an entry for the workers' watchers (``log``)."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, int]] = {}
        self.rev = 0
        self.log: list[SimpleNamespace] = []

    def _write(self, key: str, value: str, op: str, last: int | None) -> int:
        if last is not None and self.keys.get(key, ("", 0))[1] != last:
            raise nats.js.errors.KeyWrongLastSequenceError()
        self.rev += 1
        if op == "PUT":
            self.keys[key] = (value, self.rev)
        else:
            self.keys.pop(key, None)
        self.log.append(
            SimpleNamespace(key=key, value=value.encode(), operation=op, revision=self.rev)
        )
        return self.rev

    def put(self, key: str, value: str) -> None:
        self._write(key, value, "PUT", None)

    async def update(self, key: str, value: bytes, last: int) -> int:
        return self._write(key, value.decode(), "PUT", last)

    async def delete(self, key: str, last: int | None = None) -> bool:
        self._write(key, "", "DEL", last)
        return True


def _worker(name: str, kv: _Tiles) -> TileWorker:
    config = WorkerConfig(
        urls=["nats://127.0.0.1:1"],
        origin=ORIGIN,
        worker_id=name,
        split_fps=150.0,
        merge_hold_s=0.0,
    )
    worker = TileWorker(config)
    worker.tiles_kv = kv  # type: ignore[assignment]
    return worker


def _sync(workers: list[TileWorker], kv: _Tiles, seen: list[int]) -> None:
    """Every entry written since the last sync, to every worker's watcher."""
    for i, worker in enumerate(workers):
        for entry in kv.log[seen[i] :]:
            worker._on_tile(entry)
        seen[i] = len(kv.log)


def test_a_cooled_split_tile_merges_into_the_first_childs_owner() -> None:
    kv = _Tiles()
    kv.put(PARENT, SPLIT)
    for kid, owner in zip(KIDS, ["w0", "w1", "w0", "w1"], strict=True):
        kv.put(kid, owner)
    w0, w1 = _worker("w0", kv), _worker("w1", kv)
    seen = [0, 0]
    _sync([w0, w1], kv, seen)
    # 40 frames/s < half the split's 150; the busiest child is w0's, and the cut of the tile
    # whole (no other tile) leaves it there: w0 is the member to merge into
    cool = {KIDS[0]: 20.0, KIDS[1]: 10.0, KIDS[2]: 5.0, KIDS[3]: 5.0}
    for w in (w0, w1):
        w.loads.update(cool)
    # a road user last reported in the second child, as w1 placed it
    w1._placed["v1"] = (KIDS[1], True, 1_000)
    alive = ["w0", "w1"]

    async def run() -> None:
        await w1._merge_cool(alive)  # w1 does not own the first child: no mark
        assert kv.keys[PARENT][0] == SPLIT
        await w0._merge_cool(alive)
        assert kv.keys[PARENT][0] == MERGING + "w0"
        _sync([w0, w1], kv, seen)
        # w1 wants its children at w0 now, whatever the load cut says
        desired = w1._merging_to(dict.fromkeys(KIDS, "w1"), alive)
        assert desired == dict.fromkeys(KIDS, "w0")
        # while merging the children are still the units: a frame in child 1 is child 1's
        assert w0._unit_of(KIDS[1] + "00") == KIDS[1]
        await w0._merge_cool(alive)  # w1 has not handed them over: nothing yet
        assert kv.keys[PARENT][0] == MERGING + "w0"
        for kid in (KIDS[1], KIDS[3]):
            await w1._cas(kid, "w0", "handed_over")
        _sync([w0, w1], kv, seen)
        await w0._merge_cool(alive)
        _sync([w0, w1], kv, seen)

    asyncio.run(run())
    assert kv.keys == {PARENT: ("w0", kv.keys[PARENT][1])}  # the children's keys are gone
    assert w0.counts["merges"] == 1
    for w in (w0, w1):
        assert set(w.owners) == {PARENT}, w.owners  # no ownerless child key is left over
        assert w._split == frozenset()
        assert w._unit_of(KIDS[1] + "00") == PARENT
        assert w.loads[PARENT] == 40.0 and not set(KIDS) & set(w.loads)
    assert w1._placed["v1"] == (PARENT, True, 1_000)


def test_a_merge_no_longer_due_goes_back_to_split() -> None:
    kv = _Tiles()
    kv.put(PARENT, SPLIT)
    for kid in KIDS:
        kv.put(kid, "w0")
    w0 = _worker("w0", kv)
    seen = [0]
    _sync([w0], kv, seen)
    w0.loads.update({kid: 10.0 for kid in KIDS})
    w0.loads[KIDS[3]] = 60.0  # 90 frames/s: above the merge limit (75)

    async def run() -> None:
        await w0._merge_cool(["w0"])
        assert kv.keys[PARENT][0] == SPLIT  # not cool: never marked
        kv.put(PARENT, MERGING + "w0")  # marked while it was cool
        _sync([w0], kv, seen)
        await w0._merge_cool(["w0"])

    asyncio.run(run())
    assert kv.keys[PARENT][0] == SPLIT
    assert w0.counts["merge_abandoned"] == 1 and w0.counts["merges"] == 0


def test_a_deleted_tile_key_is_no_unit() -> None:
    """A tile key deleted (a merged tile's child) is forgotten, not kept as a tile without an
    owner (which the balance then gave out again, a unit inside its merged parent)."""
    kv = _Tiles()
    kv.put(PARENT, "w0")
    kv.put(KIDS[0], "w0")
    w0 = _worker("w0", kv)
    seen = [0]
    asyncio.run(kv.delete(KIDS[0]))
    _sync([w0], kv, seen)
    assert set(w0.owners) == {PARENT}
    assert w0._unit_of(KIDS[0] + "00") == PARENT


def test_merge_limit_must_be_below_the_split_limit() -> None:
    config = WorkerConfig(urls=["nats://x:1"], origin=ORIGIN, split_fps=100.0, merge_fps=100.0)
    with pytest.raises(GatewayError, match="hysteresis"):
        TileWorker(config)


def test_a_merge_goes_to_the_member_the_cut_gives_the_whole_tile() -> None:
    """w0 holds every unit (the cooled children and a 100 frames/s tile), w1 none: merged
    into w0, the tile would be handed to w1 at the next round; it is marked for w1 at once,
    and w0 hands its children there."""
    other = "1321202201021213"
    kv = _Tiles()
    kv.put(PARENT, SPLIT)
    for kid in KIDS:
        kv.put(kid, "w0")
    kv.put(other, "w0")
    w0 = _worker("w0", kv)
    _sync([w0], kv, [0])
    w0.loads.update({kid: 10.0 for kid in KIDS} | {other: 100.0})
    asyncio.run(w0._merge_cool(["w0", "w1"]))
    assert kv.keys[PARENT][0] == MERGING + "w1"
    _sync([w0], kv, [len(kv.log) - 1])
    desired = w0._merging_to(dict.fromkeys([*KIDS, other], "w0"), ["w0", "w1"])
    assert desired == dict.fromkeys(KIDS, "w1") | {other: "w0"}
