"""Runtime: ingest (models and UPER frames), tick, sinks, dead letters, stats, app isolation."""

from __future__ import annotations

import msgspec

from v2xcloud.apps import ForwardCollisionWarning
from v2xcloud.codec import MessageSet
from v2xcloud.codec import bsm as bsm_codec
from v2xcloud.model import Advisory
from v2xcloud.runtime import (
    CallbackSink,
    InProcessBus,
    ListSink,
    ListSource,
    ManualClock,
    Runtime,
    TimedFrame,
    TimedMessage,
)
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

T0 = 1_700_000_000_000


def _approach(runtime: Runtime, seconds: float) -> list[Advisory]:
    items = []
    for k in range(int(seconds * 10) + 1):
        t = T0 + 100 * k
        items.append(
            TimedMessage(
                received_at_ms=t + 15,
                source="ego",
                message=bsm_at("ego", x_m=0, y_m=1.5 * k, t_ms=t, speed_mps=15.0),
            )
        )
        items.append(
            TimedMessage(
                received_at_ms=t + 25,
                source="lead",
                message=bsm_at("lead", x_m=0, y_m=64.5, t_ms=t, speed_mps=0.0),
            )
        )
    return runtime.replay(
        ListSource(items), start_ms=T0, end_ms=T0 + int(seconds * 1000), tick_ms=100
    )


def test_replay_produces_fcw_to_the_sinks_with_stats() -> None:
    sink = ListSink()
    got: list[int] = []
    runtime = Runtime(frame=TEST_FRAME, apps=[ForwardCollisionWarning()], sinks=[sink])
    runtime.add_sink(CallbackSink(lambda batch, now: got.append(len(batch))))
    out = _approach(runtime, 3.0)
    assert out and sink.of_app("FCW") == out and sum(got) == len(out)
    stats = runtime.stats()
    assert stats["messages_in"]["Bsm"] == 60  # the last two arrive after the end
    assert stats["advisories_out"]["FCW"] == len(out)
    assert stats["ticks"] == 31 and stats["participants"] == 2
    latency = stats["latency_ms"]
    assert latency["p50"] is not None and 75 <= latency["p50"] < 200  # arrival → tick end
    assert runtime.active_advisories()


def test_ingest_frame_decodes_uper_and_dead_letters_garbage() -> None:
    runtime = Runtime(frame=TEST_FRAME, apps=[])
    raw = bsm_codec.encode(
        bsm_at("a1b2c3d4e5f60708", x_m=5, y_m=5, t_ms=T0, speed_mps=3.0),
        message_set=MessageSet.CSAE2020,
    )
    assert runtime.ingest_frame(raw, source="obu", received_at_ms=T0 + 10)
    assert not runtime.ingest_frame(b"\xff\x00\x01", source="obu", received_at_ms=T0 + 20)
    assert not runtime.ingest_frame(b"", source="obu", received_at_ms=T0 + 30)
    runtime.tick(T0 + 100)
    assert runtime.view is not None and len(runtime.view) == 1
    stats = runtime.stats()
    assert sum(stats["dead_letters"].values()) == 2
    assert "empty" in stats["dead_letters"]
    letters = runtime.dead_letters.recent()
    assert letters[0].raw == b"\xff\x00\x01" and letters[0].source == "obu"


def test_frames_in_a_list_source_are_decoded_on_replay() -> None:
    raw = bsm_codec.encode(
        bsm_at("0000000000000001", x_m=0, y_m=0, t_ms=T0), message_set=MessageSet.CSAE2020
    )
    runtime = Runtime(frame=TEST_FRAME, apps=[])
    runtime.replay(
        ListSource([TimedFrame(received_at_ms=T0 + 5, source="s", raw=raw)]),
        start_ms=T0,
        end_ms=T0 + 100,
    )
    assert runtime.stats()["participants"] == 1


def test_unsupported_message_is_dead_lettered_not_raised() -> None:
    runtime = Runtime(frame=TEST_FRAME, apps=[])
    runtime.ingest(object(), received_at_ms=1, source="x")  # type: ignore[arg-type]
    assert runtime.stats()["dead_letters"] == {"unsupported_message": 1}


