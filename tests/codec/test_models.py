"""Wire ⇄ SI model: scaling, "unavailable" → None, time resolution, rounding, range errors."""

from __future__ import annotations

import pytest

from v2xcloud.codec import (
    Decoded,
    DeploymentArea,
    MessageSet,
    Rejected,
    decode,
    encode,
    encode_model,
    encode_native,
)
from v2xcloud.errors import DecodeError, EncodeError
from v2xcloud.model import (
    Bsm,
    Connection,
    DropReason,
    IntersectionState,
    Lane,
    LightState,
    MapData,
    MapLink,
    MapNode,
    NodeId,
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
    PhaseState,
    RoadEvent,
    Rsi,
    Rsm,
    SignalPhase,
    Spat,
)
from v2xcloud.model.day2 import Psm, Ssm

S20 = MessageSet.CSAE2020
NOW_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z


def _bsm_json(**overrides: object) -> dict:
    bsm = {
        "msgCnt": 1,
        "id": "0a0b0c0d0e0f1011",
        "secMark": 59_900,
        "pos": {"lat": 281000000, "long": 1129800000, "elevation": -4096},
        "transmission": "unavailable",
        "speed": 8191,
        "heading": 28800,
        "accelSet": {"long": 2001, "lat": 2001, "vert": -127, "yaw": 0},
        "brakes": {},
        "size": {"width": 0, "length": 0},
        "vehicleClass": {"classification": 10},
    }
    bsm.update(overrides)
    return {"bsmFrame": bsm}


def _decode_model(frame: bytes, **kwargs: object) -> object:
    result = decode(frame, message_set=S20, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Decoded), result
    return result.to_model()


def test_unavailable_values_become_none_and_sec_mark_resolves_to_the_nearest_minute() -> None:
    bsm = _decode_model(encode(_bsm_json(), message_set=S20), received_at_ms=NOW_MS)
    p = bsm.participant
    assert (p.speed_mps, p.heading_deg, p.elevation_m, p.accel_long_mps2, p.accel_vert_mps2) == (
        None,
    ) * 5
    assert (p.width_m, p.length_m) == (None, None)
    assert (
        p.id == "0a0b0c0d0e0f1011"
        and p.lat_deg == pytest.approx(28.1)
        and p.lon_deg == pytest.approx(112.98)
    )
    # NOW is 20.000 s into its minute; secMark 59.900 s lies 20.1 s earlier, in the previous minute
    assert p.timestamp_ms == NOW_MS - 20_000 - 100


def test_scaled_values_in_si_units() -> None:
    frame = encode(
        _bsm_json(
            speed=500, heading=7200, accelSet={"long": -350, "lat": 12, "vert": 10, "yaw": -150}
        ),
        message_set=S20,
    )
    p = _decode_model(frame).participant
    assert p.speed_mps == pytest.approx(10.0) and p.heading_deg == pytest.approx(90.0)
    assert p.accel_long_mps2 == pytest.approx(-3.5) and p.yaw_rate_dps == pytest.approx(-1.5)
    assert p.accel_vert_mps2 == pytest.approx(10 * 0.02 * 9.80665)


def _vehicle(**kw: object) -> ParticipantState:
    base = {
        "id": "0102030405060708",
        "kind": ParticipantKind.VEHICLE,
        "source": ParticipantSource.SIM,
        "timestamp_ms": NOW_MS,
        "lat_deg": 28.1,
        "lon_deg": 112.9,
        "elevation_m": 35.0,
        "speed_mps": 13.013,
        "heading_deg": 271.004,
        "length_m": 4.6,
        "width_m": 1.8,
        "accel_long_mps2": -2.0,
        "accel_lat_mps2": 0.0,
        "accel_vert_mps2": 0.0,
        "yaw_rate_dps": 1.0,
    }
    base.update(kw)
    return ParticipantState(**base)  # type: ignore[arg-type]


def test_bsm_model_round_trip_rounds_to_wire_resolution() -> None:
    msg = Bsm(msg_count=7, sec_mark_ms=None, participant=_vehicle())
    back = _decode_model(encode_model(msg, message_set=S20), received_at_ms=NOW_MS)
    assert back.participant.speed_mps == pytest.approx(13.02)  # 0.02 m/s steps
    assert back.participant.heading_deg == pytest.approx(271.0)  # 0.0125° steps
    assert back.participant.timestamp_ms == NOW_MS and back.sec_mark_ms == NOW_MS % 60_000


def test_out_of_range_value_names_the_field() -> None:
    msg = Bsm(msg_count=7, sec_mark_ms=None, participant=_vehicle(speed_mps=200.0))
    with pytest.raises(EncodeError) as info:
        encode_model(msg, message_set=S20)
    assert info.value.where == "$.speed"


