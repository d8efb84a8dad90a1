"""HTTP server limits: connections, header and body time, keep-alive, sizes — and what uvicorn
lacks against slowloris.

uvicorn has a keep-alive timeout, ``limit_concurrency`` (503 once too many requests run),
``h11_max_incomplete_event_size`` (the header size) and ``ws_max_size``; it has NO timeout for
a connection that never completes its request headers (nor for one that trickles a body), and
it accepts connections until the process runs out of file descriptors — at which point
asyncio's accept loop fails with ``EMFILE``, logs a traceback each time and stops accepting for
a second, so ``/api/health`` times out. The fix belongs in the HTTP protocol, so it is here:

``ConnectionGuard`` watches every connection of one server (``guarded_protocol`` and
``guarded_ws_protocol`` build the uvicorn protocol classes that report to it), from
``connection_made`` to ``connection_lost`` — a connection it closed still holds its descriptor
until then, so it is still counted:

- a connection that has not completed a request's headers within ``header_timeout_s`` of
  opening or of its previous response (slowloris), or whose body has not arrived within
  ``body_timeout_s`` (slow POST), is closed;
- at most ``max_connections`` are open: a new connection beyond that closes one still waiting
  for its request headers — first one that has sent part of them (slowloris), then one silent
  since it opened although the loop has read it (a real client sends its request at once),
  then an idle keep-alive one, the longest waiting of that kind — so a real client gets in.
  A connection opened in the last two loop turns has not been read yet and is never chosen;
  only when no connection can be closed is the new one closed;
- a connection the guard closes is aborted and leaves uvicorn's connection set at once:
  uvicorn's ``limit_concurrency`` (503) counts that set, and closing connections must not
  make a real client's request a 503 while their descriptors are released;
- ``max_connections`` defaults to what the file-descriptor limit leaves after three accept
  bursts of ``backlog`` (asyncio admits a burst two loop turns after accepting it, so two are
  accepted and not yet admitted while a third is being admitted, whose connections past the
  cap are closed and released a turn later) and a reserve for the process's own files, so
  ``EMFILE`` does not happen; ``Server`` lets the kernel queue ``listen_queue`` connections
  beside that (uvicorn uses one ``backlog`` for both), so a burst waits in the kernel instead
  of a new client's SYN being dropped (a one-second stall).

Everything closed is counted (``ConnectionGuard.stats()``, in ``/api/stats`` ``server``) and
logged at DEBUG (an attack must not become a log flood). ``server_config`` makes the one
``uvicorn.Config`` of the API (CLI and ``ServerThread``, both run it in ``Server``), with these
limits and uvicorn's own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import socket
from collections import Counter
from typing import Any

import h11
import msgspec
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from v2xcloud.errors import ConfigError

__all__ = [
    "ConnectionGuard",
    "Server",
    "ServerLimits",
    "guarded_protocol",
    "guarded_ws_protocol",
    "server_config",
]

logger = logging.getLogger(__name__)

_FD_RESERVE = 64  # the process's own files: store, logs, broker and EV sockets, ...


class ServerLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Limits of the HTTP server (see the module docstring).

    ``max_connections``: ``None`` derives it from the file-descriptor limit.
    ``header_timeout_s``: to complete a request's headers, from connect or the last response.
    ``body_timeout_s``: to receive a declared body once the headers are in.
    ``keep_alive_s``: uvicorn's idle keep-alive timeout.
    ``backlog``: the largest burst of accepts in one loop turn (asyncio's accept loop).
    ``listen_queue``: connections the kernel holds for the server to accept (the listening
    socket's backlog, capped by ``net.core.somaxconn``); past it the kernel drops a new
    client's SYN and the client retries one second later.
    ``max_header_bytes``: h11's largest incomplete event (request line + headers).
    ``ws_max_message_bytes``: the largest WebSocket message a client may send (the stream
    expects none but close frames and pings).
    """

    max_connections: int | None = None
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keep_alive_s: float = 5.0
    backlog: int = 16
    listen_queue: int = 1024
    max_header_bytes: int = 16_384
    ws_max_message_bytes: int = 4096

    def __post_init__(self) -> None:
        if self.max_connections is not None and self.max_connections < 1:
            raise ConfigError(f"max_connections {self.max_connections}: at least 1")
        for name in ("header_timeout_s", "body_timeout_s", "keep_alive_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive")
        if not 1 <= self.backlog <= 65535:
            raise ConfigError(f"backlog {self.backlog}: between 1 and 65535")
        if not self.backlog <= self.listen_queue <= 65535:
            raise ConfigError(f"listen_queue {self.listen_queue}: between backlog and 65535")

    def connections(self) -> int:
        """``max_connections``, or what the soft file limit leaves (at least 16)."""
        if self.max_connections is not None:
            return self.max_connections
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            soft = 65536
        # descriptors beside the admitted connections: a burst accepted in one turn is
        # admitted two turns later (a task, then the transport), so two bursts are accepted and
        # not yet admitted while a third is being admitted, whose connections past the cap are
        # closed and release their descriptors one turn later
        return max(16, int(soft) - 3 * self.backlog - _FD_RESERVE)


