"""The one validity stage: ``decode`` (native fast path) and ``check_model`` (SI) agree.

``check_frame`` judges BSM/RSM/MAP on the native value without building the model; these
tests pin that its verdict equals ``check_model`` on the model built from the same frame, at
and around every limit, and that the wire's extremes for the rules the schema bounds
(latitude, longitude, heading, elevation) pass the SI rules, as the stage's docstring claims.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from v2xcloud.codec import (
    Decoded,
    MessageSet,
    Rejected,
    check_model,
    decode,
    encode_model,
    encode_native,
)
from v2xcloud.codec.plausibility import (
    ELEVATION_RANGE_M,
    HEADING_RANGE_DEG,
    MAX_SPEED_MPS,
    check_state,
)
from v2xcloud.model import DropReason, ParticipantSource, Rsi, Rsm, Spat
from v2xcloud.twin.testing import bsm_at, state_at

S20 = MessageSet.CSAE2020
T0 = 1_700_000_000_000


def _bsm_native() -> dict[str, Any]:
    frame = encode_model(bsm_at("00000000000000b1", x_m=0, y_m=0, t_ms=T0), message_set=S20)
    result = decode(frame, message_set=S20)
    assert isinstance(result, Decoded)
    content: dict[str, Any] = result.value[1]
    return content


def _rsm_native() -> dict[str, Any]:
    obj = state_at("r/1", x_m=5, y_m=5, t_ms=T0, source=ParticipantSource.RSM)
    rsm = Rsm(
        msg_count=1,
        rsu_id="00000000000000a1",
        ref_lat_deg=28.19,
        ref_lon_deg=112.97,
        participants=(obj,),
    )
    result = decode(encode_model(rsm, message_set=S20), message_set=S20)
    assert isinstance(result, Decoded)
    content: dict[str, Any] = result.value[1]
    return content


def _verdicts(frame: bytes) -> tuple[DropReason | None, DropReason | None]:
    """(decode's verdict, check_model's verdict on the model of the same frame)."""
    judged = decode(frame, message_set=S20)
    kept = decode(frame, message_set=S20, wire_only=True)
    assert isinstance(kept, Decoded)
    model_verdict = check_model(kept.to_model())
    return (
        judged.reason if isinstance(judged, Rejected) else None,
        model_verdict.reason if model_verdict is not None else None,
    )


SPEEDS_RAW = [0, 1, 7499, 7500, 7501, 8000, 8190, 8191]  # 0.02 m/s; 8191 = unavailable


@pytest.mark.parametrize("speed_raw", SPEEDS_RAW)
def test_bsm_speed_native_and_si_agree(speed_raw: int) -> None:
    frame = encode_native(("bsmFrame", {**_bsm_native(), "speed": speed_raw}), message_set=S20)
    native, si = _verdicts(frame)
    assert native == si
    expected = (
        DropReason.IMPLAUSIBLE if speed_raw * 0.02 > MAX_SPEED_MPS and speed_raw != 8191 else None
    )
    assert native == expected


@pytest.mark.parametrize("speed_raw", SPEEDS_RAW)
def test_rsm_object_speed_native_and_si_agree(speed_raw: int) -> None:
    content = _rsm_native()
    objects = [{**content["participants"][0], "speed": speed_raw}]
    frame = encode_native(("rsmFrame", {**content, "participants": objects}), message_set=S20)
    native, si = _verdicts(frame)
    assert native == si


@pytest.mark.parametrize(
    "changes",
    [
        {"heading": 0},
        {"heading": 28799},
        {"heading": 28800},
        {"pos": {"lat": -900000000, "long": -1799999999, "elevation": -4096}},
        {"pos": {"lat": 900000000, "long": 1800000000, "elevation": 61439}},
    ],
    ids=["heading_0", "heading_max", "heading_unavailable", "south_west", "north_east"],
)
def test_the_wire_extremes_pass_the_si_rules(changes: dict[str, Any]) -> None:
    frame = encode_native(("bsmFrame", {**_bsm_native(), **changes}), message_set=S20)
    assert _verdicts(frame) == (None, None)


def test_check_state_names_each_rule_with_its_limit() -> None:
    ok = bsm_at("a", x_m=0, y_m=0, t_ms=T0, speed_mps=10.0).participant
    assert check_state(ok) is None

    def problem(**changes: Any) -> str:
        found = check_state(msgspec.structs.replace(ok, **changes))
        assert found is not None
        return found

    assert "WGS-84" in problem(lat_deg=float("nan"))
    assert "WGS-84" in problem(lon_deg=-180.5)
    assert f"0..{MAX_SPEED_MPS:g} m/s" in problem(speed_mps=float("inf"))
    assert f"{HEADING_RANGE_DEG[1]:g}" in problem(heading_deg=-0.1)
    assert f"{ELEVATION_RANGE_M[0]:g}" in problem(elevation_m=-600.0)


def test_check_model_covers_reference_points_and_passes_rule_free_messages() -> None:
    rsi = Rsi(msg_count=0, rsu_id="a1", ref_lat_deg=float("nan"), ref_lon_deg=112.9)
    rejected = check_model(rsi, raw=b"{}")
    assert rejected is not None and rejected.where == "$.ref" and rejected.raw == b"{}"
    assert check_model(Spat(msg_count=0, intersections=())) is None


def test_per_message_decoder_gives_typed_results() -> None:
    from v2xcloud.codec import bsm, rsm
    from v2xcloud.model import Bsm

    frame = encode_model(bsm_at("00000000000000b1", x_m=0, y_m=0, t_ms=T0), message_set=S20)
    result = bsm.Decoder(message_set=S20).decode_frame(frame, received_at_ms=T0)
    assert isinstance(result, Decoded) and isinstance(result.to_model(), Bsm)
    other = rsm.Decoder(message_set=S20).decode_frame(frame)
    assert isinstance(other, Rejected) and other.reason is DropReason.UNSUPPORTED_MESSAGE
    assert other.raw == frame and "holds a BSM" in other.detail
    fast = encode_model(
        bsm_at("00000000000000b1", x_m=0, y_m=0, t_ms=T0, speed_mps=160.0), message_set=S20
    )
    refused = bsm.Decoder(message_set=S20).decode_frame(fast)
    assert isinstance(refused, Rejected) and refused.reason is DropReason.IMPLAUSIBLE
