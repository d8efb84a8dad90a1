"""Fuzzing the fast decoders against asn1tools: random and mutated bytes.

For every input the fast decoder either returns exactly the generic path's value (never for a
frame the generic path rejects), or raises: ``Fallback`` where the frame is beyond its plan,
anything else only where the generic path rejects the frame too. ``decode`` never raises and
gives the same result with and without the fast path. The seed is fixed (``FUZZ_SEED``).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asn1tools.codecs import uper

from v2xcloud.codec import Decoded, MessageSet, decode, fast
from v2xcloud.codec._schema import compiled
from v2xcloud.codec._uper import Reject

SEED = int(os.environ.get("FUZZ_SEED", "20261121"))
PER_CHUNK = 5_000
CHUNKS = 3
ROOT_INDEX = {"bsmFrame": 0, "rsmFrame": 2, "spatFrame": 3}


def _random_frame(rng: random.Random) -> bytes:
    """Random bytes whose first nibble names a hot alternative (so the fast path runs)."""
    body = bytearray(rng.randbytes(rng.randint(1, 90)))
    index = ROOT_INDEX[rng.choice(fast.HOT_ALTERNATIVES)]
    body[0] = (index << 4) | (body[0] & 0x0F)
    return bytes(body)


def _mutate(rng: random.Random, frame: bytes) -> bytes:
    data = bytearray(frame)
    kind = rng.randrange(5)
    if kind == 0:  # a few bit flips anywhere but the alternative index
        for _ in range(rng.randint(1, 3)):
            bit = rng.randrange(4, len(data) * 8)
            data[bit // 8] ^= 0x80 >> (bit % 8)
    elif kind == 1:  # truncated
        del data[rng.randrange(1, len(data)) :]
    elif kind == 2:  # extra bytes
        data += rng.randbytes(rng.randint(1, 4))
    elif kind == 3:  # one byte replaced
        data[rng.randrange(1, len(data))] = rng.randrange(256)
    else:  # a bit flip in the first 40 bits: extension and OPTIONAL bitmaps live there
        bit = rng.randrange(4, min(40, len(data) * 8))
        data[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(data)


def _inputs(rng: random.Random, corpus: list[bytes]) -> Iterator[bytes]:
    for _ in range(PER_CHUNK):
        yield _random_frame(rng) if rng.random() < 0.3 else _mutate(rng, rng.choice(corpus))


def _check_one(
    data: bytes, message_set: MessageSet, generic: Callable[..., Any], strict: Callable[..., Any]
) -> str:
    expected = generic(message_set, data)
    alternative = fast.HOT_ALTERNATIVES[[0, 2, 3].index(data[0] >> 4)]
    try:
        got = fast.build(message_set, alternative)(data)
    except fast.Fallback:
        return "fallback (generic: " + ("rejects)" if isinstance(expected, Reject) else "accepts)")
    except Exception as exc:
        assert isinstance(expected, Reject), f"fast rejected a valid frame {data.hex()}: {exc!r}"
        return f"both reject ({expected.reason.value})"
    assert not isinstance(expected, Reject), f"fast accepted {data.hex()}: {expected.detail}"
    assert strict(got) == strict(expected), data.hex()
    return "both accept"


def _same_decode(data: bytes, message_set: MessageSet) -> None:
    with_fast = decode(data, message_set=message_set)
    fast.uninstall(message_sets=[message_set])
    try:
        without = decode(data, message_set=message_set)
    finally:
        fast.install(message_sets=[message_set])
    assert type(with_fast) is type(without)
    if isinstance(with_fast, Decoded):
        assert isinstance(without, Decoded) and with_fast.value == without.value
    else:
        assert not isinstance(without, Decoded)
        assert (with_fast.reason, with_fast.detail) == (without.reason, without.detail)


@pytest.mark.parametrize("chunk", range(CHUNKS))
@pytest.mark.parametrize("message_set", list(MessageSet), ids=[ms.value for ms in MessageSet])
def test_fast_and_generic_agree_on_fuzzed_frames(
    chunk: int,
    message_set: MessageSet,
    capture_frames: list[bytes],
    generic: Callable[..., Any],
    strict: Callable[..., Any],
) -> None:
    hot = [f for f in capture_frames if f[0] >> 4 in (0, 2, 3)]
    rng = random.Random(f"{SEED}-{chunk}-{message_set.value}")
    outcomes: Counter[str] = Counter()
    for n, data in enumerate(_inputs(rng, hot)):
        outcomes[_check_one(data, message_set, generic, strict)] += 1
        if n % 10 == 0:
            _same_decode(data, message_set)
    print(f"seed {SEED} chunk {chunk} {message_set.value}: {dict(outcomes)}")
    assert outcomes["both accept"] > 0 and sum(outcomes.values()) == PER_CHUNK


def _random_additions(rng: random.Random) -> str:
    """Extension additions as a newer sender might append them, sometimes a little wrong."""
    count = rng.choice([1, 2, 3, 7, 64, 65, 70])
    bits = ("0" + f"{count - 1:06b}") if count <= 64 else ("10" + f"{count:07b}")
    present = [rng.random() < 0.5 for _ in range(count)]
    bits += "".join("1" if p else "0" for p in present)
    for p in present:
        if p:
            length = rng.choice([0, 1, 2, 5, 130])
            head = f"{length:08b}" if length < 128 else f"{0x8000 | length:016b}"
            bits += head + "".join(rng.choice("01") for _ in range(8 * length))
    if rng.random() < 0.2:  # cut short or overlong
        bits = bits[: rng.randrange(len(bits) + 1)] + rng.choice(["", "1", "0" * 9])
    return bits


@pytest.mark.parametrize("message_set", list(MessageSet), ids=[ms.value for ms in MessageSet])
def test_unknown_extension_additions_agree_with_asn1tools(
    message_set: MessageSet,
    capture_frames: list[bytes],
    generic: Callable[..., Any],
    strict: Callable[..., Any],
) -> None:
    """Each hot message's extension bit set and random additions appended after its root."""
    frame_type = compiled(message_set)._types["MessageFrame"]._type
    rng = random.Random(f"{SEED}-additions-{message_set.value}")
    outcomes: Counter[str] = Counter()
    for frame in [f for f in capture_frames if f[0] >> 4 in (0, 2, 3)]:
        decoder = uper.Decoder(bytearray(frame))
        frame_type.decode(decoder)
        root = "".join(f"{b:08b}" for b in frame)[: decoder.number_of_read_bits()]
        for _ in range(300):
            bits = root[:4] + "1" + root[5:] + _random_additions(rng)
            bits += "0" * (-len(bits) % 8)
            data = int(bits, 2).to_bytes(len(bits) // 8, "big")
            outcomes[_check_one(data, message_set, generic, strict)] += 1
    print(f"seed {SEED} additions {message_set.value}: {dict(outcomes)}")
    assert outcomes["both accept"] > 300
