"""WebSocket fan-out with back-pressure: a slow client loses frames, never stalls the tick.

The platform's tick thread calls ``StreamHub.publish`` (via the ``LiveSource`` subscription);
that only schedules work on the server's event loop (``call_soon_threadsafe``) and returns.
On the loop, each frame is encoded once and offered to every client's bounded queue; a full
queue drops its oldest frame and counts it. Each client has its own sender task, so a client
whose socket is slow only ever blocks itself. At most ``max_clients`` are served at once: a
client past that is closed at once with 1013 (try again later) and counted as ``refused``.
"""

from __future__ import annotations

import asyncio
import logging

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

    def __init__(self, *, queue_frames: int, max_clients: int = 256) -> None:
        self.queue_frames = queue_frames
        self.max_clients = max_clients
        self._refused = 0
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
        try:
            while not receiver.done():
                getter = asyncio.create_task(client.queue.get())
                done, _ = await asyncio.wait(
                    {getter, receiver}, return_when=asyncio.FIRST_COMPLETED
                )
                if getter not in done:
                    getter.cancel()
                    break
                await websocket.send_bytes(getter.result())
                if client.dropped != client.reported_dropped:
                    client.reported_dropped = client.dropped
                    await websocket.send_bytes(encode(DropsFrame(dropped_frames=client.dropped)))
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            # the client went away mid-send: normal for a browser tab closing; counted
            self._gone_mid_send += 1
            logger.debug("stream: client gone mid-send (%s: %s)", type(exc).__name__, exc)
        finally:
            receiver.cancel()
            self._clients.discard(client)
            self._dropped_gone += client.dropped

    @staticmethod
    async def _drain_incoming(websocket: WebSocket) -> None:
        """Read (and ignore) what the client sends, so a close is noticed promptly."""
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
        except Exception as exc:  # the socket broke: serve() notices and cleans up
            logger.debug("stream: client socket ended (%s: %s)", type(exc).__name__, exc)
