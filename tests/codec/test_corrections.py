"""RTCM corrections (``codec.corrections``): relayed payloads survive the wire, the published
reference schema reads them, and random reference values settle through the model."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from v2xcloud.codec import Decoded, MessageSet, decode, encode_model
from v2xcloud.codec.corrections import rtcm_to_wire
from v2xcloud.codec.day2 import rtcm_from_wire
from v2xcloud.errors import EncodeError
from v2xcloud.model.day2 import Rtcm

SET = MessageSet.CSAE2020
SENT = Rtcm(msg_count=9, payloads=(b"\xd3\x00\x13" + bytes(range(19)), b"x" * 2047))


def test_relayed_corrections_survive_the_wire_and_the_reference_reads_them(
    reference_specs: dict[str, Any],
) -> None:
    raw = encode_model(SENT, message_set=SET)
    result = decode(raw, message_set=SET)
    assert isinstance(result, Decoded) and result.to_model() == SENT
    ref = reference_specs["csae53-2020-day2"]
    alternative, content = ref.decode("MessageFrame", raw)
    assert (alternative, content["messageId"]) == ("msgFrameExt", 10)
    assert ref.decode("RTCMcorrections", content["value"]) == rtcm_to_wire(SENT)


@pytest.mark.parametrize(
    ("payloads", "where"),
    [
        ((), "$.corrections"),
        ((b"a",) * 6, "$.corrections"),
        ((b"a", b""), "$.corrections[1].payload"),
    ],
)
def test_bad_corrections_name_the_field(payloads: tuple[bytes, ...], where: str) -> None:
    with pytest.raises(EncodeError) as info:
        encode_model(Rtcm(msg_count=1, payloads=payloads), message_set=SET)
    assert info.value.where == where


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_reference_values_settle_through_the_model(
    data: st.DataObject, reference_specs: dict[str, Any], value_strategies: dict[str, Any]
) -> None:
    ref = reference_specs["csae53-2020-day2"]
    value = data.draw(value_strategies["csae53-2020-day2"].for_type("RTCMcorrections"))
    model = rtcm_from_wire(value, reference_ms=0)
    wire = ref.decode("RTCMcorrections", ref.encode("RTCMcorrections", rtcm_to_wire(model)))
    assert rtcm_from_wire(wire, reference_ms=0) == model