@pytest.mark.parametrize(
    ("heading_deg", "sent_deg"), [(359.9995, 0.0), (360.0, 0.0), (-0.0125, 359.9875), (725.0, 5.0)]
)
def test_heading_wraps_around_the_circle(heading_deg: float, sent_deg: float) -> None:
    msg = Bsm(msg_count=7, sec_mark_ms=None, participant=_vehicle(heading_deg=heading_deg))
    back = _decode_model(encode_model(msg, message_set=S20), received_at_ms=NOW_MS)
    assert back.participant.heading_deg == pytest.approx(sent_deg)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_value_names_the_field(bad: float) -> None:
    msg = Bsm(msg_count=7, sec_mark_ms=None, participant=_vehicle(speed_mps=bad))
    with pytest.raises(EncodeError) as info:
        encode_model(msg, message_set=S20)
    assert info.value.where == "$.speed" and "not a number" in str(info.value)


def test_rsm_round_trip_keeps_participants_absolute() -> None:
    objects = (
        _vehicle(
            id="x/3", kind=ParticipantKind.PEDESTRIAN, lat_deg=28.1003, detection_source="video"
        ),
        _vehicle(id="x/4", lat_deg=29.5),  # far: absolute position-LatLon
    )
    msg = Rsm(
        msg_count=1,
        rsu_id="3132333435000000",
        ref_lat_deg=28.1,
        ref_lon_deg=112.9,
        participants=objects,
    )
    back = _decode_model(encode_model(msg, message_set=S20), received_at_ms=NOW_MS)
    assert [p.id for p in back.participants] == ["3132333435000000/3", "3132333435000000/4"]
    assert back.participants[0].kind is ParticipantKind.PEDESTRIAN
    assert [round(p.lat_deg, 7) for p in back.participants] == [28.1003, 29.5]


def test_spat_round_trip_in_seconds() -> None:
    phase = SignalPhase(
        phase_id=3,
        states=(PhaseState(light=LightState.PROTECTED_GREEN, start_s=0.0, likely_end_s=12.3),),
    )
    msg = Spat(
        msg_count=2,
        timestamp_ms=NOW_MS,
        intersections=(IntersectionState(node=NodeId(region=1, id=9), phases=(phase,)),),
    )
    back = _decode_model(encode_model(msg, message_set=S20), received_at_ms=NOW_MS)
    assert back.timestamp_ms == NOW_MS
    state = back.intersections[0].phases[0].states[0]
    assert state.light is LightState.PROTECTED_GREEN and state.likely_end_s == pytest.approx(12.3)


def _map(width_m: float | None, far_point: bool = False) -> MapData:
    end = (28.6, 112.9) if far_point else (28.1009, 112.9)
    lane = Lane(
        lane_id=1,
        width_m=3.5,
        points=((28.1005, 112.9), end),
        connections=(Connection(remote_node=NodeId(region=1, id=2), remote_lane_id=4, phase_id=3),),
    )
    link = MapLink(upstream_node=NodeId(region=1, id=2), width_m=width_m, lanes=(lane,))
    return MapData(
        msg_count=0,
        nodes=(MapNode(id=NodeId(region=1, id=1), lat_deg=28.1, lon_deg=112.9, in_links=(link,)),),
    )


def test_map_round_trip_and_2020_requires_link_width() -> None:
    back = _decode_model(encode_model(_map(7.0), message_set=S20))
    lane = back.nodes[0].in_links[0].lanes[0]
    assert lane.width_m == pytest.approx(3.5) and lane.points[1] == pytest.approx((28.1009, 112.9))
    assert lane.connections[0].remote_lane_id == 4
    with pytest.raises(EncodeError) as info:
        encode_model(_map(None), message_set=S20)
    assert info.value.where == "$.nodes[0].inLinks[0].linkWidth"
    assert encode_model(_map(None), message_set=MessageSet.CSAE2017)  # optional in 2017


def test_strict_area_rejects_far_reference_points_and_impossible_geometry() -> None:
    beijing = DeploymentArea(
        min_lat_deg=39.4, max_lat_deg=41.1, min_lon_deg=115.4, max_lon_deg=117.5
    )
    result = decode(encode_model(_map(7.0), message_set=S20), message_set=S20, area=beijing)
    assert not isinstance(result, Decoded) and result.reason is DropReason.IMPLAUSIBLE
    assert (
        "outside the deployment area" in result.detail
        and result.where == "$.mapFrame.nodes[0].refPos"
    )
    far = decode(
        encode_model(_map(7.0, far_point=True), message_set=S20),
        message_set=S20,
        area=DeploymentArea.parse("china"),
    )
    assert not isinstance(far, Decoded) and "km from its node" in far.detail


