"""With a signer the runtime's deliveries carry the signed frame of what is sent (an event's
RSI, an advisory's JSON); a failing signer is an isolated failure; without one nothing is
signed."""

from __future__ import annotations

from typing import Any

import msgspec

from v2xcloud.errors import CryptoError
from v2xcloud.model import Advisory, RoadEvent
from v2xcloud.runtime import ListDeliverySink, Rsu, Runtime
from v2xcloud.twin.testing import TEST_FRAME, bsm_at


class _Wrap:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.signed: list[str] = []

    def sign(self, payload: bytes, *, message_type: str, now_ms: int) -> bytes:
        if self.fail:
            raise CryptoError("no key")
        self.signed.append(message_type)
        return f"SIG|{message_type}|{now_ms}|".encode() + payload

    def stats(self) -> dict[str, Any]:
        return {"signed": len(self.signed)}


def _run(signer: Any) -> tuple[Runtime, ListDeliverySink]:
    """A stalled car (an event with its RSI) and a follower closing in on it (FCW)."""
    sink = ListDeliverySink()
    lat, lon = TEST_FRAME.to_wgs84(0, 150)
    rsu = Rsu(rsu_id="near", lat_deg=float(lat), lon_deg=float(lon), range_m=200.0)
    runtime = Runtime(frame=TEST_FRAME, delivery_sinks=[sink], rsus=[rsu], signer=signer)
    for k in range(251):
        t = 100 * k
        runtime.ingest(bsm_at("stalled", x_m=0, y_m=200, t_ms=t), received_at_ms=t, source="s")
        follower = bsm_at("follower", x_m=0, y_m=min(0.5 * k, 150), t_ms=t, speed_mps=5.0)
        runtime.ingest(follower, received_at_ms=t, source="f")
        runtime.tick(t)
    return runtime, sink


def test_deliveries_carry_their_signed_content() -> None:
    signer = _Wrap()
    runtime, sink = _run(signer)
    events = [d for d in sink.deliveries if isinstance(d.payload, RoadEvent)]
    sent = [d for d in events if d.reason != "expired"]
    assert sent, "the stalled car must become a delivered event"
    for d in sent:
        assert d.rsi_uper is not None and d.secured == (f"SIG|RSI|{d.at_ms}|".encode() + d.rsi_uper)
    for d in sink.deliveries:
        if isinstance(d.payload, Advisory):
            assert d.secured == f"SIG|ADVISORY|{d.at_ms}|".encode() + msgspec.json.encode(d.payload)
    assert runtime.stats()["signer"] == {"signed": len(signer.signed)}


def test_a_failing_signer_is_counted_and_the_tick_goes_on() -> None:
    runtime, sink = _run(_Wrap(fail=True))
    assert sink.deliveries and all(d.secured is None for d in sink.deliveries)
    assert runtime.stats()["errors"]["signer"] >= 1


def test_without_a_signer_nothing_is_signed() -> None:
    runtime, sink = _run(None)
    assert sink.deliveries and all(d.secured is None for d in sink.deliveries)
    assert "signer" not in runtime.stats()
