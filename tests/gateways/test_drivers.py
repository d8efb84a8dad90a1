"""Payload drivers: a golden payload per shape (values checked in SI), the same scene state
whichever shape a scene message came in, and malformed payloads dropped with what and where."""

from __future__ import annotations

import datetime as dt
import doctest
import math
from typing import Any

import msgspec
import pytest

from v2xcloud.codec import Decoded, MessageSet, decode, encode_model
from v2xcloud.errors import ConfigError
from v2xcloud.gateways import DeviceKind, InboundFrame, drivers
from v2xcloud.gateways.drivers import (
    DriverOptions,
    Dropped,
    Parsed,
    check_shape,
    detect_shape,
    parse,
)
from v2xcloud.model import (
    Bsm,
    DropReason,
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
    Rsm,
)
from v2xcloud.runtime import Runtime
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

NOW_MS = 1_764_650_000_000  # 2025-12-02 04:33:20 UTC
SET = MessageSet.CSAE2020
RSU_HEX = "0102030405060708"


def frame_of(
    payload: bytes,
    *,
    device: str = "rsu-1",
    kind: DeviceKind = DeviceKind.RSU,
    message_type: str | None = "RSM",
    received_at_ms: int = NOW_MS,
) -> InboundFrame:
    return InboundFrame(
        payload=payload,
        device_id=device,
        device_kind=kind,
        message_type=message_type,
        transport="inproc",
        channel=f"test/{message_type}",
        received_at_ms=received_at_ms,
    )


def parsed(result: Parsed | Dropped) -> Parsed:
    assert isinstance(result, Parsed), result
    return result


def dropped(result: Parsed | Dropped) -> Dropped:
    assert isinstance(result, Dropped), result
    return result


def _object(
    n: int, x_m: float, y_m: float, kind: ParticipantKind, speed: float
) -> ParticipantState:
    lat, lon = TEST_FRAME.to_wgs84(x_m, y_m)
    return ParticipantState(
        id=f"{RSU_HEX}/{n}",
        kind=kind,
        source=ParticipantSource.RSM,
        timestamp_ms=NOW_MS - 40,
        lat_deg=float(lat),
        lon_deg=float(lon),
        speed_mps=speed,
        heading_deg=33.5,
        length_m=4.6 if kind is ParticipantKind.VEHICLE else 0.5,
        width_m=1.8 if kind is ParticipantKind.VEHICLE else 0.5,
        detection_source="video",
        sender_id=RSU_HEX,
    )


def scene_rsm() -> Rsm:
    """An RSM with a car and a pedestrian, rounded to the wire by a UPER round trip."""
    lat, lon = TEST_FRAME.to_wgs84(0.0, 0.0)
    rsm = Rsm(
        msg_count=0,
        rsu_id=RSU_HEX,
        ref_lat_deg=float(lat),
        ref_lon_deg=float(lon),
        participants=(
            _object(1, 12.0, -30.0, ParticipantKind.VEHICLE, 13.9),
            _object(2, -4.0, 6.5, ParticipantKind.PEDESTRIAN, 1.3),
        ),
    )
    result = decode(encode_model(rsm, message_set=SET), message_set=SET, received_at_ms=NOW_MS)
    assert isinstance(result, Decoded)
    model = result.to_model()
    assert isinstance(model, Rsm)
    return model


