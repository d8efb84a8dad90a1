"""Registration of the fast decoders (default on, switchable) and their fallback count."""

from __future__ import annotations

import logging

import pytest
from asn1tools.codecs import uper

from v2xcloud.codec import Decoded, MessageSet, decode, encode_model, fast
from v2xcloud.codec._schema import compiled
from v2xcloud.codec.frame import _FAST
from v2xcloud.errors import ConfigError
from v2xcloud.model import Bsm, ParticipantKind, ParticipantSource, ParticipantState


def _bsm_frame(message_set: MessageSet) -> bytes:
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
        Bsm(msg_count=3, sec_mark_ms=1500, participant=state), message_set=message_set
    )


def _with_extension(frame: bytes, message_set: MessageSet, additions: str) -> bytes:
    """The same BSM with its extension bit set and ``additions`` (bits) after its root."""
    decoder = uper.Decoder(bytearray(frame))
    compiled(message_set)._types["MessageFrame"]._type.decode(decoder)
    bits = "".join(f"{b:08b}" for b in frame)[: decoder.number_of_read_bits()]
    bits = bits[:4] + "1" + bits[5:] + additions
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


# two additions, the second present: 3 octets a newer version of the schema would know
UNKNOWN_ADDITIONS = "0" + "000001" + "01" + "00000011" + "101010101100110011110001"


@pytest.mark.parametrize("message_set", list(MessageSet), ids=[ms.value for ms in MessageSet])
@pytest.mark.parametrize("additions", ["0000000" + "0", UNKNOWN_ADDITIONS], ids=["none", "two"])
def test_unknown_extension_additions_are_skipped_as_asn1tools_does(
    message_set: MessageSet, additions: str
) -> None:
    plain = _bsm_frame(message_set)
    extended = _with_extension(plain, message_set, additions)
    before = fast.stats()
    value = fast.build(message_set, "bsmFrame")(extended)
    assert fast.stats() == before
    assert value == compiled(message_set).decode("MessageFrame", extended)
    assert value == compiled(message_set).decode("MessageFrame", plain)
    fast.install(message_sets=[message_set])
    result = decode(extended, message_set=message_set)
    assert isinstance(result, Decoded) and result.value == value


@pytest.mark.parametrize("message_set", list(MessageSet), ids=[ms.value for ms in MessageSet])
def test_uncovered_extension_form_falls_back_counted_with_the_same_result(
    message_set: MessageSet,
) -> None:
    extended = _with_extension(_bsm_frame(message_set), message_set, "11")  # > 64 additions
    key = (message_set.value, "bsmFrame", "fallback")
    before = fast.stats().get(key, 0)
    with pytest.raises(fast.Fallback):
        fast.build(message_set, "bsmFrame")(extended)
    fast.install(message_sets=[message_set])
    with_fast = decode(extended, message_set=message_set)
    fast.uninstall(message_sets=[message_set])
    without = decode(extended, message_set=message_set)
    fast.install(message_sets=[message_set])
    assert not isinstance(with_fast, Decoded) and not isinstance(without, Decoded)
    assert (with_fast.reason, with_fast.detail) == (without.reason, without.detail)
    assert fast.stats()[key] == before + 2


def test_installed_by_default_and_switchable(monkeypatch: pytest.MonkeyPatch) -> None:
    fast.install()
    frame = _bsm_frame(MessageSet.CSAE2020)
    decode(frame, message_set=MessageSet.CSAE2020)  # compiles it, replacing the lazy stub
    assert _FAST[(MessageSet.CSAE2020, "bsmFrame")] is fast.build(MessageSet.CSAE2020, "bsmFrame")
    fast.uninstall(message_sets=[MessageSet.CSAE2020])
    assert (MessageSet.CSAE2020, "bsmFrame") not in _FAST
    monkeypatch.setenv(fast.ENV_SWITCH, "0")
    fast.install_default()
    assert (MessageSet.CSAE2020, "rsmFrame") not in _FAST
    monkeypatch.setenv(fast.ENV_SWITCH, "1")
    fast.install_default()
    assert all((ms, alt) in _FAST for ms in MessageSet for alt in fast.HOT_ALTERNATIVES)


def test_only_hot_alternatives() -> None:
    with pytest.raises(ConfigError, match="fast decoders exist only for"):
        fast.install(alternatives=["mapFrame"])
    with pytest.raises(ConfigError, match="fast decoders exist only for"):
        fast.build(MessageSet.CSAE2017, "rsiFrame")


def test_other_alternative_is_refused() -> None:
    rsm_decoder = fast.build(MessageSet.CSAE2017, "rsmFrame")
    with pytest.raises(Exception, match="not a rsmFrame"):
        rsm_decoder(_bsm_frame(MessageSet.CSAE2017))


def test_generated_source_is_readable() -> None:
    text = fast.source(MessageSet.CSAE2017, "bsmFrame")
    assert text.startswith("def decode_bsmFrame(data):") and "'secMark'" in text


def test_hand_overs_reach_runtime_stats_and_are_logged_once_per_reason(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collections import Counter

    from v2xcloud.codec import _fastpath, fast_path_hand_overs
    from v2xcloud.runtime import Runtime
    from v2xcloud.twin.testing import TEST_FRAME

    message_set = MessageSet.CSAE2017
    extended = _with_extension(_bsm_frame(message_set), message_set, "11")  # > 64 additions
    fast.install(message_sets=[message_set])
    runtime = Runtime(frame=TEST_FRAME, message_set=message_set)
    key = "csae2017 decode bsmFrame: more than 64 extension additions"
    monkeypatch.setattr(_fastpath, "_COUNTS", Counter())  # as in a fresh process
    with caplog.at_level(logging.INFO, logger="v2xcloud.codec.fast"):
        for k in range(3):
            runtime.ingest_frame(extended, received_at_ms=k, source="obu")
    assert runtime.stats()["codec"]["fast_path_hand_overs"] == {key: 3}
    assert fast_path_hand_overs() == {key: 3}
    logged = [r for r in caplog.records if "more than 64 extension additions" in r.getMessage()]
    assert len(logged) == 1  # once per reason
