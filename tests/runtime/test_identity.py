"""One platform identity: its own RSI heard back through an RSU is not a received event."""

from __future__ import annotations

from v2xcloud.model import RoadEvent, Rsi
from v2xcloud.runtime import PLATFORM_RSU_ID, Runtime
from v2xcloud.runtime.identity import detector_announcer, from_platform
from v2xcloud.twin.testing import TEST_FRAME


def _rsi(rsu_id: str, event_id: int) -> Rsi:
    lat, lon = (float(v) for v in TEST_FRAME.to_wgs84(0.0, 50.0))
    event = RoadEvent(
        event_id=event_id,
        event_type=501,
        source="rsi",
        kind="works",
        lat_deg=lat,
        lon_deg=lon,
        radius_m=20.0,
    )
    return Rsi(
        msg_count=1,
        rsu_id=rsu_id,
        ref_lat_deg=lat,
        ref_lon_deg=lon,
        timestamp_ms=0,
        events=(event,),
    )


def test_own_broadcast_heard_back_is_not_a_received_event() -> None:
    runtime = Runtime(frame=TEST_FRAME, detectors=())
    runtime.ingest(_rsi(PLATFORM_RSU_ID, 7), received_at_ms=0, source="rsu-echo")
    runtime.ingest(_rsi("0011223344556677", 9), received_at_ms=0, source="rsu")
    runtime.tick(0)
    assert [e.event_id for e in runtime.events.received.values()] == [9]


def test_detector_sub_ids_belong_to_the_one_identity() -> None:
    assert b"v2xcloud".hex() == PLATFORM_RSU_ID and len(PLATFORM_RSU_ID) == 16
    assert from_platform(PLATFORM_RSU_ID) and from_platform(detector_announcer("fog"))
    assert not from_platform("0011223344556677") and not from_platform(PLATFORM_RSU_ID[:-1])
