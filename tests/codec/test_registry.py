"""A faster decoder for a hot message slots in without changing callers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from v2xcloud.codec import (
    Decoded,
    MessageSet,
    decode,
    encode_model,
    frame,
    register_fast_decoder,
    unregister_fast_decoder,
)
from v2xcloud.codec._schema import compiled
from v2xcloud.model import Bsm, DropReason, ParticipantKind, ParticipantSource, ParticipantState


@pytest.fixture(autouse=True)
def _session_bsm_decoder() -> Iterator[None]:
    """Each test here slots its own BSM decoder in and unregisters it; afterwards put back the
    session's (the generated fast decoder ``codec.fast`` installs), so later tests keep it."""
    before = frame._FAST.get((MessageSet.CSAE2020, "bsmFrame"))
    yield
    if before is None:
        unregister_fast_decoder(MessageSet.CSAE2020, "bsmFrame")
    else:
        register_fast_decoder(MessageSet.CSAE2020, "bsmFrame", before)


def _bsm_frame() -> bytes:
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
    return encode_model(
        Bsm(msg_count=3, sec_mark_ms=1500, participant=state), message_set=MessageSet.CSAE2020
    )


def test_registered_fast_decoder_is_used_and_callers_see_the_same_result() -> None:
    frame = _bsm_frame()
    calls: list[bytes] = []

    def fast(data: bytes) -> Any:
        calls.append(data)
        return compiled(MessageSet.CSAE2020).decode("MessageFrame", data)

    generic = decode(frame, message_set=MessageSet.CSAE2020)
    register_fast_decoder(MessageSet.CSAE2020, "bsmFrame", fast)
    try:
        slotted = decode(frame, message_set=MessageSet.CSAE2020)
    finally:
        unregister_fast_decoder(MessageSet.CSAE2020, "bsmFrame")
    assert calls == [frame]
    assert isinstance(slotted, Decoded) and isinstance(generic, Decoded)
    assert slotted.value == generic.value and slotted.to_model() == generic.to_model()


def test_failing_fast_decoder_falls_back_to_the_generic_reason() -> None:
    def broken(data: bytes) -> Any:
        raise ValueError("not handled")

    register_fast_decoder(MessageSet.CSAE2020, "bsmFrame", broken)
    try:
        result = decode(_bsm_frame()[:10], message_set=MessageSet.CSAE2020)
    finally:
        unregister_fast_decoder(MessageSet.CSAE2020, "bsmFrame")
    assert not isinstance(result, Decoded) and result.reason is DropReason.MALFORMED