class _Entry:
    __slots__ = (
        "body_since",
        "closing",
        "got_bytes",
        "is_ws",
        "protocol",
        "served",
        "since",
        "turn",
    )

    def __init__(self, protocol: Any, now: float, turn: int) -> None:
        self.protocol = protocol
        self.since = now  # opened, or the last response completed
        self.turn = turn  # the guard's loop turn when it opened
        self.body_since: float | None = None
        self.closing = False  # closed by the guard, its descriptor not yet released
        self.is_ws = False
        self.got_bytes = False  # of the request it waits for
        self.served = False  # a response completed on it (an idle keep-alive connection)


class ConnectionGuard:
    """Per-server connection bookkeeping; see the module docstring. Event-loop only.

    A connection is counted from ``connection_made`` to ``connection_lost`` (the transport
    releases its descriptor right after), closing or not, WebSocket or not."""

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self.max_connections = limits.connections()
        self._open: dict[int, _Entry] = {}  # id(transport) -> entry, in order of opening
        self._closing = 0
        self.closed: Counter[str] = Counter()
        self.admitted = 0
        self.peak_open = 0
        self._turn = 0  # loop turns counted while a connection may still be unread
        self._turn_pending = False
        self._last_admit_turn = -2
        self._sweeping: asyncio.TimerHandle | None = None

    def stats(self) -> dict[str, Any]:
        """Open connections (closing ones included until their descriptor is released), the
        most at once, the cap, and connections closed per cause."""
        return {
            "open": len(self._open),
            "closing": self._closing,
            "peak_open": self.peak_open,
            "max_connections": self.max_connections,
            "admitted": self.admitted,
            "closed": dict(self.closed),
        }

    # -- called by the protocols -------------------------------------------------------------
    def admit(self, protocol: Any, loop: asyncio.AbstractEventLoop) -> None:
        """A connection opened: count it and, past the cap, close the connection that has
        waited longest for its request (or the new one when every other is busy or unread)."""
        entry = _Entry(protocol, loop.time(), self._turn)
        self._open[id(protocol.transport)] = entry
        self.admitted += 1
        self.peak_open = max(self.peak_open, len(self._open))
        self._last_admit_turn = self._turn
        self._count_turns(loop)
        if len(self._open) > self.max_connections:
            victim = self._victim()
            self._close(victim or entry, "evicted_waiting" if victim else "refused_full")
        if self._sweeping is None:
            self._sweeping = loop.call_later(1.0, self._sweep, loop)

    def received(self, protocol: Any) -> None:
        """Bytes arrived on the connection."""
        entry = self._open.get(id(protocol.transport))
        if entry is not None:
            entry.got_bytes = True

    def responded(self, protocol: Any, loop: asyncio.AbstractEventLoop) -> None:
        """A response completed: the connection waits for its next request from now."""
        entry = self._open.get(id(protocol.transport))
        if entry is not None:
            entry.since = loop.time()
            entry.body_since = None
            entry.got_bytes = False
            entry.served = True

    def upgraded(self, protocol: Any) -> None:
        """The connection became a WebSocket: counted while open, never timed out here."""
        entry = self._open.get(id(protocol.transport))
        if entry is not None:
            entry.is_ws = True

    def forget(self, transport: Any) -> None:
        """The connection is lost: its transport releases the descriptor now."""
        entry = self._open.pop(id(transport), None)
        if entry is not None and entry.closing:
            self._closing -= 1

    # -- internals ---------------------------------------------------------------------------
    def _count_turns(self, loop: asyncio.AbstractEventLoop) -> None:
        """Advance ``_turn`` once per loop turn while a connection opened in the last two
        may still be unread. A callback scheduled now runs next turn BEFORE the reads that
        turn's poll found, so a connection opened at turn k has had its first poll's bytes
        delivered once ``_turn`` reaches k + 2."""
        if not self._turn_pending:
            self._turn_pending = True
            loop.call_soon(self._next_turn, loop)

    def _next_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        self._turn += 1
        self._turn_pending = False
        if self._turn - self._last_admit_turn < 2:
            self._count_turns(loop)

    def _victim(self) -> _Entry | None:
        """The connection to close for a newcomer: one waiting for its request's headers,
        first one that sent part of them (slowloris), then one silent since it opened though
        the loop has read it (a real client sends its request at once), then an idle
        keep-alive one; the longest waiting of the first such kind. A connection the loop
        has not read yet (opened in this burst) is never chosen: it may be a real client."""
        best: _Entry | None = None
        best_key = (3, 0.0)
        for entry in self._open.values():
            if entry.closing or entry.is_ws or entry.protocol.conn.their_state is not h11.IDLE:
                continue
            if entry.got_bytes:
                kind = 0
            elif entry.served:
                kind = 2
            elif self._turn - entry.turn >= 2:
                kind = 1
            else:
                continue
            key = (kind, entry.since)
            if key < best_key:
                best, best_key = entry, key
        return best

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sweeping = None
        now = loop.time()
        for entry in list(self._open.values()):
            if entry.is_ws or entry.closing:
                continue
            state = entry.protocol.conn.their_state
            if state is h11.IDLE:
                entry.body_since = None
                if now - entry.since > self.limits.header_timeout_s:
                    self._close(entry, "header_timeout")
            elif state is h11.SEND_BODY:
                if entry.body_since is None:
                    entry.body_since = now
                elif now - entry.body_since > self.limits.body_timeout_s:
                    self._close(entry, "body_timeout")
        if self._open:
            self._sweeping = loop.call_later(1.0, self._sweep, loop)

    def _close(self, entry: _Entry, why: str) -> None:
        """Abort the connection (unsent output dropped, so it cannot linger on a client that
        does not read) and stop counting it as uvicorn's connection: uvicorn's request
        concurrency (``limit_concurrency``, 503) counts its connection set, and a connection
        closed here must not count there while its descriptor is being released."""
        protocol = entry.protocol
        entry.closing = True
        self._closing += 1
        self.closed[why] += 1
        logger.debug("HTTP connection from %s closed: %s", protocol.client, why)
        protocol.connections.discard(protocol)
        protocol.transport.abort()


