"""IEEE 1609.3 WSMP and IEEE 1609.2 wrappers: stripped, or dropped naming the byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v2xcloud.codec import MessageSet, encode_model, iter_capture_lines
from v2xcloud.gateways.ieee1609 import (
    FRAMINGS,
    Unwrapped,
    WrapDrop,
    encode_psid,
    unwrap,
)
from v2xcloud.model import DropReason
from v2xcloud.twin.testing import bsm_at

from ._wrap import CHANNEL, DATA_RATE, TX_POWER, encrypted, signed, unsecured, wsm

UPER = encode_model(
    bsm_at("a1b2c3d4e5f60718", x_m=1.0, y_m=2.0, t_ms=5_000, speed_mps=3.0),
    message_set=MessageSet.CSAE2020,
)


def ok(result: Unwrapped | WrapDrop) -> Unwrapped:
    assert isinstance(result, Unwrapped), result
    return result


def bad(result: Unwrapped | WrapDrop) -> WrapDrop:
    assert isinstance(result, WrapDrop), result
    return result


@pytest.mark.parametrize(
    ("psid", "encoded"),
    [
        (0x20, "20"),  # BSM: one octet
        (0x7F, "7f"),
        (0x80, "8000"),  # the first two-octet PSID
        (0x82, "8002"),
        (0x407F, "bfff"),
        (0x4080, "c00000"),  # the first three-octet PSID
        (0x204080, "e0000000"),  # the first four-octet PSID
        (0x1020407F, "efffffff"),
    ],
)
def test_psid_p_encoding(psid: int, encoded: str) -> None:
    assert encode_psid(psid).hex() == encoded
    assert ok(unwrap(wsm(UPER, psid=psid), framing="wsmp")).psid == psid


def test_wsmp_with_extensions_and_a_long_message() -> None:
    long_data = UPER * 3  # over 127 bytes: two-octet WSM length
    datagram = wsm(
        unsecured(long_data),
        psid=0x8002,
        n_ext=[(CHANNEL, b"\xac"), (DATA_RATE, b"\x0c"), (TX_POWER, b"\x14")],
        t_ext=[(23, b"\x05")],
    )
    result = ok(unwrap(datagram, framing="wsmp"))
    assert result.payload == long_data and result.psid == 0x8002
    assert result.layers == ("wsmp", "1609.2")
    assert ok(unwrap(datagram, framing="auto")) == result


def test_wsmp_around_bare_uper() -> None:
    result = ok(unwrap(wsm(UPER), framing="auto"))
    assert (result.payload, result.layers) == (UPER, ("wsmp",))


def test_1609dot2_unsecured_long_form_length() -> None:
    data = UPER * 8
    wrapped = unsecured(data)
    assert wrapped[2] == 0x82  # COER long form: two length octets follow
    for framing in ("1609.2", "auto"):
        result = ok(unwrap(wrapped, framing=framing))
        assert (result.payload, result.layers) == (data, ("1609.2",))


def test_signed_data_is_kept_unverified() -> None:
    drop = bad(unwrap(signed(UPER), framing="auto"))
    assert (drop.reason, drop.where) == (DropReason.SIGNED_UNVERIFIED, "byte 1")
    datagram = wsm(signed(UPER), n_ext=[(CHANNEL, b"\xac")])
    header = len(datagram) - len(signed(UPER))
    drop = bad(unwrap(datagram, framing="wsmp"))
    assert (drop.reason, drop.where) == (DropReason.SIGNED_UNVERIFIED, f"byte {header + 1}")


def test_signed_data_is_kept_whole_for_a_security_stage() -> None:
    for framing in ("auto", "1609.2"):
        kept = ok(unwrap(signed(UPER), framing=framing, keep_signed=True))
        assert (kept.payload, kept.is_signed, kept.layers) == (signed(UPER), True, ())
    datagram = wsm(signed(UPER), n_ext=[(CHANNEL, b"\xac")], psid=0x82)
    for framing in ("auto", "wsmp"):
        kept = ok(unwrap(datagram, framing=framing, keep_signed=True))
        assert (kept.payload, kept.is_signed) == (signed(UPER), True)
        assert (kept.layers, kept.psid) == (("wsmp",), 0x82)
    plain = ok(unwrap(unsecured(UPER), framing="auto", keep_signed=True))
    assert (plain.payload, plain.is_signed) == (UPER, False)


def test_encrypted_data_has_no_reader() -> None:
    drop = bad(unwrap(encrypted(b"\x00" * 40), framing="1609.2"))
    assert drop.reason is DropReason.UNSUPPORTED_MESSAGE


@pytest.mark.parametrize(
    ("datagram", "framing", "reason", "where"),
    [
        (wsm(UPER, version=2), "wsmp", DropReason.WRONG_VERSION, "byte 0"),
        (unsecured(UPER, version=2), "1609.2", DropReason.WRONG_VERSION, "byte 0"),
        (wsm(UPER) + b"\x00\x00", "wsmp", DropReason.TRAILING_BYTES, f"byte {len(wsm(UPER))}"),
        (
            unsecured(UPER) + b"\x01",
            "1609.2",
            DropReason.TRAILING_BYTES,
            f"byte {len(unsecured(UPER))}",
        ),
        (b"\x03\x07\x20\x01\x00", "wsmp", DropReason.FRAMING, "byte 1"),  # TPID 7
        (b"\x03\x00\xf5\x01\x00", "wsmp", DropReason.FRAMING, "byte 2"),  # PSID prefix 1111
        (b"\x03\xc0\x01", "1609.2", DropReason.MALFORMED, "byte 1"),  # not a context tag
    ],
)
def test_bad_headers_name_the_byte(
    datagram: bytes, framing: str, reason: DropReason, where: str
) -> None:
    drop = bad(unwrap(datagram, framing=framing))
    assert (drop.reason, drop.where) == (reason, where), drop


def test_every_truncation_of_a_header_is_named() -> None:
    datagram = wsm(unsecured(UPER), psid=0x4090, n_ext=[(CHANNEL, b"\xac")], t_ext=[(23, b"\x05")])
    header = len(datagram) - len(unsecured(UPER))
    for cut in range(len(datagram)):
        drop = bad(unwrap(datagram[:cut], framing="wsmp"))
        assert drop.reason is DropReason.TRUNCATED, (cut, drop)
        offset = int((drop.where or "").removeprefix("byte "))
        # the start of the field that runs past the end: a header field, else the WSM data
        assert (cut - 3 <= offset <= cut) if cut < header else offset == header, (cut, drop)
    wrapped = unsecured(UPER * 2)
    for cut in range(len(wrapped)):
        drop = bad(unwrap(wrapped[:cut], framing="1609.2"))
        assert drop.reason is DropReason.TRUNCATED and drop.where is not None, (cut, drop)


def test_auto_leaves_real_frames_alone(reference_dir: Path) -> None:
    text = (reference_dir / "captures/csae53-2017-hisense-captures.txt").read_text("utf-8")
    frames = [r.frame for _, records in iter_capture_lines(text) for r in records]  # type: ignore[union-attr]
    assert len(frames) == 6
    for frame in frames:
        assert ok(unwrap(frame, framing="auto")) == Unwrapped(payload=frame)


def test_auto_leaves_every_bsm_message_count_alone() -> None:
    for count in range(128):  # BSMs whose first octets look like a version-3 header
        bsm = bsm_at("a1b2c3d4e5f60718", x_m=float(count), y_m=2.0, t_ms=count * 100)
        data = encode_model(bsm, message_set=MessageSet.CSAE2020)
        assert ok(unwrap(data, framing="auto")).payload == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_datagrams_never_raise(data: bytes) -> None:
    for framing in FRAMINGS:
        result = unwrap(data, framing=framing)
        assert isinstance(result, Unwrapped | WrapDrop)


def test_module_examples_run() -> None:
    import doctest

    from v2xcloud.gateways import ieee1609, udp

    for module in (ieee1609, udp):
        failures, tried = doctest.testmod(module)
        assert tried > 0 and failures == 0, module.__name__
