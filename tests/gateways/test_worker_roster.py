"""The centre's roster of the edge workers, from their heartbeats: a heartbeat puts a worker
in, its leave (key deleted) takes it out at once, a killed one (silent) after
``stale_after_s``; a heartbeat that does not parse is counted, not fatal."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

from v2xcloud.gateways.tile_worker import WorkerRoster


def _beat(worker: str, tiles: list[str], load: dict[str, float] | None = None) -> object:
    body = json.dumps({"tiles": tiles, "ticks": 7, "load": load or {}}).encode()
    return SimpleNamespace(key=worker, value=body, operation=None)


def test_roster_follows_heartbeats_leaves_and_silence() -> None:
    roster = WorkerRoster(stale_after_s=0.2)
    roster.put(_beat("w0", ["a", "b"], {"a": 120.0, "b": 30.5}))  # type: ignore[arg-type]
    roster.put(_beat("w1", ["c"]))  # type: ignore[arg-type]
    roster.put(SimpleNamespace(key="w2", value=b"{not json", operation=None))  # type: ignore[arg-type]
    view = roster.view()
    assert view["workers"]["w0"]["tiles"] == 2 and view["workers"]["w0"]["frames_per_s"] == 150.5
    assert view["tiles"] == 3 and view["bad_heartbeats"] == 1
    assert roster.owners() == {"a": "w0", "b": "w0", "c": "w1"}
    roster.put(SimpleNamespace(key="w1", value=b"", operation="DEL"))  # type: ignore[arg-type]
    assert set(roster.view()["workers"]) == {"w0"}
    time.sleep(0.3)  # w0 killed: its key only expires, the roster stops showing it
    assert roster.view()["workers"] == {} and roster.owners() == {}
