"""A fast codec path that refuses valid input is counted and logged; bad input is not."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from v2xcloud.codec import Decoded, MessageSet, decode, encode_model, encode_native
from v2xcloud.codec import frame as codec_frame
from v2xcloud.codec.frame import (
    FAST_PATH_FAILURES,
    register_fast_decoder,
    register_fast_encoder,
    unregister_fast_decoder,
    unregister_fast_encoder,
)
from v2xcloud.failures import FailureLog
from v2xcloud.model import Bsm, ParticipantKind, ParticipantSource, ParticipantState

SET = MessageSet.CSAE2020


@pytest.fixture(autouse=True)
def _restore_session_fast_paths() -> Iterator[None]:
    decoder = codec_frame._FAST.get((SET, "bsmFrame"))
    encoder = codec_frame._FAST_ENCODERS.get((SET, "bsmFrame"))
    yield
    unregister_fast_decoder(SET, "bsmFrame")
    unregister_fast_encoder(SET, "bsmFrame")
    if decoder is not None:
        register_fast_decoder(SET, "bsmFrame", decoder)
    if encoder is not None:
        register_fast_encoder(SET, "bsmFrame", encoder)


def _bsm() -> Bsm:
    state = ParticipantState(
        id="0102030405060708",
        kind=ParticipantKind.VEHICLE,
        source=ParticipantSource.BSM,
        timestamp_ms=61_500,
        lat_deg=28.1,
        lon_deg=112.9,
        speed_mps=10.0,
        heading_deg=90.0,
    )
    return Bsm(msg_count=3, sec_mark_ms=1500, participant=state)


def _broken(_: Any) -> Any:
    raise IndexError("fast path bug")


def test_fast_decoder_refusing_a_valid_frame_is_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = FailureLog(logger=logging.getLogger("v2xcloud.codec.frame"))
    monkeypatch.setattr(codec_frame, "FAST_PATH_FAILURES", failures)
    frame = encode_model(_bsm(), message_set=SET)
    register_fast_decoder(SET, "bsmFrame", _broken)
    with caplog.at_level(logging.ERROR, logger="v2xcloud.codec.frame"):
        results = [decode(frame, message_set=SET) for _ in range(3)]
    assert all(isinstance(r, Decoded) for r in results)  # the generic path still decodes it
    assert failures.counts() == {"codec:fast_decode:bsmFrame": 3}
    (record,) = caplog.records  # the first logged with its traceback, repeats only counted
    assert record.exc_info is not None and "IndexError" in record.getMessage()
    assert failures.last() == {"codec:fast_decode:bsmFrame": "IndexError: fast path bug"}


def test_fast_decoder_refusing_bad_bytes_is_not_a_failure() -> None:
    frame = encode_model(_bsm(), message_set=SET)
    register_fast_decoder(SET, "bsmFrame", _broken)
    before = FAST_PATH_FAILURES.counts()
    result = decode(frame[:10], message_set=SET)
    assert not isinstance(result, Decoded)  # rejected with the generic path's reason
    assert FAST_PATH_FAILURES.counts() == before


def test_fast_encoder_refusing_valid_content_is_counted_and_the_frame_still_encoded() -> None:
    frame = encode_model(_bsm(), message_set=SET)
    decoded = decode(frame, message_set=SET)
    assert isinstance(decoded, Decoded)
    register_fast_encoder(SET, "bsmFrame", _broken)
    boundary = "codec:fast_encode:bsmFrame"
    before = FAST_PATH_FAILURES.count(boundary)
    assert encode_native(decoded.value, message_set=SET) == frame
    assert FAST_PATH_FAILURES.count(boundary) == before + 1
