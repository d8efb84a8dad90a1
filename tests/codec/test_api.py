"""The public decode/encode contract: reasons and places for bad bytes and bad JSON."""

from __future__ import annotations

import pytest

from v2xcloud.codec import Decoded, MessageSet, bsm, decode, encode, rsm
from v2xcloud.errors import DecodeError, EncodeError
from v2xcloud.model import DropReason

S20 = MessageSet.CSAE2020
TEST_MSG = {"msgFrameExt": {"messageId": 0, "value": {"msgCnt": 3, "userData": "00ff"}}}


def _rsm_frame() -> bytes:
    obj = {
        "ptcType": "pedestrian",
        "ptcId": 2,
        "source": "video",
        "secMark": 100,
        "pos": {"offsetLL": {"position-LL1": {"lon": 1, "lat": 2}}},
        "posConfidence": {"pos": "unavailable"},
        "speed": 50,
        "heading": 0,
        "size": {"width": 60, "length": 60},
    }
    rsm_json = {
        "msgCnt": 1,
        "id": "0102030405060708",
        "refPos": {"lat": 1, "long": 2},
        "participants": [obj],
    }
    return encode({"rsmFrame": rsm_json}, message_set=S20)


@pytest.mark.parametrize(
    ("data", "reason", "where"),
    [
        (b"", DropReason.EMPTY, None),
        (b"\x20", DropReason.MALFORMED, "$.rsmFrame.msgCnt"),
        (b"\x70", DropReason.MALFORMED, "$"),  # root alternative index 7 of 5
    ],
)
def test_bad_bytes_are_rejected_with_reason_and_place(
    data: bytes, reason: DropReason, where: str | None
) -> None:
    result = decode(data, message_set=S20)
    assert not isinstance(result, Decoded)
    assert (result.reason, result.where) == (reason, where) and result.detail


def test_trailing_bytes_are_rejected() -> None:
    result = decode(_rsm_frame() + b"\x00", message_set=S20)
    assert not isinstance(result, Decoded) and result.reason is DropReason.TRAILING_BYTES


def test_day2_unknown_to_2017_and_unknown_message_id() -> None:
    frame = encode(TEST_MSG, message_set=S20)
    decoded = decode(frame, message_set=S20)
    assert isinstance(decoded, Decoded) and decoded.message_type == "TestMsg"
    assert decoded.json == TEST_MSG
    old = decode(frame, message_set=MessageSet.CSAE2017)
    assert not isinstance(old, Decoded) and old.reason is DropReason.UNKNOWN_MESSAGE
    with pytest.raises(EncodeError, match="unknown Day-2 messageId 99"):
        encode({"msgFrameExt": {"messageId": 99, "value": {}}}, message_set=S20)


@pytest.mark.parametrize(
    ("frame", "where"),
    [
        ({"bsmFrame": {"msgCnt": 1, "speeed": 3}}, "$.bsmFrame"),
        ({"bsmFrame": 1, "mapFrame": 2}, "$"),
        ({"rsmFrame": {"id": "xyz"}}, "$.rsmFrame.id"),
    ],
)
def test_bad_json_names_the_path(frame: dict, where: str) -> None:
    with pytest.raises(EncodeError) as info:
        encode(frame, message_set=S20)
    assert info.value.where == where


def test_out_of_range_json_value_is_an_encode_error() -> None:
    frame = decode(_rsm_frame(), message_set=S20)
    assert isinstance(frame, Decoded)
    bad = frame.json
    bad["rsmFrame"]["participants"][0]["speed"] = 9000
    with pytest.raises(EncodeError, match="9000"):
        encode(bad, message_set=S20)


def test_per_message_decoder_refuses_other_messages() -> None:
    frame = _rsm_frame()
    assert rsm.Decoder(message_set=S20).decode(frame).participants[0].kind == "pedestrian"
    with pytest.raises(DecodeError) as info:
        bsm.decode(frame)
    assert info.value.reason is DropReason.UNSUPPORTED_MESSAGE and "holds a RSM" in str(info.value)
    with pytest.raises(DecodeError) as info:
        bsm.decode(frame[:3])
    assert info.value.reason == "malformed"
