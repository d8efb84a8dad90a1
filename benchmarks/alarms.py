"""The alarm feed's cost per round, beside the tick it must never slow.

One ``AlarmFeed.poll`` (road events synced, device faults from the device listing, queued
misbehaviour reports, changes written to DuckDB) for a district of D devices and E road events,
in three rounds: the first (every alarm raised and written), a steady one (nothing changed:
nothing rewritten) and one where a tenth of the devices went offline. Printed per round in ms,
with the share of a 100 ms tick (10 Hz) it would take if it ran on the tick thread (it runs on
its own, once a second). Also ``AlarmBook.raise_alarm`` per call for a repeat (dedupe) and a
new alarm. Run: ``.venv/bin/python benchmarks/alarms.py``.
"""

from __future__ import annotations

import time
from typing import Any

from v2xcloud.api.alarm_feed import AlarmFeed
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.model import AlarmSeverity, AlarmSource, RoadEvent
from v2xcloud.runtime.alarms import AlarmBook
from v2xcloud.store import DuckDbStore
from v2xcloud.store.alarms import AlarmTable

T0 = 1_700_000_000_000
DEVICES = 2000
EVENTS = 200


class Live(ScriptedLive):
    events: list[RoadEvent]

    def road_events(self) -> list[RoadEvent]:
        return self.events


class Directory:
    def __init__(self) -> None:
        self.offline: set[str] = set()

    def devices(self, now_ms: int) -> list[dict[str, Any]]:
        return [
            {
                "device_id": f"RSU-{i}",
                "kind": "rsu",
                "tenant": "t",
                "state": "enabled",
                "lat_deg": 28.0,
                "lon_deg": 112.0,
                "health": {
                    "online": f"RSU-{i}" not in self.offline,
                    "last_seen_ms": now_ms - 1000,
                    "dead_letters": {"malformed": 1},
                    "downlink": {"link_abnormal": False},
                },
            }
            for i in range(DEVICES)
        ]

    def tenant_of(self, device_id: str) -> str | None:
        return "t"


def _timed(fn: Any) -> float:
    began = time.perf_counter()
    fn()
    return (time.perf_counter() - began) * 1000


def main() -> None:
    live = Live(start_ms=T0)
    live.events = [
        RoadEvent(event_id=i % 256, event_type=901, source=f"rsu-{i}", kind="stopped_vehicle")
        for i in range(EVENTS)
    ]
    directory = Directory()
    book = AlarmBook(repository=AlarmTable(DuckDbStore(data_dir=None)))
    feed = AlarmFeed(book, live, directory)  # type: ignore[arg-type]
    directory.offline = {f"RSU-{i}" for i in range(0, DEVICES, 10)}
    first = _timed(lambda: feed.poll(T0))
    steady = _timed(lambda: feed.poll(T0 + 1000))
    directory.offline = {f"RSU-{i}" for i in range(5, DEVICES, 10)}
    changed = _timed(lambda: feed.poll(T0 + 2000))
    print(f"alarm feed round, {DEVICES} devices, {EVENTS} road events, DuckDB history:")
    for name, ms in (("first (all raised)", first), ("steady", steady), ("10 % changed", changed)):
        print(
            f"  {name:20s} {ms:8.1f} ms  = {ms / 100:.2f} of a 100 ms tick (runs off the tick, 1/s)"
        )
    n = 20_000
    repeat = _timed(lambda: [book.raise_alarm(source=AlarmSource.EV, subject="V", kind="level3",
                                              severity=AlarmSeverity.CRITICAL, summary="x",
                                              at_ms=T0 + k) for k in range(n)])  # fmt: skip
    fresh = _timed(lambda: [book.raise_alarm(source=AlarmSource.EV, subject=f"V{k}", kind="level3",
                                             severity=AlarmSeverity.CRITICAL, summary="x",
                                             at_ms=T0 + k) for k in range(n)])  # fmt: skip
    print(f"raise_alarm: repeat (dedupe) {repeat * 1000 / n:.1f} us, new {fresh * 1000 / n:.1f} us "
          f"(ratio {fresh / repeat:.2f}; the book at its 5,000 bound: {book.evicted} closed to make room)")  # fmt: skip


if __name__ == "__main__":
    main()