def test_rsi_round_trip() -> None:
    event = RoadEvent(
        event_id=5,
        event_type=401,
        source="police",
        lat_deg=28.1002,
        lon_deg=112.9,
        radius_m=50.0,
        priority=3,
        description="road works",
    )
    msg = Rsi(
        msg_count=4, rsu_id="3132333435000000", ref_lat_deg=28.1, ref_lon_deg=112.9, events=(event,)
    )
    back = _decode_model(encode_model(msg, message_set=S20))
    got = back.events[0]
    assert (got.event_type, got.source, got.priority, got.description) == (
        401,
        "police",
        3,
        "road works",
    )
    assert got.radius_m == pytest.approx(50.0) and got.lat_deg == pytest.approx(28.1002)


def test_day2_psm_and_ssm_models() -> None:
    psm = {
        "msgCnt": 1,
        "id": b"\x01" * 8,
        "secMark": 1000,
        "pos": {"lat": 281000000, "long": 1129000000},
        "posAccuracy": {"semiMajor": 20, "semiMinor": 20, "orientation": 0},
        "speed": 75,
        "heading": 14400,
        "overallRadius": 5,
        "non-motorData": {"basicType": "aPEDESTRIAN"},
    }
    model = _decode_model(
        encode_native(("msgFrameExt", {"messageId": 15, "value": psm}), message_set=S20),
        received_at_ms=NOW_MS,
    )
    assert isinstance(model, Psm) and model.participant.kind is ParticipantKind.PEDESTRIAN
    assert model.participant.speed_mps == pytest.approx(
        1.5
    ) and model.participant.heading_deg == pytest.approx(180.0)
    ptc = {
        "ptcType": "motor",
        "ptcId": 7,
        "source": "lidar",
        "secMark": 1000,
        "pos": {"offsetLL": ("position-LL1", {"lon": 100, "lat": -100})},
        "posConfidence": {"pos": "a1m"},
        "speed": 500,
        "heading": 0,
        "size": {"width": 180, "length": 460},
    }
    ssm = {
        "msgCnt": 2,
        "id": b"\x02" * 8,
        "equipmentType": "rsu",
        "secMark": 1000,
        "sensorPos": {"lat": 281000000, "long": 1129000000},
        "participants": [{"ptc": ptc}],
    }
    model = _decode_model(
        encode_native(("msgFrameExt", {"messageId": 12, "value": ssm}), message_set=S20),
        received_at_ms=NOW_MS,
    )
    assert isinstance(model, Ssm) and len(model.participants) == 1
    obj = model.participants[0]
    assert (
        obj.source is ParticipantSource.SSM
        and obj.lat_deg == pytest.approx(28.09999)
        and obj.width_m == pytest.approx(1.8)
    )


def test_unavailable_sender_position_is_rejected_not_invented() -> None:
    frame = encode(_bsm_json(pos={"lat": 900000001, "long": 1129800000}), message_set=S20)
    result = decode(frame, message_set=S20)
    assert not isinstance(result, Decoded)
    assert (result.reason, result.where) == (DropReason.NO_POSITION, "$.bsmFrame.pos")
    kept = decode(frame, message_set=S20, wire_only=True)  # the lossless path keeps it
    assert isinstance(kept, Decoded) and encode(kept.json, message_set=S20) == frame
    with pytest.raises(DecodeError, match="unavailable"):
        kept.to_model()


def test_unavailable_nested_absolute_position_is_rejected_by_decode() -> None:
    # judged once, in decode: a Decoded never fails later in to_model
    path = {
        "crumbData": [
            {
                "llvOffset": {"offsetLL": {"position-LatLon": {"lon": 1, "lat": 900000001}}},
                "timeOffset": 5,
            }
        ]
    }
    frame = encode(_bsm_json(safetyExt={"pathHistory": path}), message_set=S20)
    result = decode(frame, message_set=S20)
    assert isinstance(result, Rejected) and result.raw == frame
    assert result.reason is DropReason.NO_POSITION
    assert result.where == "$.bsmFrame.safetyExt.pathHistory.crumbData[0].llvOffset"
    kept = decode(frame, message_set=S20, wire_only=True)  # the lossless path keeps it
    assert isinstance(kept, Decoded)
    with pytest.raises(DecodeError) as info:
        kept.to_model()
    assert info.value.reason == "no_position"


def test_speed_limit_marked_unavailable_is_left_out() -> None:
    link = {
        "upstreamNodeId": {"id": 2},
        "linkWidth": 700,
        "lanes": [{"laneID": 1}],
        "speedLimits": [
            {"type": "vehicleMaxSpeed", "speed": 8191},
            {"type": "vehicleMinSpeed", "speed": 500},
        ],
    }
    node = {"id": {"id": 1}, "refPos": {"lat": 281000000, "long": 1129000000}, "inLinks": [link]}
    model = _decode_model(encode({"mapFrame": {"msgCnt": 1, "nodes": [node]}}, message_set=S20))
    assert [(s.kind, s.speed_mps) for s in model.nodes[0].in_links[0].speed_limits] == [
        ("vehicleMinSpeed", 10.0)
    ]
