"""PSM from the model to the wire: what the bench's connected pedestrians send. Random
models encode, our codec reads them back within the wire's resolution, and the published
reference schema decodes the same bytes to the same values and re-encodes them identically.
Out-of-range values are refused with the field named."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v2xcloud.codec import Decoded, MessageSet, decode, to_model
from v2xcloud.codec.day2 import encode_psm
from v2xcloud.errors import EncodeError
from v2xcloud.model import ParticipantKind, ParticipantSource, ParticipantState
from v2xcloud.model.day2 import Psm


def _psm(pid: str = "a1b2c3d4e5f60718", radius: float = 0.5, **kw: Any) -> Psm:
    state = ParticipantState(
        id=pid,
        kind=ParticipantKind.PEDESTRIAN,
        source=ParticipantSource.PSM,
        timestamp_ms=kw.get("t_ms", 1_767_254_412_345),
        lat_deg=kw.get("lat", 28.2001),
        lon_deg=kw.get("lon", 112.9002),
        speed_mps=kw.get("speed", 1.2),
        heading_deg=kw.get("heading", 90.0),
        position_accuracy_m=1.5,
    )
    return Psm(msg_count=kw.get("count", 3), participant=state,
               user_type=kw.get("user_type", "aPEDESTRIAN"), overall_radius_m=radius)  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(
    lat=st.floats(-89.0, 89.0),
    lon=st.floats(-179.0, 179.0),
    speed=st.floats(0.0, 20.0),
    heading=st.floats(0.0, 359.9),
    radius=st.floats(0.0, 20.0),
    count=st.integers(0, 127),
    user_type=st.sampled_from(["aPEDESTRIAN", "aPEDALCYCLIST", "aROADWORKER", "unavailable"]),
)
def test_random_psm_reads_back_and_the_reference_agrees(
    reference_specs: dict[str, Any], **kw: Any
) -> None:
    msg = _psm(radius=kw.pop("radius"), **kw)
    raw = encode_psm(msg)
    back = decode(raw, message_set=MessageSet.CSAE2020, check_version=False)
    assert isinstance(back, Decoded) and back.message_type == "PSM"
    got = to_model(back)
    assert got.participant.id == msg.participant.id and got.user_type == msg.user_type
    assert got.participant.lat_deg == pytest.approx(msg.participant.lat_deg, abs=1e-7)
    assert got.participant.speed_mps == pytest.approx(msg.participant.speed_mps, abs=0.02)
    assert got.overall_radius_m == pytest.approx(msg.overall_radius_m, abs=0.05)
    ref = reference_specs["csae53-2020-day2"]
    alternative, frame = ref.decode("MessageFrame", raw)
    assert alternative == "msgFrameExt" and frame["messageId"] == 15
    value = ref.decode("PersonalSafetyMessage", frame["value"])
    assert value["id"] == bytes.fromhex(msg.participant.id)
    assert value["non-motorData"]["basicType"] == msg.user_type
    assert ref.encode("PersonalSafetyMessage", value) == frame["value"]


def test_bad_values_are_named() -> None:
    with pytest.raises(EncodeError, match=r"\$\.id"):
        encode_psm(_psm(pid="ped-7"))
    with pytest.raises(EncodeError, match=r"overallRadius"):
        encode_psm(_psm(radius=25.0))
