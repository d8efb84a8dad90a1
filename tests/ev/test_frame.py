"""Frame header checks: every rejection names its reason and byte offset."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from v2xcloud.errors import EncodeError, Gb32960Error
from v2xcloud.ev._wire import error_offset
from v2xcloud.ev.frame import bcc, decode_frame, encode_frame

VIN = "LTEST000000000001"


def _reason(data: bytes) -> tuple[str, int | None]:
    with pytest.raises(Gb32960Error) as err:
        decode_frame(data)
    return err.value.reason, error_offset(err.value)


def test_encode_decode_header() -> None:
    raw = encode_frame(command=0x02, vin=VIN, data=b"\x01\x02\x03", layout=2025, encryption=0x04)
    assert raw[:2] == b"$$" and raw[22:24] == b"\x00\x03"
    f = decode_frame(raw)
    assert (f.layout, f.command, f.response, f.vin, f.encryption, f.data) == (
        2025,
        2,
        0xFE,
        VIN,
        4,
        b"\x01\x02\x03",
    )
    assert raw[-1] == bcc(raw[2:-1])


def test_bcc_is_xor() -> None:
    assert bcc(b"") == 0 and bcc(b"\x01\x02") == 3 and bcc(bytes(range(40))) == 0


@pytest.mark.parametrize(
    ("mutate", "reason", "offset"),
    [
        (lambda f: b"#!" + f[2:], "bad_start", 0),
        (lambda f: f[:10], "truncated", 10),
        (lambda f: f[:-2], "truncated", 27),
        (lambda f: f + b"\x00", "length_mismatch", 29),
        (lambda f: f[:-1] + bytes([f[-1] ^ 0xFF]), "bcc_mismatch", 28),
        (lambda f: f[:4] + b"\xff" + f[5:-1] + bytes([f[-1] ^ 0xFF ^ ord("L")]), "bad_vin", 4),
    ],
)
def test_rejections(mutate: Callable[[bytes], bytes], reason: str, offset: int) -> None:
    frame = encode_frame(command=0x07, vin=VIN, data=b"abcd")
    assert _reason(mutate(frame)) == (reason, offset)


def test_encode_rejects_bad_vin_and_size() -> None:
    with pytest.raises(EncodeError, match="17 ASCII"):
        encode_frame(command=1, vin="SHORT", data=b"")
    with pytest.raises(EncodeError, match="exceeds"):
        encode_frame(command=1, vin=VIN, data=bytes(70000))


def test_lenient_keeps_bad_bcc() -> None:
    frame = encode_frame(command=0x07, vin=VIN, data=b"")
    bad = frame[:-1] + bytes([frame[-1] ^ 1])
    assert not decode_frame(bad, lenient=True).is_bcc_ok