def openv2x_rsm_json(rsm: Rsm) -> dict[str, Any]:
    """The OpenV2X standard RSM JSON of an ``Rsm``: CSAE names, wire units, absolute pos."""
    sources = ["unknown", "selfinfo", "v2x", "video", "microwaveRadar"]
    kinds = {ParticipantKind.VEHICLE: "motor", ParticipantKind.PEDESTRIAN: "pedestrian"}
    participants = [
        {
            "ptcType": kinds[p.kind],
            "ptcId": int(p.id.rpartition("/")[2]),
            "global_track_id": f"track-{p.id}",
            "source": sources.index(p.detection_source or "unknown"),
            "secMark": p.timestamp_ms % 60000,
            "pos": {"lat": round(p.lat_deg * 1e7), "lon": round(p.lon_deg * 1e7), "ele": None},
            "speed": round((p.speed_mps or 0) / 0.02),
            "heading": round((p.heading_deg or 0) / 0.0125),
            "lane": 2,
            "size": {
                "width": round((p.width_m or 0) * 100),
                "length": round((p.length_m or 0) * 100),
                "height": 0,
            },
        }
        for p in rsm.participants
    ]
    ref = {"lat": round(rsm.ref_lat_deg * 1e7), "lon": round(rsm.ref_lon_deg * 1e7), "ele": None}
    return {
        "name": "rsm",
        "id": rsm.rsu_id,
        "content": {"rsms": [{"refPos": ref, "participants": participants}]},
    }


# --- golden payloads per shape -------------------------------------------------------------


def test_uper_payload_gives_the_codec_model() -> None:
    rsm = scene_rsm()
    data = encode_model(rsm, message_set=SET)
    result = parsed(parse(frame_of(data), message_set=SET, shape="uper"))
    assert result.shape == "uper"
    assert result.models == (rsm,)
    car = result.models[0].participants[0]  # type: ignore[union-attr]
    assert car.speed_mps == pytest.approx(13.9, abs=0.01)
    assert car.heading_deg == pytest.approx(33.5, abs=0.0125)
    x, y = TEST_FRAME.to_local(car.lat_deg, car.lon_deg)
    assert (float(x), float(y)) == pytest.approx((12.0, -30.0), abs=0.05)


def test_hex_payload_gives_the_same_model_as_uper() -> None:
    rsm = scene_rsm()
    text = b"  " + encode_model(rsm, message_set=SET).hex().upper().encode() + b"\r\n"
    result = parsed(parse(frame_of(text), message_set=SET, shape="hex"))
    assert result.models == (rsm,)
    assert parsed(parse(frame_of(b"0x" + text.strip()), message_set=SET, shape="hex")).models


def test_csae_json_payload_gives_the_same_model_as_uper() -> None:
    rsm = scene_rsm()
    decoded = decode(encode_model(rsm, message_set=SET), message_set=SET, received_at_ms=NOW_MS)
    assert isinstance(decoded, Decoded)
    payload = msgspec.json.encode(decoded.json)
    result = parsed(parse(frame_of(payload), message_set=SET, shape="csae-json"))
    assert result.models == (rsm,)


def test_openv2x_rsm_json_in_wire_units_becomes_si() -> None:
    payload = {
        "name": "rsm",
        "id": "R328328",
        "content": {
            "rsms": [
                {
                    "refPos": {"lat": 319348466, "lon": 1188213963, "ele": 100},
                    "participants": [
                        {
                            "ptcType": "motor",
                            "ptcId": 17,
                            "source": 3,
                            "secMark": 19_950,
                            "pos": {"lat": 319353292, "lon": 1188217469, "ele": None},
                            "speed": 500,
                            "heading": 7200,
                            "lane": 2,
                            "size": {"width": 180, "length": 460, "height": 30},
                        },
                        {
                            "ptcType": 3,
                            "ptcId": 18,
                            "source": "lidar",
                            "secMark": 65535,
                            "pos": {"lat": 319350000, "lon": 1188210000},
                            "speed": 8191,
                            "heading": 28800,
                        },
                    ],
                }
            ]
        },
    }
    result = parsed(parse(frame_of(msgspec.json.encode(payload)), message_set=SET))
    assert result.shape == "openv2x-rsm"
    (rsm,) = result.models
    assert isinstance(rsm, Rsm)
    assert (rsm.rsu_id, rsm.ref_lat_deg, rsm.ref_lon_deg) == ("R328328", 31.9348466, 118.8213963)
    assert rsm.ref_elevation_m == pytest.approx(10.0)
    car, walker = rsm.participants
    assert car.id == "R328328/17" and car.kind is ParticipantKind.VEHICLE
    assert (car.lat_deg, car.lon_deg) == (31.9353292, 118.8217469)
    assert car.speed_mps == pytest.approx(10.0) and car.heading_deg == pytest.approx(90.0)
    assert (car.width_m, car.length_m, car.height_m) == pytest.approx((1.8, 4.6, 1.5))
    assert car.detection_source == "video" and car.sender_id == "R328328"
    # NOW_MS is 20 000 ms into its minute: secMark 19 950 is 50 ms before arrival
    assert car.timestamp_ms == NOW_MS - 50
    assert walker.kind is ParticipantKind.PEDESTRIAN and walker.detection_source == "lidar"
    assert walker.speed_mps is None and walker.heading_deg is None  # "unavailable" sentinels
    assert walker.timestamp_ms == NOW_MS  # secMark unavailable: the arrival time


