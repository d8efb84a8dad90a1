"""The down-link's signer hook: with a signer every payload leaves wrapped by it; a signer that
fails sends nothing (never the content unsigned); without one nothing changes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgspec

from v2xcloud.codec import Decoded, MessageSet, decode
from v2xcloud.errors import CryptoError
from v2xcloud.gateways.downlink import Downlink
from v2xcloud.gateways.health import DeviceHealth
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import (
    Advisory,
    AdvisoryLevel,
    Device,
    DeviceKind,
    RoadEvent,
)
from v2xcloud.runtime import OutboundSigner
from v2xcloud.runtime.clock import ManualClock
from v2xcloud.runtime.dissemination import Delivery
from v2xcloud.runtime.identity import PLATFORM_RSU_ID, scope_sender_id

NOW_MS = 1_767_254_400_000


class _Wrap:
    """Marks what it signs: ``SIG|<type>|<now>|`` + payload."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, int]] = []

    def sign(self, payload: bytes, *, message_type: str, now_ms: int) -> bytes:
        if self.fail:
            raise CryptoError("key unavailable")
        self.calls.append((message_type, now_ms))
        return f"SIG|{message_type}|{now_ms}|".encode() + payload

    def stats(self) -> dict[str, Any]:
        return {"signed": len(self.calls)}


def _advisory(ego: str) -> Delivery:
    adv = Advisory(
        app="FCW", level=AdvisoryLevel.WARNING, ego_id=ego, issued_ms=NOW_MS, expires_ms=NOW_MS + 1
    )
    return Delivery(key=f"FCW|{ego}", reason="new", at_ms=NOW_MS, payload=adv, participants=(ego,))


def _event() -> Delivery:
    event = RoadEvent(
        source="detection",
        event_id=7,
        event_type=100,
        lat_deg=28.19,
        lon_deg=112.97,
        radius_m=50.0,
        start_ms=NOW_MS,
    )
    return Delivery(key="event|7", reason="new", at_ms=NOW_MS, payload=event, rsus=("rsu-1",))


def _run(signer: OutboundSigner | None, deliveries: list[Delivery]) -> tuple[Downlink, list]:
    registry = DeviceRegistry()
    registry.add(Device(device_id="obu-1", kind=DeviceKind.OBU))
    registry.add(Device(device_id="obu-2", kind=DeviceKind.OBU))
    registry.add(Device(device_id="rsu-1", kind=DeviceKind.RSU, lat_deg=28.19, lon_deg=112.97))
    sent: list[tuple[str, dict[str, Any]]] = []

    async def publish(topic: str, payload: bytes) -> bool:
        sent.append((topic, json.loads(payload)))
        return True

    async def scenario() -> Downlink:
        downlink = Downlink(
            registry, DeviceHealth(), publish, clock=ManualClock(NOW_MS), signer=signer
        )
        downlink.start()
        downlink.deliver(deliveries, now_ms=NOW_MS)
        for _ in range(20):
            await asyncio.sleep(0)
        await downlink.stop()
        return downlink

    return asyncio.run(scenario()), sent


def test_advisory_and_rsi_leave_signed_and_the_content_only_inside() -> None:
    signer = _Wrap()
    delivery = _advisory("obu-1")
    both = msgspec.structs.replace(delivery, participants=("obu-1", "obu-2"))
    downlink, sent = _run(signer, [both, _event()])
    by_topic = dict(sent)
    adv = by_topic["V2X/OBU/obu-1/ADVISORY/DOWN"]
    assert adv["encoding"] == "secured-json-hex" and "advisory" not in adv
    data = bytes.fromhex(adv["data"])
    prefix = f"SIG|ADVISORY|{NOW_MS}|".encode()
    assert data.startswith(prefix)
    assert json.loads(data[len(prefix) :]) == msgspec.to_builtins(delivery.payload)
    # one signature for both recipients of the same advisory
    assert by_topic["V2X/OBU/obu-2/ADVISORY/DOWN"]["data"] == adv["data"]
    rsi = by_topic["V2X/RSU/rsu-1/RSI/DOWN"]
    assert rsi["encoding"] == "secured-uper-hex"
    assert bytes.fromhex(rsi["data"]).startswith(f"SIG|RSI|{NOW_MS}|".encode())
    assert signer.calls == [("ADVISORY", NOW_MS), ("RSI", NOW_MS)]
    assert downlink.counts["signed"] == 2 and downlink.counts["sent"] == 3


def test_a_failing_signer_sends_nothing_unsigned() -> None:
    downlink, sent = _run(_Wrap(fail=True), [_advisory("obu-1"), _event()])
    assert sent == []
    assert downlink.counts["sign_failed"] == 2
    assert downlink.counts["sent"] == 0


def test_without_a_signer_the_payloads_stay_plain() -> None:
    downlink, sent = _run(None, [_advisory("obu-1"), _event()])
    by_topic = dict(sent)
    assert by_topic["V2X/OBU/obu-1/ADVISORY/DOWN"]["advisory"]["ego_id"] == "obu-1"
    assert by_topic["V2X/RSU/rsu-1/RSI/DOWN"]["encoding"] == "uper-hex"
    assert downlink.counts["signed"] == 0


def test_an_rsi_goes_out_under_its_deliverys_sender_id_else_the_platforms() -> None:
    """A worker's or the centre's event (``sender_id``, handed on by the gateway tier) is
    signed under that tier's sender id, not re-numbered under the platform's one id."""
    edge = scope_sender_id("edge:1321")
    scoped = msgspec.structs.replace(_event(), key="event|8", sender_id=edge)
    _, sent = _run(_Wrap(), [_event(), scoped])
    senders = []
    for _, doc in sent:
        data = bytes.fromhex(doc["data"])
        uper = data[len(f"SIG|RSI|{NOW_MS}|") :]
        back = decode(uper, message_set=MessageSet.CSAE2020, received_at_ms=NOW_MS)
        assert isinstance(back, Decoded)
        senders.append(back.to_model().rsu_id)
    assert senders == [PLATFORM_RSU_ID, edge]
