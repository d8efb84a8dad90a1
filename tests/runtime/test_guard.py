"""Runtime's frame guard hook: what a guard refuses is a dead letter under its reason, what it
passes is decoded; a guard that raises is isolated; without a guard nothing changes."""

from __future__ import annotations

from typing import Any

from v2xcloud.codec import MessageSet
from v2xcloud.codec.model_convert import encode_model
from v2xcloud.model import DeadLetter, DropReason
from v2xcloud.runtime import FrameGuard, Passed, Runtime
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

WRAP = b"WRAPPED:"


class Unwrapping:
    """Passes ``WRAP + frame`` as ``frame``; refuses anything else as unsigned; raises on b"!"."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []

    def check(self, raw: bytes, *, source: str, kind: str, now_ms: int) -> bytes | DeadLetter:
        self.seen.append((source, kind, now_ms))
        if raw == b"!":
            raise RuntimeError("guard bug")
        if raw.startswith(WRAP):
            return Passed(payload=raw[len(WRAP) :], signer="0102030405060708", device="obu-1")
        if raw.startswith(b"PLAIN:"):
            return raw[6:]
        return DeadLetter(
            raw=raw, source=source, received_at_ms=now_ms, reason=DropReason.UNSIGNED, detail="x"
        )

    def stats(self) -> dict[str, Any]:
        return {"seen": len(self.seen)}


def _frame(pid: str) -> bytes:
    bsm = bsm_at(pid, x_m=0, y_m=0, t_ms=1000, speed_mps=5.0)
    return encode_model(bsm, message_set=MessageSet.CSAE2020)


def test_guard_passes_and_refuses() -> None:
    guard = Unwrapping()
    assert isinstance(guard, FrameGuard)
    runtime = Runtime(frame=TEST_FRAME, guard=guard, apps=[], detectors=())
    assert runtime.ingest_frame(
        WRAP + _frame("00000000000000a1"), source="obu-1", received_at_ms=1000, kind="obu"
    )
    assert not runtime.ingest_frame(_frame("00000000000000b2"), source="obu-2", received_at_ms=1001)
    assert not runtime.ingest_frame(b"!", source="obu-3", received_at_ms=1002)
    stats = runtime.stats()
    assert stats["messages_in"] == {"Bsm": 1}
    assert stats["dead_letters"] == {"unsigned": 1, "internal_error": 1}
    assert stats["errors"]["guard"] == 1
    assert stats["guard"] == {"seen": 3}
    assert guard.seen[0] == ("obu-1", "obu", 1000)
    kept = runtime.dead_letters.recent(2)
    assert kept[0].raw == _frame("00000000000000b2") and kept[1].raw == b"!"  # raw kept as received


def test_no_guard_decodes_directly() -> None:
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=())
    assert runtime.ingest_frame(_frame("00000000000000a1"), source="obu-1", received_at_ms=1000)
    assert "guard" not in runtime.stats()


class _Screen:
    """A misbehaviour screen that refuses nothing and notes each report's certificate digest."""

    def __init__(self) -> None:
        self.digests: list[str | None] = []

    def screen(self, message, *, received_at_ms, source, certificate_digest=None):  # type: ignore[no-untyped-def]
        self.digests.append(certificate_digest)

    def is_flagged(self, sender: str) -> bool:
        return False

    def take_reports(self) -> list[Any]:
        return []

    def stats(self) -> dict[str, Any]:
        return {}


def test_the_signer_reaches_the_misbehaviour_screen() -> None:
    screen = _Screen()
    runtime = Runtime(frame=TEST_FRAME, guard=Unwrapping(), apps=[], detectors=(), screen=screen)
    assert runtime.ingest_frame(WRAP + _frame("00000000000000a1"), source="obu-1", received_at_ms=1)
    assert runtime.ingest_frame(
        b"PLAIN:" + _frame("00000000000000b2"), source="x", received_at_ms=2
    )
    assert screen.digests == ["0102030405060708", None]