def test_openv2x_dawnline_list_in_si_units() -> None:
    payload = [
        {
            "dev_pos": {"lat": 31.9348466, "lon": 118.8213963},
            "content": [
                {
                    "ptcType": "non-motor",
                    "ptcId": 4.0,
                    "global_track_id": "ab00000de",
                    "timeStamp": NOW_MS - 120,
                    "pos_lat": 31.9353292,
                    "pos_lon": 118.8217469,
                    "heading": 283.15,
                    "speed": -2.38,
                    "width": 0.6,
                    "length": 1.7,
                    "height": 1.2,
                    "lane": 2,
                    "source": 4,
                }
            ],
        }
    ]
    frame = frame_of(msgspec.json.encode(payload), device="R328328")
    (rsm,) = parsed(parse(frame, message_set=SET)).models
    assert isinstance(rsm, Rsm)
    (bike,) = rsm.participants
    assert bike.id == "R328328/ab00000de" and bike.kind is ParticipantKind.CYCLIST
    assert (bike.lat_deg, bike.lon_deg, bike.heading_deg) == (31.9353292, 118.8217469, 283.15)
    assert bike.speed_mps == pytest.approx(2.38) and bike.timestamp_ms == NOW_MS - 120
    assert bike.detection_source == "microwaveRadar"


def radar_frame(targets: list[dict[str, Any]], **top: Any) -> bytes:
    body = {
        "number": len(targets),
        "targets": targets,
        "deviceId": "N6W107HMBLD",
        "device_type": "rad",
        "data_class": "track",
        "timeStamp": "2025-12-02 12:33:19",
        **top,
    }
    return msgspec.json.encode(body)


def radar_target(target_id: int, target_type: int, lat: float, lon: float, **extra: Any) -> dict:
    return {
        "targetId": target_id,
        "targetType": target_type,
        "latitude": lat,
        "longitude": lon,
        "speed": -12.5,
        "headingAngle": 164.06,
        "acceleration": 0.69,
        "laneNo": 3,
        "targetLength": 4.5,
        "targetWidth": 1.8,
        "targetHeight": 1.5,
        "confidenceLevel": 100,
        "rcs": 3235230540,
        "height": 0.0,
        **extra,
    }


