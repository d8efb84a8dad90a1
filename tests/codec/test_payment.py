"""VPM (``codec.payment``): every step of a toll transaction survives the wire, the published
reference schema reads what we send, and random reference values settle through the model."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from v2xcloud.codec import Decoded, MessageSet, decode, encode_model
from v2xcloud.codec.payment import vpm_from_wire, vpm_to_wire
from v2xcloud.errors import DecodeError, EncodeError
from v2xcloud.model.day2 import Vpm

T0 = 1_767_254_412_345  # 2026-01-01T08:00:12.345Z
SET = MessageSet.CSAE2020
RSU, OBU = "5000000000000001", "5a00000000000007"

STEPS = [
    Vpm(msg_count=1, step="initialzation-request", time_ms=T0, rsu_id=RSU, gantry_id=4201,
        price_fen=650),
    Vpm(msg_count=2, step="initialzation-response", time_ms=T0 + 40, rsu_id=RSU, obu_id=OBU),
    Vpm(msg_count=3, step="action-request", time_ms=T0 + 80, rsu_id=RSU, obu_id=OBU,
        gantry_id=4201, action="setTollDataRq", needs_confirm=True, amount_fen=650,
        transaction_sn=77),
    Vpm(msg_count=4, step="action-response", time_ms=T0 + 120, rsu_id=RSU, obu_id=OBU,
        action="setTollDataRs", result="noError"),
    Vpm(msg_count=5, step="action-request", time_ms=T0 + 160, rsu_id=RSU, obu_id=OBU,
        action="setMMIRq", result="ok"),
]  # fmt: skip


@pytest.mark.parametrize("sent", STEPS, ids=lambda v: f"{v.step}:{v.action}")
def test_every_step_survives_the_wire(sent: Vpm) -> None:
    result = decode(encode_model(sent, message_set=SET), message_set=SET, received_at_ms=T0)
    assert isinstance(result, Decoded), result
    assert result.to_model() == sent


@pytest.mark.parametrize("sent", STEPS, ids=lambda v: f"{v.step}:{v.action}")
def test_the_reference_schema_reads_what_we_send(
    sent: Vpm, reference_specs: dict[str, Any]
) -> None:
    ref = reference_specs["csae53-2020-day2"]
    raw = encode_model(sent, message_set=SET)
    alternative, content = ref.decode("MessageFrame", raw)
    assert alternative == "msgFrameExt" and content["messageId"] == 17
    assert ref.encode("MessageFrame", (alternative, content)) == raw
    assert ref.decode("VehiclePaymentMessage", content["value"]) == vpm_to_wire(sent)


def test_a_debit_carries_amount_serial_station_and_bcd_time() -> None:
    body = vpm_to_wire(STEPS[2])["payment"][1]
    trans = body["actionParameter"][1]["transPara"]
    assert trans["transAmount"] == (650).to_bytes(4, "big")
    assert trans["transSN"] == (77).to_bytes(4, "big")
    assert trans["transStationID"] == (4201).to_bytes(3, "big")
    assert trans["transTime"] == bytes.fromhex("20260101080012")
    assert trans["terminalID"] == bytes.fromhex(RSU)[2:]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"time_ms": None}, "$.payment.time"),
        ({"rsu_id": "nothex"}, "$.payment.sourceId"),
        ({"transaction_sn": None}, "$.payment.actionParameter.transPara"),
        ({"amount_fen": 2**32}, "$.payment.actionParameter.transPara"),
        ({"action": "getTollDataRq"}, "$.payment.actionParameter"),
        ({"step": "refund"}, "$.payment"),
    ],
)
def test_bad_models_name_the_field(change: dict[str, Any], where: str) -> None:
    with pytest.raises(EncodeError) as info:
        encode_model(msgspec.structs.replace(STEPS[2], **change), message_set=SET)
    assert info.value.where == where


def test_a_time_before_year_one_utc_is_no_time_and_encoding_says_so() -> None:
    """Year 1 at +08:01 is an instant before 0001-01-01 UTC (hypothesis found it: the encoder
    raised a bare ValueError from datetime): decoded as no time, refused by name."""
    value = {
        "msgCnt": 0,
        "payment": (
            "initialzation-response",
            {"time": {"year": 1, "offset": 481}, "obuId": bytes(8)},
        ),
    }
    model = vpm_from_wire(value, reference_ms=T0)
    assert model.time_ms is None
    with pytest.raises(EncodeError) as info:
        vpm_to_wire(model)
    assert info.value.where == "$.payment.time"


@settings(
    max_examples=60,
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
    """Any valid reference VPM becomes a model; the modelled steps go back to the wire (the
    others refuse to, saying so), the reference accepts that, and the model is then a fixed
    point of model → wire → model."""
    ref = reference_specs["csae53-2020-day2"]
    value = data.draw(value_strategies["csae53-2020-day2"].for_type("VehiclePaymentMessage"))
    value = ref.decode("VehiclePaymentMessage", ref.encode("VehiclePaymentMessage", value))
    try:
        model = vpm_from_wire(value, reference_ms=T0)
    except DecodeError:
        return
    try:
        wire = vpm_to_wire(model)
    except EncodeError as exc:
        assume(
            "not modelled" not in exc.detail
            and "needs" not in exc.detail
            and "required" not in exc.detail
            and "unknown step" not in exc.detail
        )
        raise
    wire = ref.decode("VehiclePaymentMessage", ref.encode("VehiclePaymentMessage", wire))
    settled = vpm_from_wire(wire, reference_ms=T0)
    again = ref.decode(
        "VehiclePaymentMessage", ref.encode("VehiclePaymentMessage", vpm_to_wire(settled))
    )
    assert vpm_from_wire(again, reference_ms=T0) == settled
