"""Registration of the fast decoders (default on, switchable) and their fallback count."""

from __future__ import annotations

import pytest
from asn1tools.codecs import uper

from v2xcloud.codec import Decoded, MessageSet, decode, encode_model, fast
from v2xcloud.codec._schema import compiled
from v2xcloud.codec.frame import _FAST
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


def _with_empty_extension(frame: bytes, message_set: MessageSet) -> bytes:
    """The same BSM with its extension bit set and an (empty) additions bitmap: valid UPER
    that asn1tools decodes to the same value, but beyond the fast plan."""
    decoder = uper.Decoder(bytearray(frame))
    compiled(message_set)._types["MessageFrame"]._type.decode(decoder)
    bits = "".join(f"{b:08b}" for b in frame)[: decoder.number_of_read_bits()]
    bits = bits[:4] + "1" + bits[5:] + "0000000" + "0"  # one addition slot, not present
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


@pytest.mark.parametrize("message_set", list(MessageSet), ids=[ms.value for ms in MessageSet])
def test_extension_bit_falls_back_counted_with_the_same_result(message_set: MessageSet) -> None:
    fast.install(message_sets=[message_set])
    plain = _bsm_frame(message_set)
    extended = _with_empty_extension(plain, message_set)
    key = (message_set.value, "bsmFrame", "fallback")
    before = fast.stats().get(key, 0)
    with pytest.raises(fast.Fallback):
        fast.build(message_set, "bsmFrame")(extended)
    result, reference = (
        decode(extended, message_set=message_set),
        decode(plain, message_set=message_set),
    )
    assert isinstance(result, Decoded) and isinstance(reference, Decoded)
    assert result.value == reference.value
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
    with pytest.raises(ValueError, match="fast decoders exist only for"):
        fast.install(alternatives=["mapFrame"])
    with pytest.raises(ValueError, match="fast decoders exist only for"):
        fast.build(MessageSet.CSAE2017, "rsiFrame")


def test_other_alternative_is_refused() -> None:
    rsm_decoder = fast.build(MessageSet.CSAE2017, "rsmFrame")
    with pytest.raises(Exception, match="not a rsmFrame"):
        rsm_decoder(_bsm_frame(MessageSet.CSAE2017))


def test_generated_source_is_readable() -> None:
    text = fast.source(MessageSet.CSAE2017, "bsmFrame")
    assert text.startswith("def decode_bsmFrame(data):") and "'secMark'" in text
