"""The down-link awaits broker PUBACKs side by side: one slow round trip holds nothing back."""

from __future__ import annotations

import asyncio

from v2xcloud.gateways.downlink import Downlink
from v2xcloud.gateways.health import DeviceHealth
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import Advisory, AdvisoryLevel, Device, DeviceKind
from v2xcloud.runtime.clock import ManualClock
from v2xcloud.runtime.dissemination import Delivery


def _delivery(ego: str, now_ms: int) -> Delivery:
    advisory = Advisory(
        app="FCW",
        level=AdvisoryLevel.WARNING,
        ego_id=ego,
        issued_ms=now_ms,
        expires_ms=now_ms + 1000,
    )
    return Delivery(
        key=f"FCW|{ego}", reason="new", at_ms=now_ms, payload=advisory, participants=(ego,)
    )


def _rig(max_in_flight: int) -> tuple[Downlink, list[str], dict[str, asyncio.Event]]:
    registry = DeviceRegistry()
    for name in ("obu-1", "obu-2", "obu-3"):
        registry.add(Device(device_id=name, kind=DeviceKind.OBU))
    published: list[str] = []
    acks: dict[str, asyncio.Event] = {}

    async def publish(topic: str, payload: bytes) -> bool:
        published.append(topic)  # the bytes leave here, in call order
        acks[topic] = event = asyncio.Event()
        await event.wait()  # the broker's PUBACK
        return True

    downlink = Downlink(
        registry, DeviceHealth(), publish, clock=ManualClock(1_000), max_in_flight=max_in_flight
    )
    return downlink, published, acks


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_later_messages_leave_while_an_earlier_puback_is_outstanding() -> None:
    async def scenario() -> None:
        downlink, published, acks = _rig(max_in_flight=64)
        downlink.start()
        downlink.deliver([_delivery("obu-1", 1_000)], now_ms=1_000)
        await _settle()
        downlink.deliver([_delivery("obu-2", 1_000), _delivery("obu-3", 1_000)], now_ms=1_000)
        await _settle()
        # obu-1's PUBACK has not come; obu-2 and obu-3 were published anyway, in order
        assert published == [
            "V2X/OBU/obu-1/ADVISORY/DOWN",
            "V2X/OBU/obu-2/ADVISORY/DOWN",
            "V2X/OBU/obu-3/ADVISORY/DOWN",
        ]
        for event in acks.values():
            event.set()
        await _settle()
        assert downlink.counts["sent"] == 3
        await downlink.stop()

    asyncio.run(scenario())


def test_in_flight_publishes_are_bounded() -> None:
    async def scenario() -> None:
        downlink, published, acks = _rig(max_in_flight=2)
        downlink.start()
        downlink.deliver([_delivery(f"obu-{i}", 1_000) for i in (1, 2, 3)], now_ms=1_000)
        await _settle()
        assert len(published) == 2  # the third waits for a slot
        acks[published[0]].set()
        await _settle()
        assert len(published) == 3
        await downlink.stop()  # cancels what still waits for its PUBACK

    asyncio.run(scenario())
