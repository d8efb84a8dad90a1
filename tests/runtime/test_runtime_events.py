"""The runtime's road events and dissemination: detectors at their rate, the live event set,
deliveries (with RSI) to the concerned participants and RSUs, the API's view of the events."""

from __future__ import annotations

from v2xcloud.api.runtime_live import RuntimeLive
from v2xcloud.apps import V2I_APPS, V2V_APPS, default_apps
from v2xcloud.apps.events import EventBook
from v2xcloud.codec import Decoded, MessageSet, decode
from v2xcloud.model import Advisory, AdvisoryLevel, RoadEvent, Rsi
from v2xcloud.runtime import ListDeliverySink, Rsu, Runtime
from v2xcloud.twin.testing import TEST_FRAME, bsm_at


def _rsu(rid: str, x_m: float, y_m: float) -> Rsu:
    lat, lon = TEST_FRAME.to_wgs84(x_m, y_m)
    return Rsu(rsu_id=rid, lat_deg=float(lat), lon_deg=float(lon), range_m=200.0)


def _stalled_car_scene(runtime: Runtime, seconds: int) -> None:
    """A car standing at y = 200 m (no map, no light to explain it), a follower approaching
    it from y = 0 at 5 m/s and a car driving away from it further north."""
    for k in range(seconds * 10 + 1):
        t = 100 * k
        runtime.ingest(bsm_at("stalled", x_m=0, y_m=200, t_ms=t), received_at_ms=t, source="s")
        follower = bsm_at("follower", x_m=0, y_m=0.5 * k, t_ms=t, speed_mps=5.0)
        runtime.ingest(follower, received_at_ms=t, source="f")
        away = bsm_at("away", x_m=0, y_m=300 + 0.5 * k, t_ms=t, speed_mps=5.0)
        runtime.ingest(away, received_at_ms=t, source="a")
        runtime.tick(t)


def test_default_apps_are_the_v2v_and_the_v2i_apps() -> None:
    codes = [app.code for app in default_apps()]
    assert codes == [a.code for a in (*V2V_APPS, *V2I_APPS)]
    assert {"RLVW", "GLOSA", "SLW", "IVS", "HLW", "TJW", "FCW"} <= set(codes)


def test_stalled_car_becomes_a_live_event_delivered_with_its_rsi() -> None:
    sink = ListDeliverySink()
    runtime = Runtime(
        frame=TEST_FRAME, delivery_sinks=[sink], rsus=[_rsu("near", 0, 150), _rsu("far", 0, 5000)]
    )
    _stalled_car_scene(runtime, 25)
    (event,) = runtime.active_events()
    assert (event.kind, event.source) == ("stopped_vehicle", "detection")
    assert event.start_ms == 0 and event.end_ms is not None and event.end_ms > 25_000
    stats = runtime.stats()["events"]
    assert stats["detected"] == 1 and stats["detected_by_kind"] == {"stopped_vehicle": 1}
    events = [d for d in sink.deliveries if isinstance(d.payload, RoadEvent)]
    first = events[0]
    assert first.reason == "new" and first.at_ms == 20_000  # detected on a 1 Hz round
    # within its radius or heading for it; not the car driving away from it
    assert first.participants == ("follower", "stalled") and first.rsus == ("near",)
    assert first.rsi_uper is not None and first.rsi_json is not None
    decoded = decode(first.rsi_uper, message_set=MessageSet.CSAE2020, received_at_ms=20_000)
    assert isinstance(decoded, Decoded)
    rsi = decoded.to_model()
    assert isinstance(rsi, Rsi) and rsi.events[0].event_type == event.event_type
    assert runtime.stats()["deliveries"]["new"] >= 1
    # fed back into the scene: HLW warns the follower about the stalled car ahead
    hlw = [d for d in sink.deliveries if isinstance(d.payload, Advisory) and d.payload.app == "HLW"]
    assert hlw and {d.payload.ego_id for d in hlw} == {"follower"}


def test_detectors_run_at_their_rate_and_a_failing_one_is_counted() -> None:
    calls: list[int] = []

    class Counting:
        kind = "counting"

        def on_tick(self, view: object, now_ms: int) -> list[RoadEvent]:
            calls.append(now_ms)
            return []

    class Broken:
        kind = "broken"

        def on_tick(self, view: object, now_ms: int) -> list[RoadEvent]:
            raise RuntimeError("detector bug")

    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=[Broken(), Counting()])
    for t in range(0, 3001, 100):
        runtime.tick(t)
    assert calls == [0, 1000, 2000, 3000]
    assert runtime.stats()["events"]["detector_errors"] == {"broken": 4}
    fast = Runtime(frame=TEST_FRAME, apps=[], detectors=[Counting()], detect_every_ms=500)
    calls.clear()
    for t in range(0, 1001, 100):
        fast.tick(t)
    assert calls == [0, 500, 1000]