def test_a_failing_app_is_counted_and_the_others_still_run() -> None:
    class Broken:
        code = "BROKEN"

        def on_tick(self, view: object, now_ms: int) -> list[Advisory]:
            raise RuntimeError("bug")

    runtime = Runtime(frame=TEST_FRAME, apps=[Broken(), ForwardCollisionWarning()])
    out = _approach(runtime, 3.0)
    assert out
    assert runtime.stats()["app_errors"] == {"BROKEN": 31}
    assert isinstance(runtime.host.last_error["BROKEN"], RuntimeError)


def test_manual_clock_and_bus() -> None:
    clock = ManualClock(T0)
    assert clock.advance(100) == T0 + 100
    bus = InProcessBus()
    seen: list[str] = []
    bus.subscribe("advisory.>", lambda topic, _: seen.append(topic))
    bus.subscribe("advisory.FCW", lambda topic, _: 1 / 0)
    assert bus.publish("advisory.FCW", None) == 2
    assert seen == ["advisory.FCW"] and bus.errors == 1


def test_impossible_reports_are_dead_lettered_once_and_never_counted_accepted() -> None:
    from v2xcloud.model import ParticipantSource, Rsm
    from v2xcloud.twin.testing import state_at

    runtime = Runtime(frame=TEST_FRAME, apps=[])
    good = bsm_at("ok", x_m=0, y_m=0, t_ms=T0, speed_mps=5.0)
    bad = msgspec.structs.replace(good.participant, id="bad", lat_deg=float("nan"))
    assert runtime.ingest(good, received_at_ms=T0, source="obu")
    assert not runtime.ingest(bad, received_at_ms=T0, source="obu", raw=b'{"lat": NaN}')
    fast = msgspec.structs.replace(good.participant, id="fast", speed_mps=900.0)
    assert not runtime.ingest(fast, received_at_ms=T0, source="obu")
    objects = (
        state_at("r/1", x_m=5, y_m=5, t_ms=T0, source=ParticipantSource.RSM),
        msgspec.structs.replace(state_at("r/2", x_m=5, y_m=5, t_ms=T0), lon_deg=500.0),
    )
    rsm = Rsm(msg_count=1, rsu_id="r", ref_lat_deg=28.19, ref_lon_deg=112.97, participants=objects)
    assert not runtime.ingest(rsm, received_at_ms=T0, source="rsu")  # one impossible object
    runtime.tick(T0 + 100)
    stats = runtime.stats()
    assert stats["dead_letters"] == {"implausible": 3}
    assert stats["messages_in"] == {"Bsm": 1} and stats["participants"] == 1
    first, second, third = runtime.dead_letters.recent()
    assert "nan" in first.detail and first.raw == b'{"lat": NaN}' and first.where == "$"
    assert "900.0 m/s" in second.detail and second.where == "$"
    assert third.where == "$.participants[1]" and "'r/2'" in third.detail


def test_frame_whose_model_cannot_be_built_is_dead_lettered_with_its_bytes() -> None:
    # valid on the wire, but a path crumb's absolute position is marked unavailable: the SI
    # model has no place for it, so decode rejects it (never a Decoded whose to_model raises)
    from v2xcloud.codec import Decoded, decode, encode_native

    raw = bsm_codec.encode(
        bsm_at("0000000000000002", x_m=0, y_m=0, t_ms=T0), message_set=MessageSet.CSAE2020
    )
    good = decode(raw, message_set=MessageSet.CSAE2020)
    assert isinstance(good, Decoded)
    unavailable = {"offsetLL": ("position-LatLon", {"lon": 1, "lat": 900000001})}
    crumbs = {"crumbData": [{"llvOffset": unavailable, "timeOffset": 5}]}
    content = {**good.value[1], "safetyExt": {"pathHistory": crumbs}}
    raw = encode_native(("bsmFrame", content), message_set=MessageSet.CSAE2020)
    runtime = Runtime(frame=TEST_FRAME, apps=[])
    assert not runtime.ingest_frame(raw, source="obu", received_at_ms=T0)
    assert runtime.stats()["dead_letters"] == {"no_position": 1}
    assert runtime.stats()["messages_in"] == {}
    letter = runtime.dead_letters.recent()[0]
    assert letter.raw == raw
    assert letter.where == "$.bsmFrame.safetyExt.pathHistory.crumbData[0].llvOffset"
