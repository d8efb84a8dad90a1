"""Hostile bytes: mutated signed frames are refused with a named reason, and the log stays short."""

from __future__ import annotations

import logging
import random

import pytest

from v2xcloud.codec import Rejected
from v2xcloud.model import DropReason
from v2xcloud.security import codec
from v2xcloud.security.pki import Pki
from v2xcloud.security.signing import FrameSigner
from v2xcloud.security.types import SecurityProfile, SignedFrame, UnsignedFrame
from v2xcloud.security.verify import Policy, Rejection, Verified, stage_from_pki

from ._pki import NOW_MS, pkis, uper_bsm

__all__ = ["pkis"]

FRAMES = 10_000


def _mutate(rng: random.Random, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        at = rng.randrange(len(data))
        if op == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[at] = rng.choice((0x00, 0x7F, 0x80, 0x81, 0x82, 0x8F, 0xFF, rng.randrange(256)))
        elif op == 2:
            del data[at:]
            data += bytes([0x80 | rng.randrange(16)])
        elif op == 3:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 3)))
        else:
            del data[at : at + rng.randint(1, 3)]
        if len(data) < 4:
            data += b"\x03\x81"
    return bytes(data)


def test_ten_thousand_mutated_frames_are_refused_by_name_with_a_bounded_log(
    pkis: dict[tuple[SecurityProfile, str], Pki], caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(13)
    originals: list[bytes] = []
    stages = {}
    for profile in SecurityProfile:
        pki = pkis[(profile, "main")]
        stages[profile] = stage_from_pki(pki, policy=Policy.parse("require"), window_ms=10**9)
        signer = FrameSigner.for_device(pki, "obu-1")
        for i, with_cert in enumerate((False, True)):
            frame = signer.sign(
                uper_bsm(), generation_time_ms=NOW_MS + i, with_certificate=with_cert
            )
            originals.append(frame)
    hostile_before = sum(codec.HOSTILE_INPUT.counts().values())
    reasons: dict[str, int] = {}
    with caplog.at_level(logging.INFO):
        for n in range(FRAMES):
            raw = _mutate(rng, originals[n % len(originals)])
            decoded = codec.decode_secured(raw)
            assert isinstance(decoded, Rejected | SignedFrame | UnsignedFrame)
            if isinstance(decoded, Rejected):
                assert decoded.reason is not DropReason.INTERNAL_ERROR, decoded.detail
                assert decoded.where, f"no 'where' for {decoded.reason}: {decoded.detail}"
            for stage in stages.values():
                result = stage.process(raw, kind="obu", now_ms=NOW_MS)
                if isinstance(result, Rejection):
                    assert result.reason is not DropReason.INTERNAL_ERROR, result.detail
                    reasons[result.reason.value] = reasons.get(result.reason.value, 0) + 1
                else:
                    assert isinstance(result, Verified)  # a mutation the signature still covers
    hostile = sum(codec.HOSTILE_INPUT.counts().values()) - hostile_before
    assert hostile > 0, "no mutation reached the decoder's non-asn1tools errors"
    assert reasons.get("malformed", 0) > 0 and reasons.get("bad_signature", 0) > 0
    assert sum(reasons.values()) >= 2 * FRAMES * 0.95
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) <= 10, [r.getMessage() for r in tracebacks[:3]]
    assert len(caplog.records) <= 30, [r.getMessage() for r in caplog.records[:5]]
