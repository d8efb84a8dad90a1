"""Stream re-assembly: split and coalesced frames, garbage, and the buffer bounds."""

from __future__ import annotations

from v2xcloud.errors import Gb32960Error
from v2xcloud.ev.frame import encode_frame
from v2xcloud.ev.scanner import FrameScanner

VIN = "LTEST000000000001"
F1 = encode_frame(command=0x07, vin=VIN, data=b"")
F2 = encode_frame(command=0x02, vin=VIN, data=bytes(range(100)))


def test_byte_by_byte_and_coalesced() -> None:
    s = FrameScanner()
    out = []
    for b in F1 + F2:
        out += s.feed(bytes([b]))
    assert out == [F1, F2]
    assert FrameScanner().feed(F1 + F2 + F1) == [F1, F2, F1]


def test_garbage_is_dropped_and_counted() -> None:
    s = FrameScanner()
    assert s.feed(b"hello" + F1 + b"#x" + F2) == [F1, F2]
    assert s.dropped_bytes == 7 and s.buffered_bytes == 0


def test_bad_bcc_is_rejected_and_stream_resyncs() -> None:
    bad = F2[:-1] + bytes([F2[-1] ^ 1])
    out = FrameScanner().feed(bad + F1)
    assert isinstance(out[0], Gb32960Error) and out[0].reason == "bcc_mismatch"
    assert out[-1] == F1


def test_never_ending_frame_overflows() -> None:
    s = FrameScanner(max_buffer_bytes=1000)
    header = F2[:24]
    s.feed(header[:22] + b"\xff\x00")  # claims 65280 bytes of data
    s.feed(bytes(2000))
    assert s.is_overflowing and s.buffered_bytes == 0
    assert s.feed(F1) == []


def test_garbage_budget_overflows() -> None:
    s = FrameScanner(max_garbage_bytes=10_000)
    for _ in range(20):
        s.feed(b"x" * 1000)
    assert s.is_overflowing


def test_good_frame_resets_garbage_budget() -> None:
    s = FrameScanner(max_garbage_bytes=1500)
    for _ in range(5):
        assert s.feed(b"x" * 1000 + F1) == [F1]
    assert not s.is_overflowing