def test_radar_track_frame_becomes_participants_at_their_positions() -> None:
    payload = radar_frame(
        [
            radar_target(26219, 4, 39.07405763574003, 115.93972548198795),
            radar_target(26212, 1, 39.07496685046208, 115.93933403433506),
            radar_target(26215.0, 99, 39.074955208271426, 115.93927112018854),  # type: ignore[arg-type]
        ],
        lamp_latitude="39.075345",
        lamp_longitude="115.951464",
    )
    frame = frame_of(payload, device="R328328", kind=DeviceKind.RADAR, message_type="TRACK")
    result = parsed(parse(frame, message_set=SET))
    assert result.shape == "radar"
    (rsm,) = result.models
    assert isinstance(rsm, Rsm)
    assert (rsm.rsu_id, rsm.ref_lat_deg, rsm.ref_lon_deg) == ("R328328", 39.075345, 115.951464)
    car, walker, other = rsm.participants
    assert car.id == "R328328/26219" and car.kind is ParticipantKind.VEHICLE
    assert (car.lat_deg, car.lon_deg) == (39.07405763574003, 115.93972548198795)
    assert car.speed_mps == 12.5 and car.heading_deg == 164.06
    assert (car.length_m, car.width_m, car.height_m) == (4.5, 1.8, 1.5)
    assert car.accel_long_mps2 == 0.69 and car.detection_source == "microwaveRadar"
    assert walker.kind is ParticipantKind.PEDESTRIAN
    assert other.kind is ParticipantKind.UNKNOWN  # unknown target type: kept, not dropped
    assert other.id == "R328328/26215"  # an id written as 26215.0
    # 12:33:19 China Standard Time is 04:33:19 UTC
    utc = dt.datetime(2025, 12, 2, 4, 33, 19, tzinfo=dt.UTC)
    assert car.timestamp_ms == int(utc.timestamp() * 1000)


def test_radar_options_name_the_units_and_types() -> None:
    payload = radar_frame([radar_target(5, 2, 39.0, 116.0)], timeStamp=NOW_MS // 1000)
    frame = frame_of(payload, device="radar-9", kind=DeviceKind.RADAR, message_type="TRACK")
    options = DriverOptions(
        radar_kinds={2: ParticipantKind.VEHICLE}, radar_speed_scale=1 / 3.6, local_utc_offset_min=0
    )
    (rsm,) = parsed(parse(frame, message_set=SET, shape="radar", options=options)).models
    assert isinstance(rsm, Rsm)
    (target,) = rsm.participants
    assert target.kind is ParticipantKind.VEHICLE
    assert target.speed_mps == pytest.approx(12.5 / 3.6)
    assert target.timestamp_ms == NOW_MS // 1000 * 1000  # a number in seconds
    assert (rsm.ref_lat_deg, rsm.ref_lon_deg) == (39.0, 116.0)  # no device position: 1st target


@pytest.mark.parametrize(
    ("stamp", "utc"),
    [
        ("2025-12-02 12:33:19", "2025-12-02T04:33:19+00:00"),  # China Standard Time, no zone
        ("2025-12-02 12:33:19.250", "2025-12-02T04:33:19.250+00:00"),
        ("2025-12-02T12:33:19", "2025-12-02T04:33:19+00:00"),
        ("2025-12-02T04:33:19.5Z", "2025-12-02T04:33:19.500+00:00"),
        ("2025-12-01T23:33:19-05:00", "2025-12-02T04:33:19+00:00"),
        ("1764650000000", "2025-12-02T04:33:20+00:00"),  # UTC ms written as text
    ],
)
def test_radar_time_stamps(stamp: str, utc: str) -> None:
    payload = radar_frame([radar_target(1, 4, 39.0, 116.0)], timeStamp=stamp)
    frame = frame_of(payload, kind=DeviceKind.RADAR, message_type="TRACK")
    (rsm,) = parsed(parse(frame, message_set=SET)).models
    assert isinstance(rsm, Rsm)
    expected = dt.datetime.fromisoformat(utc)
    assert rsm.participants[0].timestamp_ms == round(expected.timestamp() * 1000)


def test_json_with_a_byte_order_mark_is_read() -> None:
    payload = b"\xef\xbb\xbf" + radar_frame([radar_target(1, 4, 39.0, 116.0)])
    frame = frame_of(payload, kind=DeviceKind.RADAR, message_type="TRACK")
    for shape in ("radar", None):
        assert len(parsed(parse(frame, message_set=SET, shape=shape)).models) == 1


def test_radar_frame_without_targets_is_valid_and_empty() -> None:
    frame = frame_of(radar_frame([]), kind=DeviceKind.RADAR, message_type="TRACK")
    assert parsed(parse(frame, message_set=SET)).models == ()


def test_radar_statistics_topics_are_dropped_as_unsupported() -> None:
    payload = radar_frame([radar_target(1, 4, 39.0, 116.0)])
    frame = frame_of(payload, kind=DeviceKind.RADAR, message_type="FLOW")
    assert dropped(parse(frame, message_set=SET)).reason is DropReason.UNSUPPORTED_MESSAGE


# --- the scene cannot tell the path ---------------------------------------------------------


def _scene_rows(payload: bytes, shape: str) -> list[tuple[Any, ...]]:
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=())
    message_type = "TRACK" if shape == "radar" else "RSM"
    frame = frame_of(payload, device=RSU_HEX, message_type=message_type)
    for model in parsed(parse(frame, message_set=SET, shape=shape)).models:
        runtime.ingest(model, received_at_ms=NOW_MS, source=RSU_HEX)
    view = runtime.scene.update(NOW_MS + 100)
    rows = []
    for pid in (f"{RSU_HEX}/1", f"{RSU_HEX}/2"):
        row = view.row_of(pid)
        assert row is not None, f"{pid} missing from the scene fed by {shape}"
        rows.append(
            (
                pid,
                int(view.kind[row]),
                round(float(view.x_m[row]), 3),
                round(float(view.y_m[row]), 3),
                round(float(view.speed_mps[row]), 3),
                round(float(view.heading_deg[row]), 3),
                int(view.timestamp_ms[row]),
                round(float(view.length_m[row]), 3),
            )
        )
    return rows


