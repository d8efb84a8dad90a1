"""SSM (``codec.sharing``): what sensor data sharing sends survives the wire, the published
reference schema reads it, and random reference values settle through the model."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from v2xcloud.codec import Decoded, MessageSet, decode, encode_model
from v2xcloud.codec.day2 import ssm_from_wire
from v2xcloud.codec.sharing import ssm_to_wire
from v2xcloud.errors import DecodeError, EncodeError
from v2xcloud.model import ParticipantKind, ParticipantSource, ParticipantState
from v2xcloud.model.day2 import Ssm

T0 = 1_767_254_412_345  # 2026-01-01T08:00:12.345Z
SET = MessageSet.CSAE2020


def _person(pid: str, lat: float, lon: float, kind: ParticipantKind) -> ParticipantState:
    return ParticipantState(
        id=pid, kind=kind, source=ParticipantSource.SSM, timestamp_ms=T0, lat_deg=lat,
        lon_deg=lon, speed_mps=12.34, heading_deg=91.25, length_m=4.5, width_m=1.8,
        detection_source="video",
    )  # fmt: skip


def full_ssm() -> Ssm:
    return Ssm(
        msg_count=5,
        sender_id="5000000000000001",
        equipment_type="rsu",
        timestamp_ms=T0,
        sensor_lat_deg=28.2,
        sensor_lon_deg=112.9,
        participants=(
            _person("5200000000000001/7", 28.2012345, 112.9023456, ParticipantKind.VEHICLE),
            _person("5200000000000001/9", 28.1998765, 112.8990001, ParticipantKind.PEDESTRIAN),
        ),
    )


def test_what_sds_sends_survives_the_wire() -> None:
    sent = full_ssm()
    result = decode(encode_model(sent, message_set=SET), message_set=SET, received_at_ms=T0)
    assert isinstance(result, Decoded), result
    got = result.to_model()
    assert isinstance(got, Ssm) and got.sender_id == sent.sender_id and got.msg_count == 5
    assert (got.equipment_type, got.timestamp_ms) == ("rsu", T0)
    for a, b in zip(got.participants, sent.participants, strict=True):
        assert a.id == f"{sent.sender_id}/{b.id.rpartition('/')[2]}"  # the sender's numbering
        assert a.kind == b.kind and a.detection_source == "video"
        assert abs(a.lat_deg - b.lat_deg) < 1e-7 and abs(a.lon_deg - b.lon_deg) < 1e-7
        assert abs((a.speed_mps or 0) - 12.34) <= 0.01 and abs((a.heading_deg or 0) - 91.25) < 0.01
        assert (a.length_m, a.width_m) == (4.5, 1.8)


def _reference_inner(ref: Any, raw: bytes) -> Any:
    alternative, content = ref.decode("MessageFrame", raw)
    assert alternative == "msgFrameExt" and content["messageId"] == 12
    assert ref.encode("MessageFrame", (alternative, content)) == raw
    return ref.decode("SensorSharingMsg", content["value"])


def test_the_reference_schema_reads_what_we_send(reference_specs: dict[str, Any]) -> None:
    ref = reference_specs["csae53-2020-day2"]
    sent = full_ssm()
    inner = _reference_inner(ref, encode_model(sent, message_set=SET))
    assert inner == ssm_to_wire(sent)
    assert [d["detectedPTCType"] for d in inner["participants"]] == ["car", "pedestrian"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"sender_id": "xyz"}, "$.id"),
        ({"equipment_type": "satellite"}, "$.equipmentType"),
        ({"participants": full_ssm().participants * 9}, "$.participants"),
    ],
)
def test_bad_models_name_the_field(change: dict[str, Any], where: str) -> None:
    import msgspec

    with pytest.raises(EncodeError) as info:
        encode_model(msgspec.structs.replace(full_ssm(), **change), message_set=SET)
    assert info.value.where == where


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
@given(data=st.data())
def test_random_reference_values_settle_through_the_model(
    data: st.DataObject,
    reference_specs: dict[str, Any],
    value_strategies: dict[str, Any],
) -> None:
    """Any valid reference SSM becomes a model (or a ``DecodeError`` for an unavailable
    position); the model goes back to the wire (at most 16 objects, or it says so), the
    reference accepts that, and the model is then a fixed point of model → wire → model."""
    ref = reference_specs["csae53-2020-day2"]
    value = data.draw(value_strategies["csae53-2020-day2"].for_type("SensorSharingMsg"))
    value = ref.decode("SensorSharingMsg", ref.encode("SensorSharingMsg", value))
    try:
        model = ssm_from_wire(value, reference_ms=T0)
    except DecodeError:
        return
    try:
        wire = ssm_to_wire(model)
    except EncodeError as exc:
        assume("at most 16" not in exc.detail)
        raise
    wire = ref.decode("SensorSharingMsg", ref.encode("SensorSharingMsg", wire))
    settled = ssm_from_wire(wire, reference_ms=T0)
    again = ref.decode("SensorSharingMsg", ref.encode("SensorSharingMsg", ssm_to_wire(settled)))
    assert ssm_from_wire(again, reference_ms=T0) == settled
