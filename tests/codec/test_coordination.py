"""VIR and RSC ⇄ ``Vir``/``Rsc`` (``codec.coordination``): every field both ways, what we send
decoded by the published reference schema, and random reference values through our models."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from v2xcloud.codec import Decoded, MessageSet, decode, encode_model
from v2xcloud.codec.coordination import rsc_from_wire, rsc_to_wire, vir_from_wire, vir_to_wire
from v2xcloud.errors import DecodeError, EncodeError
from v2xcloud.model.day2 import (
    ClearTheWayRequest,
    DriveRequest,
    LaneChangeRequest,
    LaneCoordination,
    LinkRef,
    PathPoint,
    Rsc,
    SignalPriorityRequest,
    VehicleCoordination,
    Vir,
)
from v2xcloud.model.map import NodeId
from v2xcloud.model.road import ReferencePath

T0 = 1_767_254_412_345  # 2026-01-01T08:00:12.345Z
SET = MessageSet.CSAE2020


def _n(i: int, region: int | None = None) -> NodeId:
    return NodeId(region=region, id=i)


def full_vir() -> Vir:
    link = LinkRef(upstream_node=_n(1), downstream_node=_n(2, 7), lanes=frozenset({2, 3}))
    return Vir(
        msg_count=3,
        sender_id="0102030405060708",
        timestamp_ms=T0,
        ref_lat_deg=31.2,
        ref_lon_deg=121.4,
        behavior=frozenset({"laneChangingToLeft", "slow-down"}),
        current=PathPoint(lat_deg=31.2001, lon_deg=121.4001, speed_mps=13.5, heading_deg=90.0),
        path=(
            PathPoint(lat_deg=31.2002, lon_deg=121.4003, speed_mps=13.0, time_s=2.0, link=link),
            PathPoint(lat_deg=31.21, lon_deg=121.41, speed_mps=12.0, time_s=655.35),
        ),
        requests=(
            DriveRequest(
                request_id=1,
                priority=5,
                life_time_s=5.0,
                target_vehicle_id="1112131415161718",
                lane_change=LaneChangeRequest(
                    upstream_node=_n(1), downstream_node=_n(2), target_lane=2
                ),
            ),
            DriveRequest(
                request_id=2,
                status="cancel",
                target_rsu_id="52000000000001aa",
                signal_priority=SignalPriorityRequest(
                    intersection_id=_n(5, 3),
                    remote_node=_n(6),
                    phase_id=4,
                    turn="maneuverLeftTurn",
                    arrival_s=8.5,
                    distance_m=120.0,
                ),
            ),
            DriveRequest(
                request_id=255,
                status="comfirmed",
                clear_the_way=ClearTheWayRequest(
                    upstream_node=_n(1),
                    downstream_node=_n(2),
                    target_lane=1,
                    path=ReferencePath(points=((31.2, 121.4), (31.201, 121.4)), radius_m=5.0),
                    begin_ms=T0,
                    end_ms=T0 + 30_000,
                ),
            ),
        ),
    )


def full_rsc() -> Rsc:
    link = LinkRef(upstream_node=_n(1), downstream_node=_n(2), lanes=frozenset({1, 15}))
    return Rsc(
        msg_count=127,
        rsu_id="52000000000001aa",
        timestamp_ms=T0,
        ref_lat_deg=31.2,
        ref_lon_deg=121.4,
        coordinations=(
            VehicleCoordination(
                vehicle_id="0102030405060708",
                suggestion=frozenset({"slow-down"}),
                life_time_s=4.0,
                related_link=link,
                related_path=ReferencePath(points=((31.2, 121.4), (31.2005, 121.4)), radius_m=3.5),
                path_guidance=(
                    PathPoint(lat_deg=31.2002, lon_deg=121.4003, speed_mps=10.0, time_s=3.0),
                ),
                info=frozenset({"cooperativeLaneChanging"}),
            ),
            VehicleCoordination(vehicle_id="1112131415161718", info=frozenset({"signalPriority"})),
        ),
        lanes=(
            LaneCoordination(
                target_lane=link,
                begin_ms=T0,
                end_ms=T0 + 60_000,
                recommended_speed_mps=15.0,
                recommended_behavior=frozenset({"goStraightForward"}),
                info=frozenset({"dynamicLaneManagement"}),
                description="lane 1 closed",
            ),
        ),
    )


@pytest.mark.parametrize("make", [full_vir, full_rsc], ids=["VIR", "RSC"])
def test_every_field_survives_the_wire(make: Any) -> None:
    model = make()
    raw = encode_model(model, message_set=SET)
    result = decode(raw, message_set=SET, received_at_ms=T0 + 40)
    assert isinstance(result, Decoded), result
    assert result.message_type == type(model).__name__.upper()
    assert result.to_model() == model


def test_derived_views_of_the_old_fields() -> None:
    assert full_vir().request_ids == (1, 2, 255)
    rsc = full_rsc()
    assert rsc.vehicle_ids == ("0102030405060708", "1112131415161718")
    assert rsc.lane_coordination_count == 1


@pytest.mark.parametrize(
    ("model", "where"),
    [
        (
            Vir(msg_count=0, sender_id="01", timestamp_ms=T0, ref_lat_deg=0, ref_lon_deg=0),
            "$.id",
        ),
        (
            Vir(
                msg_count=0,
                sender_id="0102030405060708",
                timestamp_ms=T0,
                ref_lat_deg=0,
                ref_lon_deg=0,
                path=(PathPoint(lat_deg=0, lon_deg=0, time_s=700.0),),
            ),
            "$.intAndReq.path-Planning[0].estimatedTime",
        ),
        (
            Rsc(
                msg_count=0,
                rsu_id="0102030405060708",
                timestamp_ms=T0,
                ref_lat_deg=0,
                ref_lon_deg=0,
                coordinations=(
                    VehicleCoordination(
                        vehicle_id="0102030405060708", suggestion=frozenset({"fly"})
                    ),
                ),
            ),
            "$.coordinates[0].driveSuggestion.suggestion",
        ),
        (
            Rsc(
                msg_count=0,
                rsu_id="0102030405060708",
                timestamp_ms=T0,
                ref_lat_deg=0,
                ref_lon_deg=0,
                lanes=(
                    LaneCoordination(
                        target_lane=LinkRef(
                            upstream_node=_n(1), downstream_node=_n(2), lanes=frozenset({16})
                        )
                    ),
                ),
            ),
            "$.laneCoordinates[0].targetLane.referenceLanes",
        ),
    ],
)
def test_bad_models_name_the_field(model: Any, where: str) -> None:
    with pytest.raises(EncodeError) as info:
        encode_model(model, message_set=SET)
    assert info.value.where == where


def _reference_inner(ref: Any, raw: bytes, type_name: str) -> Any:
    """Decode a whole frame with the reference schema; the Day-2 open type in a second step."""
    alternative, ext = ref.decode("MessageFrame", raw)
    assert alternative == "msgFrameExt"
    return ref.decode(type_name, ext["value"])


@pytest.mark.parametrize(
    ("make", "type_name", "to_wire"),
    [
        (full_vir, "VehIntentionAndRequest", vir_to_wire),
        (full_rsc, "RoadsideCoordination", rsc_to_wire),
    ],
    ids=["VIR", "RSC"],
)
def test_the_reference_schema_reads_what_we_send(
    make: Any, type_name: str, to_wire: Any, reference_specs: dict[str, Any]
) -> None:
    ref = reference_specs["csae53-2020-day2"]
    model = make()
    assert _reference_inner(ref, encode_model(model, message_set=SET), type_name) == to_wire(model)


SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize(
    ("type_name", "from_wire", "to_wire"),
    [
        ("VehIntentionAndRequest", vir_from_wire, vir_to_wire),
        ("RoadsideCoordination", rsc_from_wire, rsc_to_wire),
    ],
    ids=["VIR", "RSC"],
)
@SETTINGS
@given(data=st.data())
def test_random_reference_values_through_the_model(
    type_name: str,
    from_wire: Any,
    to_wire: Any,
    data: st.DataObject,
    reference_specs: dict[str, Any],
    value_strategies: dict[str, Any],
) -> None:
    """Any valid reference value becomes a model (or a ``DecodeError`` for an unavailable
    position); the model goes back to the wire (requests of unmodelled kinds refuse to), the
    reference accepts that, and once at the model's resolution (a description that is not
    valid GB2312 settles after one round) the model is a fixed point of model → wire → model."""
    ref = reference_specs["csae53-2020-day2"]
    value = data.draw(value_strategies["csae53-2020-day2"].for_type(type_name))
    value = ref.decode(type_name, ref.encode(type_name, value))
    try:
        model = from_wire(value, reference_ms=T0)
    except DecodeError:
        return
    try:
        wire = to_wire(model)
    except EncodeError as exc:
        assume("not modelled" not in exc.detail and "offset" not in exc.detail)
        raise
    wire = ref.decode(type_name, ref.encode(type_name, wire))  # the reference accepts it
    settled = from_wire(wire, reference_ms=T0)
    assert (
        from_wire(ref.decode(type_name, ref.encode(type_name, to_wire(settled))), reference_ms=T0)
        == settled
    )