def test_detected_event_ends_and_its_delivery_expires() -> None:
    reports: dict[int, list[RoadEvent]] = {}

    class Scripted:
        kind = "scripted"

        def on_tick(self, view: object, now_ms: int) -> list[RoadEvent]:
            return reports.get(now_ms, [])

    def event(end_ms: int) -> RoadEvent:
        lat, lon = TEST_FRAME.to_wgs84(0, 100)
        return RoadEvent(
            event_id=3,
            event_type=902,
            source="detection",
            kind="scripted",
            lat_deg=float(lat),
            lon_deg=float(lon),
            start_ms=0,
            end_ms=end_ms,
        )

    reports[0], reports[1000], reports[2000] = [event(2000)], [event(3000)], [event(1500)]
    sink = ListDeliverySink()
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=[Scripted()], delivery_sinks=[sink])
    runtime.ingest(bsm_at("v", x_m=0, y_m=0, t_ms=0, speed_mps=5.0), received_at_ms=0, source="v")
    runtime.tick(0)
    assert [e.end_ms for e in runtime.active_events()] == [2000]
    runtime.tick(1000)
    assert [e.end_ms for e in runtime.active_events()] == [3000]  # updated
    runtime.tick(2000)
    assert runtime.active_events() == []  # reported ended
    assert runtime.stats()["events"]["lifecycle"]["ended"] == 1
    runtime.tick(3000)
    reasons = [d.reason for d in sink.deliveries if isinstance(d.payload, RoadEvent)]
    assert reasons[0] == "new" and reasons[-1] == "expired"
    assert all(d.participants == ("v",) for d in sink.deliveries if d.reason == "new")


def test_received_rsi_event_is_live_and_sent_to_participants_only() -> None:
    sink = ListDeliverySink()
    runtime = Runtime(
        frame=TEST_FRAME, detectors=(), delivery_sinks=[sink], rsus=[_rsu("near", 0, 50)]
    )
    live = RuntimeLive(runtime)
    lat, lon = TEST_FRAME.to_wgs84(0, 150)
    works = RoadEvent(
        event_id=9,
        event_type=501,
        source="rsi",
        kind="works",
        lat_deg=float(lat),
        lon_deg=float(lon),
        radius_m=20.0,
    )
    rsi = Rsi(
        msg_count=1,
        rsu_id="0011223344556677",
        ref_lat_deg=float(lat),
        ref_lon_deg=float(lon),
        timestamp_ms=0,
        events=(works,),
    )
    runtime.ingest(rsi, received_at_ms=0, source="rsu")
    runtime.ingest(bsm_at("v", x_m=0, y_m=0, t_ms=0, speed_mps=10.0), received_at_ms=0, source="v")
    runtime.tick(0)
    assert runtime.active_events() == [works] and live.road_events() == [works]
    assert runtime.stats()["events"]["received"] == 1
    (sent,) = [d for d in sink.deliveries if isinstance(d.payload, RoadEvent)]
    assert sent.participants == ("v",) and sent.rsus == ()
    hlw = [d.payload for d in sink.deliveries if isinstance(d.payload, Advisory)]
    assert [(a.app, a.level) for a in hlw] == [("HLW", AdvisoryLevel.WARNING)]


def test_without_sinks_or_rsus_nothing_is_disseminated() -> None:
    runtime = Runtime(frame=TEST_FRAME)
    _stalled_car_scene(runtime, 21)
    assert [e.kind for e in runtime.active_events()] == ["stopped_vehicle"]
    assert runtime.stats()["deliveries"] == {}


def test_detectors_share_one_id_pool_so_rsi_ids_never_collide() -> None:
    class Always:
        def __init__(self, kind: str) -> None:
            self.kind = kind
            self.book = EventBook(kind=kind, event_type=900)

        def on_tick(self, view: object, now_ms: int) -> list[RoadEvent]:
            self.book.seen(
                "x",
                now_ms,
                lat_deg=28.19,
                lon_deg=112.97,
                radius_m=5.0,
                confidence=0.9,
                description=self.kind,
            )
            return self.book.tick(now_ms)

    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=[Always("one"), Always("two")])
    runtime.tick(0)
    assert sorted(e.event_id for e in runtime.active_events()) == [1, 2]
