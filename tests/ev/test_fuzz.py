"""Randomised decoder and scanner inputs: only ``Gb32960Error`` may come out, never a crash.

Each test prints its seed; set ``GB32960_FUZZ_SEED`` to replay one.
"""

from __future__ import annotations

import os
import random

from v2xcloud.errors import Gb32960Error
from v2xcloud.ev.codec import decode
from v2xcloud.ev.frame import bcc
from v2xcloud.ev.scanner import FrameScanner

ROUNDS = 3000


def _rng(name: str) -> random.Random:
    seed = int(os.environ.get("GB32960_FUZZ_SEED", random.SystemRandom().randrange(2**32)))
    print(f"{name}: seed {seed}")
    return random.Random(seed)


def _try(data: bytes) -> str:
    try:
        decode(data)
    except Gb32960Error as exc:
        assert exc.reason and exc.where and exc.where.startswith("byte ")
        return exc.reason
    return "ok"


def _fix_bcc(frame: bytearray) -> bytes:
    frame[-1] = bcc(bytes(frame[2:-1]))
    return bytes(frame)


def test_random_bytes(frames_2016: list[bytes]) -> None:
    rng = _rng("random_bytes")
    for _ in range(ROUNDS):
        n = rng.randrange(0, 400)
        head = rng.choice([b"", b"##", b"$$"])
        _try(head + rng.randbytes(n))


def test_truncations_of_real_frames(frames_2016: list[bytes]) -> None:
    for frame in frames_2016:
        for cut in range(len(frame)):
            assert _try(frame[:cut]) != "ok"


def test_mutated_payloads_with_valid_bcc(frames_2016: list[bytes], frame_2025: bytes) -> None:
    rng = _rng("mutations")
    seeds = [*frames_2016, _fix_bcc(bytearray(frame_2025))]
    reasons: set[str] = set()
    for _ in range(ROUNDS):
        frame = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 6)):
            frame[rng.randrange(24, len(frame) - 1)] = rng.randrange(256)
        reasons.add(_try(_fix_bcc(frame)))
    assert "ok" in reasons and len(reasons) > 1


def test_huge_length_fields(frames_2016: list[bytes]) -> None:
    frame = bytearray(frames_2016[0])
    frame[22:24] = b"\xff\xff"
    assert _try(bytes(frame)) == "truncated"
    scanner = FrameScanner()
    out = scanner.feed(bytes(frame) + frames_2016[1])
    assert frames_2016[1] in out  # resynced past the bogus header
    assert any(isinstance(x, Gb32960Error) and x.reason == "length_mismatch" for x in out)


def test_scanner_random_stream_keeps_real_frames(frames_2016: list[bytes]) -> None:
    rng = _rng("scanner_stream")
    for _ in range(200):
        pieces, expected = [], []
        for _ in range(rng.randrange(1, 6)):
            junk = rng.randbytes(rng.randrange(0, 50)).replace(b"#", b"").replace(b"$", b"")
            frame = rng.choice(frames_2016)
            pieces += [junk, frame]
            expected.append(frame)
        stream = b"".join(pieces)
        scanner, got = FrameScanner(), []
        i = 0
        while i < len(stream):
            step = rng.randrange(1, 300)
            got += [f for f in scanner.feed(stream[i : i + step]) if isinstance(f, bytes)]
            i += step
        assert got == expected
        assert scanner.dropped_bytes == len(stream) - sum(map(len, expected))
