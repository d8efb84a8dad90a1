"""Every input is accounted for once: accepted (``messages_in``) or dropped under its one
``DropReason`` with its raw bytes, and the drops reach the history store after a run.

One case per validity rule of ``codec.plausibility``: frames for the rules a UPER frame can
break, models (with the vendor bytes they came from) for the rules the schema's ranges
already enforce on the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from v2xcloud.api.recorder import record_history
from v2xcloud.api.runtime_live import RuntimeLive
from v2xcloud.codec import CHINA, Decoded, MessageSet, decode, encode_model, encode_native
from v2xcloud.codec import rsm as rsm_codec
from v2xcloud.model import (
    Connection,
    DropReason,
    Lane,
    MapData,
    MapLink,
    MapNode,
    NodeId,
    ParticipantSource,
    Rsi,
    Rsm,
)
from v2xcloud.runtime import Runtime
from v2xcloud.store import HistoryStore, HistoryWriter
from v2xcloud.twin.testing import TEST_FRAME, bsm_at, state_at

S20 = MessageSet.CSAE2020
T0 = 1_700_000_000_000
UNAVAILABLE = {"lat": 900000001, "lon": 1129000000}


def _native(frame: bytes) -> tuple[str, dict[str, Any]]:
    result = decode(frame, message_set=S20, wire_only=True)
    assert isinstance(result, Decoded)
    alternative, content = result.value
    return alternative, content


def _bsm(speed_mps: float = 10.0) -> bytes:
    return encode_model(
        bsm_at("00000000000000b1", x_m=0, y_m=0, t_ms=T0, speed_mps=speed_mps), message_set=S20
    )


def _bsm_with(**changes: Any) -> bytes:
    _, content = _native(_bsm())
    return encode_native(("bsmFrame", {**content, **changes}), message_set=S20)


def _rsm(speed_mps: float = 5.0, *, ref_lat_deg: float = 28.19) -> bytes:
    obj = state_at("r/1", x_m=5, y_m=5, t_ms=T0, source=ParticipantSource.RSM)
    obj = msgspec.structs.replace(obj, speed_mps=speed_mps, lat_deg=ref_lat_deg + 0.0001)
    rsm = Rsm(
        msg_count=1,
        rsu_id="00000000000000a1",
        ref_lat_deg=ref_lat_deg,
        ref_lon_deg=112.97,
        participants=(obj,),
    )
    return rsm_codec.encode(rsm, message_set=S20)


def _rsm_object_with(**changes: Any) -> bytes:
    _, content = _native(_rsm())
    objects = [{**content["participants"][0], **changes}]
    return encode_native(("rsmFrame", {**content, "participants": objects}), message_set=S20)


def _rsm_off_the_earth() -> bytes:
    # reference point 0.0001° from the pole, object 0.84° north of it: lat 90.84
    _, content = _native(_rsm(ref_lat_deg=89.9999))
    obj = {**content["participants"][0]}
    obj["pos"] = {"offsetLL": ("position-LL6", {"lon": 0, "lat": 8388607})}
    return encode_native(("rsmFrame", {**content, "participants": [obj]}), message_set=S20)


def _map_model(*, lat_deg: float = 28.1, far_point: bool = False) -> MapData:
    end = (lat_deg + 0.5, 112.9) if far_point else (lat_deg + 0.0009, 112.9)
    lane = Lane(
        lane_id=1,
        width_m=3.5,
        points=((lat_deg + 0.0005, 112.9), end),
        connections=(Connection(remote_node=NodeId(region=1, id=2), remote_lane_id=4, phase_id=3),),
    )
    link = MapLink(upstream_node=NodeId(region=1, id=2), width_m=7.0, lanes=(lane,))
    node = MapNode(id=NodeId(region=1, id=1), lat_deg=lat_deg, lon_deg=112.9, in_links=(link,))
    return MapData(msg_count=0, nodes=(node,))


def _map_lane_point_unavailable() -> bytes:
    _, content = _native(encode_model(_map_model(), message_set=S20))
    node = content["nodes"][0]
    link = node["inLinks"][0]
    lane = link["lanes"][0]
    point = {"posOffset": {"offsetLL": ("position-LatLon", UNAVAILABLE)}}
    lane = {**lane, "points": [lane["points"][0], point]}
    node = {**node, "inLinks": [{**link, "lanes": [lane]}]}
    return encode_native(("mapFrame", {**content, "nodes": [node]}), message_set=S20)


def _psm(speed_raw: int) -> bytes:
    value = {
        "msgCnt": 1,
        "id": b"\x01" * 8,
        "secMark": 1000,
        "pos": {"lat": 281000000, "long": 1129000000, "elevation": 350},
        "posAccuracy": {"semiMajor": 20, "semiMinor": 20, "orientation": 0},
        "speed": speed_raw,
        "heading": 14400,
        "accelSet": {"long": 10, "lat": 0, "vert": 0, "yaw": 0},
        "overallRadius": 5,
        "non-motorData": {"basicType": "aPEDESTRIAN"},
    }
    return encode_native(("msgFrameExt", {"messageId": 15, "value": value}), message_set=S20)


def _rsi_outside_china() -> bytes:
    return encode_model(
        Rsi(msg_count=0, rsu_id="00000000000000a1", ref_lat_deg=48.85, ref_lon_deg=2.35),
        message_set=S20,
    )


#: name → (frame builder, reason, where, needs the deployment area)
FRAME_CASES: dict[str, tuple[Callable[[], bytes], DropReason, str, bool]] = {
    "bsm_160_mps": (lambda: _bsm(160.0), DropReason.IMPLAUSIBLE, "$.bsmFrame.speed", False),
    "rsm_object_160_mps": (
        lambda: _rsm(160.0),
        DropReason.IMPLAUSIBLE,
        "$.rsmFrame.participants[0].speed",
        False,
    ),
    "psm_160_mps": (lambda: _psm(8000), DropReason.IMPLAUSIBLE, "$.participant", False),
    "rsm_object_off_the_earth": (
        _rsm_off_the_earth,
        DropReason.IMPLAUSIBLE,
        "$.participants[0]",
        False,
    ),
    "bsm_position_unavailable": (
        lambda: _bsm_with(pos={"lat": 900000001, "long": 1129000000}),
        DropReason.NO_POSITION,
        "$.bsmFrame.pos",
        False,
    ),
    "bsm_path_crumb_unavailable": (
        lambda: _bsm_with(
            safetyExt={
                "pathHistory": {
                    "crumbData": [
                        {
                            "llvOffset": {"offsetLL": ("position-LatLon", UNAVAILABLE)},
                            "timeOffset": 5,
                        }
                    ]
                }
            }
        ),
        DropReason.NO_POSITION,
        "$.bsmFrame.safetyExt.pathHistory.crumbData[0].llvOffset",
        False,
    ),
    "rsm_object_position_unavailable": (
        lambda: _rsm_object_with(pos={"offsetLL": ("position-LatLon", UNAVAILABLE)}),
        DropReason.NO_POSITION,
        "$.rsmFrame.participants[0].pos",
        False,
    ),
    "map_lane_point_unavailable": (
        _map_lane_point_unavailable,
        DropReason.NO_POSITION,
        "$.mapFrame.nodes[0].inLinks[0].lanes[0].points[1]",
        False,
    ),
    "map_outside_area": (
        lambda: encode_model(_map_model(lat_deg=60.0), message_set=S20),
        DropReason.IMPLAUSIBLE,
        "$.mapFrame.nodes[0].refPos",
        True,
    ),
    "map_lane_point_too_far": (
        lambda: encode_model(_map_model(far_point=True), message_set=S20),
        DropReason.IMPLAUSIBLE,
        "$.mapFrame.nodes[0].inLinks[0].lanes[0].points[1]",
        True,
    ),
    "rsi_outside_area": (_rsi_outside_china, DropReason.IMPLAUSIBLE, "$.rsiFrame.refPos", True),
}

#: rules the wire's ranges already enforce: models from a vendor's JSON, with that JSON
MODEL_CASES: dict[str, dict[str, Any]] = {
    "latitude_nan": {"lat_deg": float("nan")},
    "longitude_500": {"lon_deg": 500.0},
    "speed_negative": {"speed_mps": -1.0},
    "heading_400": {"heading_deg": 400.0},
    "elevation_12_km": {"elevation_m": 12_000.0},
}


def _one_rejection(runtime: Runtime, raw: bytes, reason: DropReason, where: str) -> None:
    stats = runtime.stats()
    assert stats["dead_letters"] == {reason.value: 1}  # counted once, under its reason
    assert stats["messages_in"] == {}  # and not also as accepted
    (letter,) = runtime.dead_letters.recent()
    assert letter.raw == raw and letter.reason is reason and letter.where == where
    assert letter.source == "dev-1" and letter.received_at_ms == T0 and letter.detail


@pytest.mark.parametrize("case", sorted(FRAME_CASES))
def test_a_frame_breaking_a_rule_is_dropped_once_with_its_bytes(case: str) -> None:
    build, reason, where, needs_area = FRAME_CASES[case]
    raw = build()
    runtime = Runtime(frame=TEST_FRAME, apps=[], area=CHINA if needs_area else None)
    assert runtime.ingest_frame(raw, source="dev-1", received_at_ms=T0) is False
    runtime.tick(T0 + 100)
    _one_rejection(runtime, raw, reason, where)
    assert len(runtime.scene) == 0


def test_the_2017_map_on_a_2020_device_is_a_wrong_version(reference_dir: Path) -> None:
    from v2xcloud.codec import iter_capture_lines

    text = (reference_dir / "captures/csae53-2017-hisense-captures.txt").read_text("utf-8")
    raw = [f for _, fr in iter_capture_lines(text) for f in fr][-1].frame
    runtime = Runtime(frame=TEST_FRAME, apps=[])
    assert runtime.ingest_frame(raw, source="dev-1", received_at_ms=T0) is False
    _one_rejection(runtime, raw, DropReason.WRONG_VERSION, "byte 20")  # csae2020 stops there


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_a_model_breaking_a_rule_is_dropped_once_with_its_vendor_bytes(case: str) -> None:
    bsm = bsm_at("b1", x_m=0, y_m=0, t_ms=T0, speed_mps=10.0)
    bad = msgspec.structs.replace(
        bsm, participant=msgspec.structs.replace(bsm.participant, **MODEL_CASES[case])
    )
    raw = b'{"vendor": "json", "case": "' + case.encode() + b'"}'
    runtime = Runtime(frame=TEST_FRAME, apps=[])
    assert runtime.ingest(bad, received_at_ms=T0, source="dev-1", raw=raw) is False
    runtime.tick(T0 + 100)
    _one_rejection(runtime, raw, DropReason.IMPLAUSIBLE, "$.participant")


def test_valid_frames_at_the_limits_are_accepted_and_counted_once() -> None:
    runtime = Runtime(frame=TEST_FRAME, apps=[], area=CHINA)
    for raw in (_bsm(150.0), _rsm(150.0), encode_model(_map_model(), message_set=S20)):
        assert runtime.ingest_frame(raw, source="dev-1", received_at_ms=T0)
    runtime.tick(T0 + 100)
    stats = runtime.stats()
    assert stats["messages_in"] == {"Bsm": 1, "Rsm": 1, "MapData": 1}
    assert stats["dead_letters"] == {}
    # a valid PSM passes the validity stage: the person joins the scene (and VRU safe passage)
    assert runtime.ingest_frame(_psm(7500), source="dev-1", received_at_ms=T0)
    runtime.tick(T0 + 200)
    assert runtime.stats()["messages_in"]["Psm"] == 1
    assert runtime.stats()["dead_letters"] == {}


def test_upstream_stages_drop_through_the_runtime() -> None:
    from v2xcloud.model import DeadLetter

    runtime = Runtime(frame=TEST_FRAME, apps=[])
    seen: list[DeadLetter] = []
    runtime.add_dead_letter_sink(seen.extend)
    letter = DeadLetter(
        raw=b"\x00" * 3000,
        source="mqtt:rsu-9",
        received_at_ms=T0,
        reason=DropReason.OVERSIZE,
        detail="3000 bytes over the 2048-byte limit",
    )
    runtime.dead_letter(letter)
    runtime.tick(T0 + 100)
    runtime.tick(T0 + 200)  # handed over once, not again
    assert seen == [letter] and runtime.stats()["dead_letters"] == {"oversize": 1}


def test_every_drop_of_a_run_is_in_the_store(store: HistoryStore) -> None:
    """The running platform's wiring (RuntimeLive + record_history + HistoryWriter) writes
    each dead letter with its bytes, reason, source and where."""
    runtime = Runtime(frame=TEST_FRAME, apps=[], area=CHINA)
    live = RuntimeLive(runtime)
    expected = []
    with HistoryWriter(store, retention_interval_s=None) as writer:
        stop = record_history(live, writer)
        for k, case in enumerate(sorted(FRAME_CASES)):
            build, reason, where, _ = FRAME_CASES[case]
            raw = build()
            assert not runtime.ingest_frame(raw, source=f"dev-{k}", received_at_ms=T0 + k)
            expected.append((T0 + k, f"dev-{k}", reason, where, raw))
            runtime.tick(T0 + k)
        assert runtime.ingest_frame(_bsm(), source="good", received_at_ms=T0 + 99)
        runtime.tick(T0 + 100)
        writer.flush()
        stop()
    stored = store.dead_letters(start_ms=T0, end_ms=T0 + 100)
    got = sorted((d.received_at_ms, d.source, d.reason, d.where, d.raw) for d in stored)
    assert got == expected
    assert store.dead_letter_counts(start_ms=T0, end_ms=T0 + 100, by="source").get("good") is None
    assert runtime.stats()["messages_in"] == {"Bsm": 1}
