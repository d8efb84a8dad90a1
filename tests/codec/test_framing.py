"""Vendor capture records, hex lines: layouts accepted and errors named."""

from __future__ import annotations

import pytest

from v2xcloud.codec import iter_capture_lines, iter_hex_lines, parse_capture_record
from v2xcloud.errors import FramingError

DEVICE = b"dev_0001"
STAMP = (1605336902333).to_bytes(8, "little")


def _single(frame: bytes) -> bytes:
    return DEVICE + STAMP + len(frame).to_bytes(2, "little") + frame


def _batch(*frames: bytes) -> bytes:
    body = b"".join(len(f).to_bytes(2, "little") + f for f in frames)
    return DEVICE + STAMP + bytes([len(frames)]) + body


def test_single_frame_record() -> None:
    (frame,) = parse_capture_record(_single(b"\x01\x02\x03"))
    assert (frame.device_id, frame.timestamp_ms, frame.frame) == (
        "dev_0001",
        1605336902333,
        b"\x01\x02\x03",
    )


def test_batched_record_gives_every_frame() -> None:
    frames = parse_capture_record(_batch(b"\xaa" * 5, b"\xbb" * 300))
    assert [f.frame for f in frames] == [b"\xaa" * 5, b"\xbb" * 300]


@pytest.mark.parametrize(
    "record",
    [
        _single(b"\x01\x02\x03")[:-1],  # length says 3, 2 follow
        _batch(b"\xaa" * 5) + b"\x00",  # a byte after the batch
        DEVICE + STAMP,  # prefix only
    ],
    ids=["short", "long-batch", "prefix-only"],
)
def test_bad_records_raise_framing_error(record: bytes) -> None:
    with pytest.raises(FramingError) as info:
        parse_capture_record(record)
    assert info.value.reason == "framing" and info.value.where


def test_capture_file_reader_skips_text_and_reports_bad_lines() -> None:
    text = "\n".join(
        [
            "BSM样例：" + _single(b"\x01\x02").hex(),
            "BasicSafetyMessage ::= {",
            "    msgCnt: 101",
            _batch(b"\x03", b"\x04").hex().upper(),
            "label: " + _single(b"\x05\x06")[:-1].hex(),
        ]
    )
    results = list(iter_capture_lines(text))
    assert [n for n, _ in results] == [1, 4, 5]
    assert [f.frame for f in results[0][1]] == [b"\x01\x02"]  # type: ignore[union-attr]
    assert [f.frame for f in results[1][1]] == [b"\x03", b"\x04"]  # type: ignore[union-attr]
    assert isinstance(results[2][1], FramingError)


def test_hex_lines_skip_blanks_and_name_the_bad_line() -> None:
    results = list(iter_hex_lines("0a0b\n\n  0C 0D \nzz\n"))
    assert results[0] == (1, b"\x0a\x0b") and results[1] == (3, b"\x0c\x0d")
    line_no, error = results[2]
    assert line_no == 4 and isinstance(error, FramingError) and error.where == "line 4"
