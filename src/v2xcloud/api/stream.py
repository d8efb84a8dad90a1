"""WebSocket fan-out with back-pressure: a slow client loses frames, never stalls the tick.

The platform's tick thread calls ``StreamHub.publish`` (via the ``LiveSource`` subscription);
that only schedules work on the server's event loop (``call_soon_threadsafe``) and returns.
On the loop, each frame is encoded once and offered to every client's bounded queue; a full
queue drops its oldest frame and counts it. Each client has its own sender task, so a client
whose socket is slow only ever blocks itself. At most ``max_clients`` are served at once: a
client past that is closed at once with 1013 (try again later) and counted as ``refused``.

Clients that misbehave are cut off (closed with 1008, counted) without touching the tick: one
that has not taken a frame for ``send_timeout_s`` (it does not read; its socket buffer is
full) as ``cut_slow``, one that sends more than ``client_msgs_per_s`` messages a second
(sustained; bursts of five times that) as ``cut_flood``. The server refuses messages over its
``ws_max_size`` (``api.limits.ServerLimits.ws_max_message_bytes``) itself.
"""

from __future__ import annotations

import asyncio
import logging
import time

import msgspec
from fastapi import WebSocket, WebSocketDisconnect

from v2xcloud.api.live import TickDelta
from v2xcloud.api.wire import DropsFrame, encode, tick_frame

__all__ = ["StreamHub", "StreamStats"]

logger = logging.getLogger(__name__)


class StreamStats(msgspec.Struct, frozen=True, kw_only=True):
    """Stream counters: connected clients, frames published, frames dropped (all clients),
    clients that went away while a frame was being sent to them."""

    clients: int
    frames_published: int
    frames_dropped: int
    gone_mid_send: int = 0
    refused: int = 0  # clients closed on arrival because ``max_clients`` were connected
    cut_slow: int = 0  # clients cut off because they did not read
    cut_flood: int = 0  # clients cut off because they sent too much


class _Client:
    def __init__(self, websocket: WebSocket, queue_frames: int) -> None:
        self.websocket = websocket
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_frames)
        self.dropped = 0
        self.reported_dropped = 0

    def offer(self, frame: bytes) -> bool:
        """Queue ``frame``; if full, drop the oldest queued frame. False if one was dropped."""
        is_dropped = False
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
            is_dropped = True
        self.queue.put_nowait(frame)
        return not is_dropped


class StreamHub:
    """Fans tick frames out to WebSocket clients; see the module docstring."""

    def __init__(
        self,
        *,
        queue_frames: int,
        max_clients: int = 256,
        send_timeout_s: float = 5.0,
        client_msgs_per_s: float = 20.0,
    ) -> None:
        self.queue_frames = queue_frames
        self.max_clients = max_clients
        self.send_timeout_s = send_timeout_s
        self.client_msgs_per_s = client_msgs_per_s
        self._refused = 0
        self._cut: dict[str, int] = {"slow": 0, "flood": 0}
        self._clients: set[_Client] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._published = 0
        self._dropped_gone = 0  # drops of clients that have left
        self._gone_mid_send = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach the server's event loop (at start-up)."""
        self._loop = loop

    def publish(self, delta: TickDelta) -> None:
        """Thread-safe and non-blocking: hand a tick to the event loop and return."""
        loop = self._loop
        if loop is None or loop.is_closed() or not self._clients:
            return
        try:
            loop.call_soon_threadsafe(self._fan_out, delta)
        except RuntimeError as exc:  # the loop closed between the check and the call
            logger.debug(
                "stream: tick at %d not published, loop shutting down: %s", delta.now_ms, exc
            )

    def _fan_out(self, delta: TickDelta) -> None:
        frame = encode(tick_frame(delta))
        self._published += 1
        for client in list(self._clients):
            client.offer(frame)

    def stats(self) -> StreamStats:
        """Current counters."""
        dropped = self._dropped_gone + sum(c.dropped for c in self._clients)
        return StreamStats(
            clients=len(self._clients),
            frames_published=self._published,
            frames_dropped=dropped,
            gone_mid_send=self._gone_mid_send,
            refused=self._refused,
            cut_slow=self._cut["slow"],
            cut_flood=self._cut["flood"],
        )

    async def serve(self, websocket: WebSocket) -> None:
        """Send frames to one accepted client until it disconnects (or close it at once with
        1013 when ``max_clients`` are connected already)."""
        if len(self._clients) >= self.max_clients:
            self._refused += 1
            await websocket.close(code=1013, reason=f"stream full ({self.max_clients} clients)")
            return
        client = _Client(websocket, self.queue_frames)
        self._clients.add(client)
        receiver = asyncio.create_task(self._drain_incoming(websocket))
        cut: str | None = None
        try:
            while not receiver.done():
                getter = asyncio.create_task(client.queue.get())
                done, _ = await asyncio.wait(
                    {getter, receiver}, return_when=asyncio.FIRST_COMPLETED
                )
                if getter not in done:
                    getter.cancel()
                    break
                if not await self._send(websocket, getter.result()):
                    cut = "slow"
                    break
                if client.dropped != client.reported_dropped:
                    client.reported_dropped = client.dropped
                    frame = encode(DropsFrame(dropped_frames=client.dropped))
                    if not await self._send(websocket, frame):
                        cut = "slow"
                        break
            if receiver.done() and not receiver.cancelled() and receiver.result() == "flood":
                cut = "flood"
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            # the client went away mid-send: normal for a browser tab closing; counted
            self._gone_mid_send += 1
            logger.debug("stream: client gone mid-send (%s: %s)", type(exc).__name__, exc)
        finally:
            receiver.cancel()
            self._clients.discard(client)
            self._dropped_gone += client.dropped
        if cut is not None:
            await self._cut_off(websocket, cut)

    async def _send(self, websocket: WebSocket, frame: bytes) -> bool:
        """Send one frame; ``False`` when the client has not taken it within the timeout."""
        try:
            await asyncio.wait_for(websocket.send_bytes(frame), self.send_timeout_s)
        except TimeoutError:
            return False
        return True

    async def _cut_off(self, websocket: WebSocket, why: str) -> None:
        self._cut[why] += 1
        logger.info("stream: client %s cut off (%s)", websocket.client, why)
        reason = "not reading" if why == "slow" else "sending too much"
        try:  # a client that does not read may not take the close either: bounded wait
            await asyncio.wait_for(websocket.close(code=1008, reason=reason), 1.0)
        except (TimeoutError, RuntimeError, OSError) as exc:
            logger.debug("stream: close of a cut-off client did not complete: %s", exc)

    async def _drain_incoming(self, websocket: WebSocket) -> str:
        """Read (and ignore) what the client sends, so a close is noticed promptly; returns
        ``"closed"``, or ``"flood"`` once the client sends faster than allowed."""
        rate = self.client_msgs_per_s
        burst = 5.0 * rate
        tokens, last = burst, time.monotonic()
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return "closed"
                now = time.monotonic()
                tokens = min(burst, tokens + (now - last) * rate) - 1.0
                last = now
                if tokens < 0:
                    return "flood"
        except Exception as exc:  # the socket broke: serve() notices and cleans up
            logger.debug("stream: client socket ended (%s: %s)", type(exc).__name__, exc)
            return "closed"