def guarded_protocol(guard: ConnectionGuard) -> type[H11Protocol]:
    """uvicorn's h11 protocol reporting every connection to ``guard``."""

    class GuardedH11Protocol(H11Protocol):
        """``H11Protocol`` + ``ConnectionGuard`` (header/body timeouts, connection cap)."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            guard.admit(self, self.loop)

        def connection_lost(self, exc: Exception | None) -> None:
            guard.forget(self.transport)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            guard.received(self)
            super().data_received(data)

        def on_response_complete(self) -> None:
            guard.responded(self, self.loop)
            super().on_response_complete()

        def handle_websocket_upgrade(self, event: h11.Request) -> None:
            guard.upgraded(self)
            super().handle_websocket_upgrade(event)

    return GuardedH11Protocol


def guarded_ws_protocol(guard: ConnectionGuard) -> type[WebSocketsSansIOProtocol]:
    """uvicorn's WebSocket protocol (it takes over an upgraded connection's transport)
    telling ``guard`` when the connection is lost."""

    class GuardedWebSocketProtocol(WebSocketsSansIOProtocol):
        """``WebSocketsSansIOProtocol`` + ``ConnectionGuard.forget``."""

        def connection_lost(self, exc: Exception | None) -> None:
            guard.forget(self.transport)
            super().connection_lost(exc)

    return GuardedWebSocketProtocol


class Server(uvicorn.Server):
    """``uvicorn.Server`` whose listening sockets let the kernel queue ``listen_queue``
    connections, while asyncio still accepts at most ``backlog`` per loop turn (uvicorn gives
    both its one ``backlog``): a burst of connections waits in the kernel instead of having
    its SYNs dropped, and the descriptors taken per turn stay bounded."""

    def __init__(self, config: uvicorn.Config, limits: ServerLimits) -> None:
        super().__init__(config)
        self.listen_queue = limits.listen_queue

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's startup, then each listening socket's queue raised to ``listen_queue``."""
        await super().startup(sockets=sockets)
        for server in getattr(self, "servers", ()):
            for sock in server.sockets:
                with socket.socket(fileno=os.dup(sock.fileno())) as same:
                    same.listen(self.listen_queue)


def server_config(
    app: Any,
    *,
    host: str,
    port: int,
    limits: ServerLimits,
    log_level: str = "warning",
) -> tuple[uvicorn.Config, ConnectionGuard]:
    """The API's ``uvicorn.Config`` with ``limits`` applied, and the guard it reports to."""
    guard = ConnectionGuard(limits)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # records go to the process's logging configuration (cli.logs)
        log_level=log_level,
        http=guarded_protocol(guard),
        ws=guarded_ws_protocol(guard),
        ws_max_size=limits.ws_max_message_bytes,
        lifespan="on",
        backlog=limits.backlog,
        timeout_keep_alive=int(max(1, limits.keep_alive_s)),
        limit_concurrency=guard.max_connections + 16,  # requests at once (503 past it)
        h11_max_incomplete_event_size=limits.max_header_bytes,
    )
    return config, guard