def radar_json(rsm: Rsm) -> dict[str, Any]:
    """The same perception as a radar track frame (targetType 4 car, 1 pedestrian; SI)."""
    types = {ParticipantKind.VEHICLE: 4, ParticipantKind.PEDESTRIAN: 1}
    (stamp,) = {p.timestamp_ms for p in rsm.participants}
    targets = [
        {
            "targetId": int(p.id.rpartition("/")[2]),
            "targetType": types[p.kind],
            "latitude": p.lat_deg,
            "longitude": p.lon_deg,
            "speed": -(p.speed_mps or 0.0),
            "headingAngle": p.heading_deg,
            "targetLength": p.length_m,
            "targetWidth": p.width_m,
        }
        for p in rsm.participants
    ]
    return {"timeStamp": stamp, "number": len(targets), "targets": targets}


def test_same_scene_state_from_uper_hex_csae_json_openv2x_json_and_radar() -> None:
    rsm = scene_rsm()
    data = encode_model(rsm, message_set=SET)
    decoded = decode(data, message_set=SET, received_at_ms=NOW_MS)
    assert isinstance(decoded, Decoded)
    payloads = {
        "uper": data,
        "hex": data.hex().encode(),
        "csae-json": msgspec.json.encode(decoded.json),
        "openv2x-rsm": msgspec.json.encode(openv2x_rsm_json(rsm)),
        "radar": msgspec.json.encode(radar_json(rsm)),
    }
    states = {shape: _scene_rows(payload, shape) for shape, payload in payloads.items()}
    # the car, reported at (12, -30) m, is extrapolated to the view's time along 33.5 degrees
    dx, dy = states["uper"][0][2] - 12.0, states["uper"][0][3] + 30.0
    assert 0.0 < math.hypot(dx, dy) < 13.9 * 0.15
    assert math.degrees(math.atan2(dx, dy)) == pytest.approx(33.5, abs=1.0)
    for shape in ("hex", "csae-json", "openv2x-rsm", "radar"):
        assert states[shape] == states["uper"], shape


