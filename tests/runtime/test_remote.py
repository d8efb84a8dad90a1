"""The centre's intake of the workers' road events: each tile's worker numbers its own events
(RSI ``rteId`` 1..255 is unique per sender), so two tiles' events with the same id are two
events in the centre's one view, and a worker's next report of an event updates it."""

from __future__ import annotations

from v2xcloud.model import RoadEvent
from v2xcloud.runtime import Runtime
from v2xcloud.runtime.remote import RemoteResults
from v2xcloud.twin.testing import TEST_FRAME


def _stopped(event_id: int, lat: float, start_ms: int, end_ms: int) -> RoadEvent:
    return RoadEvent(
        event_id=event_id,
        event_type=902,
        source="detection",
        kind="stopped_vehicle",
        lat_deg=lat,
        lon_deg=112.97,
        start_ms=start_ms,
        end_ms=end_ms,
    )


def test_two_tiles_events_with_one_id_are_two_events_at_the_centre() -> None:
    remote = RemoteResults()
    runtime = Runtime(frame=TEST_FRAME, apps=[remote], detectors=())
    remote.put_event(_stopped(17, 28.19, 0, 5_000), "evt.default.1321a.stopped_vehicle")
    remote.put_event(_stopped(17, 28.20, 100, 5_000), "evt.default.1321b.stopped_vehicle")
    remote.feed(runtime, 1_000)
    runtime.tick(1_000)
    assert sorted(e.lat_deg for e in runtime.active_events()) == [28.19, 28.20]
    # the next round's report of one of them updates it, the other stays
    remote.put_event(_stopped(17, 28.191, 0, 6_000), "evt.default.1321a.stopped_vehicle")
    remote.feed(runtime, 2_000)
    runtime.tick(2_000)
    assert sorted(e.lat_deg for e in runtime.active_events()) == [28.191, 28.20]
