"""Every isolation boundary of the runtime logs the exception once and counts it: an app, an
event detector, an advisory sink and a delivery sink that raise; the tick carries on."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from v2xcloud.apps import ForwardCollisionWarning
from v2xcloud.model import Advisory, RoadEvent
from v2xcloud.runtime import (
    CallbackSink,
    Delivery,
    InProcessBus,
    ListDeliverySink,
    ListSink,
    ListSource,
    Rsu,
    Runtime,
    TimedMessage,
)
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

T0 = 1_700_000_000_000


def _approach(runtime: Runtime, seconds: float) -> list[Advisory]:
    """An ego at 15 m/s closing on a standing lead: FCW from about 1.5 s on."""
    items = []
    for k in range(int(seconds * 10) + 1):
        t = T0 + 100 * k
        ego = bsm_at("ego", x_m=0, y_m=1.5 * k, t_ms=t, speed_mps=15.0)
        lead = bsm_at("lead", x_m=0, y_m=64.5, t_ms=t, speed_mps=0.0)
        items.append(TimedMessage(received_at_ms=t + 15, source="ego", message=ego))
        items.append(TimedMessage(received_at_ms=t + 25, source="lead", message=lead))
    return runtime.replay(
        ListSource(items), start_ms=T0, end_ms=T0 + int(seconds * 1000), tick_ms=100
    )


class BrokenApp:
    code = "BROKEN"

    def on_tick(self, view: object, now_ms: int) -> list[Advisory]:
        raise ZeroDivisionError("app bug")


class BrokenDetector:
    kind = "broken_kind"

    def on_tick(self, view: object, now_ms: int) -> list[RoadEvent]:
        raise KeyError("detector bug")


class BrokenSink:
    def emit(self, advisories: Sequence[Advisory], *, now_ms: int) -> None:
        raise OSError("sink down")


class BrokenDeliverySink:
    name = "rsu-downlink"

    def deliver(self, deliveries: Sequence[Delivery], *, now_ms: int) -> None:
        raise ConnectionError("broker gone")


def _ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if hasattr(r, "boundary")]


def test_each_boundary_is_counted_in_stats_and_logged_once_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good_sink, good_deliveries = ListSink(), ListDeliverySink()
    runtime = Runtime(
        frame=TEST_FRAME,
        apps=[BrokenApp(), ForwardCollisionWarning()],
        detectors=[BrokenDetector()],
        sinks=[BrokenSink(), good_sink],
        delivery_sinks=[BrokenDeliverySink(), good_deliveries],
        rsus=[
            Rsu(
                rsu_id="r1",
                lat_deg=TEST_FRAME.origin_lat_deg,
                lon_deg=TEST_FRAME.origin_lon_deg,
                range_m=500.0,
            )
        ],
    )
    with caplog.at_level(logging.ERROR, logger="v2xcloud"):
        out = _approach(runtime, 3.0)
    # everything downstream of the broken parts still ran
    assert out and good_sink.of_app("FCW") == out and good_deliveries.deliveries
    delivery_ticks = len({d.at_ms for d in good_deliveries.deliveries})
    errors = runtime.stats()["errors"]
    assert errors["app:BROKEN"] == 31  # every tick
    assert errors["detector:broken_kind"] == 4  # 1 Hz rounds over 3 s: 0, 1, 2, 3 s
    assert errors["sink:BrokenSink"] == 31
    assert errors["delivery_sink:rsu-downlink"] == delivery_ticks
    last = runtime.stats()["last_errors"]
    assert last["app:BROKEN"] == "ZeroDivisionError: app bug"
    assert last["delivery_sink:rsu-downlink"] == "ConnectionError: broker gone"
    records = _ours(caplog)
    assert sorted(r.boundary for r in records) == [  # type: ignore[attr-defined]
        "app:BROKEN",
        "delivery_sink:rsu-downlink",
        "detector:broken_kind",
        "sink:BrokenSink",
    ]  # once each, though each failed many times
    assert all(r.exc_info is not None and r.levelno == logging.ERROR for r in records)
    by_name = {r.boundary: r for r in records}  # type: ignore[attr-defined]
    assert by_name["app:BROKEN"].name == "v2xcloud.runtime.host"
    assert by_name["detector:broken_kind"].name == "v2xcloud.runtime.events"
    assert by_name["sink:BrokenSink"].name == "v2xcloud.runtime.core"
    assert by_name["delivery_sink:rsu-downlink"].name == "v2xcloud.runtime.delivery"
    # the older per-part counters agree
    assert runtime.stats()["app_errors"] == {"BROKEN": 31}
    assert runtime.stats()["events"]["detector_errors"] == {"broken_kind": 4}


def test_a_healthy_runtime_reports_no_errors(caplog: pytest.LogCaptureFixture) -> None:
    runtime = Runtime(frame=TEST_FRAME, apps=[ForwardCollisionWarning()], detectors=())
    runtime.add_sink(CallbackSink(lambda batch, now: None))
    with caplog.at_level(logging.WARNING, logger="v2xcloud"):
        assert _approach(runtime, 3.0)
    stats = runtime.stats()
    assert {k for k in stats["errors"] if not k.startswith("codec:")} == set()
    assert _ours(caplog) == []


def test_bus_handler_failure_is_logged_once_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = InProcessBus()
    seen: list[str] = []
    bus.subscribe("advisory.>", lambda topic, _: seen.append(topic))
    bus.subscribe("advisory.FCW", lambda topic, _: 1 / 0)
    with caplog.at_level(logging.ERROR, logger="v2xcloud"):
        for _ in range(3):
            bus.publish("advisory.FCW", None)
    assert seen == ["advisory.FCW"] * 3 and bus.errors == 3
    assert bus.failures.counts() == {"bus:advisory.FCW": 3}
    (record,) = _ours(caplog)
    assert record.exc_info is not None and record.name == "v2xcloud.runtime.bus"


def test_an_event_the_wire_cannot_carry_is_delivered_without_rsi_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from v2xcloud.codec import MessageSet
    from v2xcloud.failures import FailureLog
    from v2xcloud.runtime.rsi_out import with_rsi

    event = RoadEvent(event_id=1, event_type=70_000, source="detection")  # type 0..65535
    delivery = Delivery(key="e", reason="new", at_ms=T0, payload=event, participants=("a",))
    failures = FailureLog()
    with caplog.at_level(logging.WARNING, logger="v2xcloud"):
        out = [
            with_rsi(
                delivery,
                message_set=MessageSet.CSAE2020,
                ref_lat_deg=TEST_FRAME.origin_lat_deg,
                ref_lon_deg=TEST_FRAME.origin_lon_deg,
                failures=failures,
            )
            for _ in range(2)
        ]
    assert all(d.rsi_uper is None and d.rsi_error and "eventType" in d.rsi_error for d in out)
    assert failures.counts() == {"rsi_out:encode": 2}
    (record,) = _ours(caplog)
    assert record.levelno == logging.WARNING and record.name == "v2xcloud.runtime.rsi_out"