def test_bsm_in_all_byte_shapes_is_one_participant() -> None:
    bsm = bsm_at("a1b2c3d4e5f60718", x_m=5.0, y_m=7.0, t_ms=NOW_MS - 20, speed_mps=8.0)
    data = encode_model(bsm, message_set=SET)
    decoded = decode(data, message_set=SET, received_at_ms=NOW_MS)
    assert isinstance(decoded, Decoded)
    models = {
        parsed(parse(frame_of(p, message_type="BSM"), message_set=SET)).models
        for p in (data, data.hex().encode(), msgspec.json.encode(decoded.json))
    }
    assert len(models) == 1
    (only,) = models.pop()
    assert isinstance(only, Bsm) and only.participant.id == "a1b2c3d4e5f60718"


# --- detection, drops and the registry ------------------------------------------------------


def test_detection_by_structure() -> None:
    rsm = scene_rsm()
    data = encode_model(rsm, message_set=SET)
    assert detect_shape(data) == "uper"
    assert detect_shape(b" " + data.hex().encode() + b"\n") == "hex"
    assert detect_shape(msgspec.json.encode(openv2x_rsm_json(rsm))) == "openv2x-rsm"
    assert detect_shape(radar_frame([])) == "radar"
    assert detect_shape(b'[{"dev_pos": {}, "content": []}]') == "openv2x-dawnline"
    assert detect_shape(b'{"bsmFrame": {}}') == "csae-json"
    assert detect_shape(b"\xef\xbb\xbf" + radar_frame([])) == "radar"  # a byte-order mark
    unknown = detect_shape(b'{"hello": 1}')
    assert isinstance(unknown, Dropped) and unknown.reason is DropReason.BAD_PAYLOAD
    # UPER bytes that start like JSON but are not JSON stay UPER
    assert detect_shape(b"[\x00\x81\x02") == "uper"


@pytest.mark.parametrize(
    ("shape", "payload", "reason", "where"),
    [
        ("auto", b"", DropReason.EMPTY, None),
        ("uper", b"\x00\x81", DropReason.MALFORMED, "$.bsmFrame.msgCnt"),
        ("hex", b"3c0a zz", DropReason.FRAMING, "byte 5"),
        ("hex", b"3c0", DropReason.FRAMING, "byte 3"),
        ("csae-json", b'{"bsmFrame": ', DropReason.BAD_PAYLOAD, "byte 13"),
        ("csae-json", b'{"nothing": 1}', DropReason.BAD_PAYLOAD, "$"),
        ("radar", b'\xef\xbb\xbf{"targets": x}', DropReason.BAD_PAYLOAD, "byte 15"),
        (
            "openv2x-rsm",
            b'{"content": {"rsms": [{"refPos": {"lat": 1}}]}}',
            DropReason.BAD_PAYLOAD,
            "$.content.rsms[0].refPos.lon",
        ),
        (
            "openv2x-rsm",
            b'{"content": {"rsms": [{"refPos": {"lat": 1, "lon": 2}, "participants": '
            b'[{"ptcType": "motor", "ptcId": 1, "secMark": 1, "pos": {"lat": 1, "lon": 2}, '
            b'"speed": 9000}]}]}}',
            DropReason.CONSTRAINT,
            "$.content.rsms[0].participants[0].speed",
        ),
        (
            "openv2x-rsm",
            b'{"content": {"rsms": [{"refPos": {"lat": 1, "lon": 2}, "participants": '
            b'[{"ptcType": "tram", "ptcId": 1, "secMark": 1, "pos": {"lat": 1, "lon": 2}}]}]}}',
            DropReason.BAD_PAYLOAD,
            "$.content.rsms[0].participants[0].ptcType",
        ),
        (
            "radar",
            b'{"targets": [{"targetId": 1, "latitude": "north", "longitude": 116}]}',
            DropReason.BAD_PAYLOAD,
            "$.targets[0].latitude",
        ),
        ("radar", b'{"number": 2, "targets": []}', DropReason.BAD_PAYLOAD, "$.number"),
        (
            "radar",
            b'{"timeStamp": "yesterday", "targets": []}',
            DropReason.BAD_PAYLOAD,
            "$.timeStamp",
        ),
        (
            "radar",
            b'{"targets": [{"targetId": true, "latitude": 1, "longitude": 2}]}',
            DropReason.BAD_PAYLOAD,
            "$.targets[0].targetId",
        ),
    ],
)
def test_malformed_payloads_are_dropped_naming_what_and_where(
    shape: str, payload: bytes, reason: DropReason, where: str | None
) -> None:
    message_type = "TRACK" if shape == "radar" else "RSM"
    frame = frame_of(payload, message_type=message_type)
    result = dropped(parse(frame, message_set=SET, shape=shape))
    assert result.reason is reason, result
    assert result.where == where, result
    letter = result.dead_letter(frame)
    assert letter.raw == payload and letter.reason is reason and letter.source == "rsu-1"
    assert letter.detail.startswith(result.shape)


