"""The contract every device gateway keeps: what comes in, what goes out, and the queue between.

A gateway turns network traffic into ``InboundFrame`` items — the payload exactly as received,
the device that sent it, the message type its topic or port names — and puts them on a bounded
``IngressQueue``. The platform's serve loop drains that queue before each tick; it never waits
on the network, and the network never waits on it: when the queue is full the newest item is
refused and counted as ``DropReason.QUEUE_FULL``. Deliveries leave through the gateway's
``send`` (the down-link), which must not block the caller either.

>>> q = IngressQueue(capacity=1)
>>> f = InboundFrame(payload=b"\\x00", device_id="rsu-1", device_kind=DeviceKind.RSU,
...                  message_type="RSM", transport="inproc", channel="test", received_at_ms=0)
>>> q.put(f), q.put(f)
(True, False)
>>> q.dropped, len(q.drain())
(1, 1)
"""

from __future__ import annotations

from collections import deque
from typing import Protocol, runtime_checkable

import msgspec

from v2xcloud.model.device import DeviceKind

__all__ = ["DeviceKind", "Gateway", "InboundFrame", "IngressQueue"]


class InboundFrame(msgspec.Struct, frozen=True, kw_only=True):
    """One payload as a device sent it, before any decoding.

    ``device_id`` is the id the transport names (the RSU's ESN in its MQTT topic, the radar or
    OBU id, a UDP source registered to a device); ``message_type`` what the topic or port says
    it carries (``"BSM"``, ``"RSM"``, ``"SPAT"``, ``"MAP"``, ``"RSI"``, ``"HB"``, ``"INFO"``,
    ``"TRACK"``, ...) or None when the frame itself must tell (a generic UDP port);
    ``transport`` is ``"mqtt"``, ``"udp"``, ``"tcp"`` or ``"inproc"``; ``channel`` the topic or
    ``"udp:PORT"``; ``received_at_ms`` the platform's clock at arrival (UTC ms);
    ``sender_id`` the identity the transport itself vouches for (a UDP source bound to a
    device, an authenticated client), None when it tells none: a frame whose ``sender_id``
    differs from ``device_id`` is a device speaking for another (``IDENTITY_MISMATCH``).
    ``DeviceKind`` lives in ``model.device`` (the registry's record) and is re-exported here.
    """

    payload: bytes
    device_id: str
    device_kind: DeviceKind
    message_type: str | None
    transport: str
    channel: str
    received_at_ms: int
    sender_id: str | None = None


class IngressQueue:
    """A bounded FIFO between a gateway (producer) and the tick loop (consumer).

    ``put`` never blocks: it returns False and counts the frame in ``dropped`` when the queue
    is full (the caller dead-letters it as ``DropReason.QUEUE_FULL``). Safe for one asyncio
    loop; a gateway running on another thread must hand frames over with
    ``loop.call_soon_threadsafe``.
    """

    def __init__(self, *, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self.dropped = 0
        self._items: deque[InboundFrame] = deque()

    def put(self, frame: InboundFrame) -> bool:
        """Queue one frame; False (and counted) when full."""
        if len(self._items) >= self.capacity:
            self.dropped += 1
            return False
        self._items.append(frame)
        return True

    def drain(self, limit: int | None = None) -> list[InboundFrame]:
        """Take up to ``limit`` frames (all when None), oldest first."""
        items = self._items
        n = len(items) if limit is None else min(limit, len(items))
        return [items.popleft() for _ in range(n)]

    def __len__(self) -> int:
        return len(self._items)


@runtime_checkable
class Gateway(Protocol):
    """A transport between devices and the platform (MQTT, UDP, TCP, in-process fake).

    ``start`` connects/binds and begins putting ``InboundFrame`` items on the queue it was
    given; ``stop`` closes it and waits for its tasks; ``stats`` are its counters (frames in,
    drops per ``DropReason`` value, reconnects, down-link sent/acked/resent, ...).
    """

    name: str

    async def start(self) -> None:
        """Connect or bind; returns once the gateway is receiving."""
        ...

    async def stop(self) -> None:
        """Disconnect or unbind, and wait for the gateway's tasks to end."""
        ...

    def stats(self) -> dict[str, int]:
        """Counters of this gateway."""
        ...