def test_csae_json_out_of_range_is_a_constraint_drop_with_its_path() -> None:
    bsm = bsm_at("a1b2c3d4e5f60718", x_m=5.0, y_m=7.0, t_ms=NOW_MS, speed_mps=8.0)
    decoded = decode(encode_model(bsm, message_set=SET), message_set=SET, received_at_ms=NOW_MS)
    assert isinstance(decoded, Decoded)
    value = decoded.json
    value["bsmFrame"]["speed"] = 9000
    frame = frame_of(msgspec.json.encode(value), message_type="BSM")
    result = dropped(parse(frame, message_set=SET))
    assert (result.reason, result.where) == (DropReason.CONSTRAINT, "$.bsmFrame.speed")


def test_a_payload_of_another_type_than_its_topic_is_dropped() -> None:
    data = encode_model(scene_rsm(), message_set=SET)
    result = dropped(parse(frame_of(data, message_type="SPAT"), message_set=SET))
    assert result.reason is DropReason.BAD_PAYLOAD and "RSM" in result.detail


def test_unknown_shape_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="unknown vendor shape 'vendorx'"):
        check_shape("vendorx")
    with pytest.raises(ConfigError):
        parse(frame_of(b"\x00"), message_set=SET, shape="vendorx")
    check_shape("auto")
    check_shape(None)
    check_shape("")  # a registry record with no shape set: detect


def test_a_failing_driver_is_counted_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(frame: InboundFrame, **_: Any) -> Parsed | Dropped:
        raise RuntimeError("boom")

    monkeypatch.setitem(drivers.DRIVERS, "broken", broken)
    before = drivers.DRIVER_FAILURES.count("driver:broken")
    result = dropped(parse(frame_of(b"\x00"), message_set=SET, shape="broken"))
    assert result.reason is DropReason.INTERNAL_ERROR and "boom" in result.detail
    assert drivers.DRIVER_FAILURES.count("driver:broken") == before + 1


def test_module_examples_run() -> None:
    failures, tried = doctest.testmod(drivers)
    assert tried > 0 and failures == 0


def test_an_impossible_vendor_value_meets_the_one_validity_stage() -> None:
    """The drivers check shapes and wire ranges; whether a position or speed is possible is
    judged once, by the codec's validity rules the runtime runs on every model (no copy here)."""
    payload = radar_frame([radar_target(1, 4, 39.0, 116.0), radar_target(2, 4, 95.0, 116.0)])
    frame = frame_of(payload, device="radar-1", kind=DeviceKind.RADAR, message_type="TRACK")
    (rsm,) = parsed(parse(frame, message_set=SET)).models
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=())
    accepted = runtime.ingest(rsm, received_at_ms=NOW_MS, source="radar-1", raw=frame.payload)
    assert not accepted
    (letter,) = runtime.dead_letters.recent()
    assert letter.reason is DropReason.IMPLAUSIBLE and letter.raw == payload
    assert "radar-1/2" in letter.detail
