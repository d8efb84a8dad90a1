"""HTTP server limits: connections, header and body time, keep-alive, sizes — and what uvicorn
lacks against slowloris.

uvicorn has a keep-alive timeout, ``limit_concurrency`` (503 once too many requests run),
``h11_max_incomplete_event_size`` (the header size) and ``ws_max_size``; it has NO timeout for
a connection that never completes its request headers (nor for one that trickles a body), and
it accepts connections until the process runs out of file descriptors — at which point
asyncio's accept loop fails with ``EMFILE``, logs a traceback each time and stops accepting for
a second, so ``/api/health`` times out. The fix belongs in the HTTP protocol, so it is here:

``ConnectionGuard`` watches every connection of one server (``guarded_protocol`` builds the
uvicorn h11 protocol class that reports to it):

- a connection that has not completed a request's headers within ``header_timeout_s`` of
  opening or of its previous response (slowloris), or whose body has not arrived within
  ``body_timeout_s`` (slow POST), is closed;
- at most ``max_connections`` are open: a new connection beyond that closes the OLDEST one
  still waiting for its request headers (a slowloris connection, or an idle keep-alive one;
  never one younger than a second that has sent nothing yet — a real client accepted in the
  same burst whose request has not been read), so a real client gets in; only when no
  connection can be evicted is the new one closed;
- ``max_connections`` defaults to what the file-descriptor limit leaves after two listen
  backlogs (a burst of accepts happens before any of them is looked at, and the connections a
  burst evicts or refuses hold their descriptors until the loop's next turn) and a reserve for
  the process's own files, so ``EMFILE`` does not happen.

Everything closed is counted (``ConnectionGuard.stats()``, in ``/api/stats`` ``server``) and
logged at DEBUG (an attack must not become a log flood). ``server_config`` makes the one
``uvicorn.Config`` of the API (CLI and ``ServerThread``), with these limits and uvicorn's own.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import Counter
from typing import Any

import h11
import msgspec
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from v2xcloud.errors import ConfigError

__all__ = ["ConnectionGuard", "ServerLimits", "guarded_protocol", "server_config"]

logger = logging.getLogger(__name__)

_FD_RESERVE = 64  # the process's own files: store, logs, broker and EV sockets, ...


class ServerLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Limits of the HTTP server (see the module docstring).

    ``max_connections``: ``None`` derives it from the file-descriptor limit.
    ``header_timeout_s``: to complete a request's headers, from connect or the last response.
    ``body_timeout_s``: to receive a declared body once the headers are in.
    ``keep_alive_s``: uvicorn's idle keep-alive timeout.
    ``backlog``: the listen backlog (also the largest burst of accepts).
    ``max_header_bytes``: h11's largest incomplete event (request line + headers).
    ``ws_max_message_bytes``: the largest WebSocket message a client may send (the stream
    expects none but close frames and pings).
    """

    max_connections: int | None = None
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keep_alive_s: float = 5.0
    backlog: int = 64
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

    def connections(self) -> int:
        """``max_connections``, or what the soft file limit leaves (at least 16)."""
        if self.max_connections is not None:
            return self.max_connections
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            soft = 65536
        # one accept burst (up to ``backlog`` sockets) is taken before any of it is admitted,
        # and the connections a burst evicts or refuses hold their descriptors until the
        # loop's next turn: two backlogs in flight beside the admitted ones
        return max(16, int(soft) - 2 * self.backlog - _FD_RESERVE)


_GRACE_S = 1.0  # a connection this young that has sent nothing yet is never evicted


class _Entry:
    __slots__ = ("body_since", "got_bytes", "is_ws", "protocol", "since")

    def __init__(self, protocol: Any, now: float) -> None:
        self.protocol = protocol
        self.since = now  # opened, or the last response completed
        self.body_since: float | None = None
        self.is_ws = False
        self.got_bytes = False  # of the request it waits for


class ConnectionGuard:
    """Per-server connection bookkeeping; see the module docstring. Event-loop only."""

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self.max_connections = limits.connections()
        self._open: dict[int, _Entry] = {}
        self.closed: Counter[str] = Counter()
        self.admitted = 0
        self._sweeping: asyncio.TimerHandle | None = None

    def stats(self) -> dict[str, Any]:
        """Open connections, the cap, and connections closed per cause."""
        return {
            "open": len(self._open),
            "max_connections": self.max_connections,
            "admitted": self.admitted,
            "closed": dict(self.closed),
        }

    # -- called by the protocol ------------------------------------------------------------
    def admit(self, protocol: Any, loop: asyncio.AbstractEventLoop) -> None:
        """A connection opened: make room (closing the oldest one waiting for headers) or
        close it when every open connection is busy."""
        now = loop.time()
        self._purge()
        if len(self._open) >= self.max_connections:
            victim = self._oldest_waiting(now)
            if victim is None:
                self._close(protocol, "refused_full")
                return
            self._close(victim.protocol, "evicted_waiting")
            self._open.pop(id(victim.protocol), None)
        self._open[id(protocol)] = _Entry(protocol, now)
        self.admitted += 1
        if self._sweeping is None:
            self._sweeping = loop.call_later(1.0, self._sweep, loop)

    def received(self, protocol: Any) -> None:
        """Bytes arrived on the connection."""
        entry = self._open.get(id(protocol))
        if entry is not None:
            entry.got_bytes = True

    def responded(self, protocol: Any, loop: asyncio.AbstractEventLoop) -> None:
        """A response completed: the connection waits for its next request from now."""
        entry = self._open.get(id(protocol))
        if entry is not None:
            entry.since = loop.time()
            entry.body_since = None
            entry.got_bytes = False

    def upgraded(self, protocol: Any) -> None:
        """The connection became a WebSocket: counted while open, never timed out here."""
        entry = self._open.get(id(protocol))
        if entry is not None:
            entry.is_ws = True

    def forget(self, protocol: Any) -> None:
        """The connection is gone."""
        self._open.pop(id(protocol), None)

    # -- internals ---------------------------------------------------------------------------
    def _purge(self) -> None:
        gone = [k for k, e in self._open.items() if _transport_closing(e.protocol)]
        for key in gone:
            del self._open[key]

    def _oldest_waiting(self, now: float) -> _Entry | None:
        """The connection waiting longest for its request's headers — one that has sent part
        of them, or has been silent past the grace period (a real client sends its request
        at once; one accepted in the same burst as this has not been read yet)."""
        waiting = [
            e
            for e in self._open.values()
            if not e.is_ws and _waiting(e.protocol) and (e.got_bytes or now - e.since > _GRACE_S)
        ]
        return min(waiting, key=lambda e: e.since) if waiting else None

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sweeping = None
        now = loop.time()
        self._purge()
        for entry in list(self._open.values()):
            if entry.is_ws:
                continue
            state = entry.protocol.conn.their_state
            if state is h11.IDLE:
                entry.body_since = None
                if now - entry.since > self.limits.header_timeout_s:
                    self._close(entry.protocol, "header_timeout")
            elif state is h11.SEND_BODY:
                if entry.body_since is None:
                    entry.body_since = now
                elif now - entry.body_since > self.limits.body_timeout_s:
                    self._close(entry.protocol, "body_timeout")
        if self._open:
            self._sweeping = loop.call_later(1.0, self._sweep, loop)

    def _close(self, protocol: Any, why: str) -> None:
        self.closed[why] += 1
        logger.debug("HTTP connection from %s closed: %s", protocol.client, why)
        protocol.transport.close()


def _transport_closing(protocol: Any) -> bool:
    transport = protocol.transport
    return transport is None or transport.is_closing()


def _waiting(protocol: Any) -> bool:
    """Waiting for a request's headers (new, idle keep-alive, or slowloris)."""
    return protocol.conn.their_state is h11.IDLE


def guarded_protocol(guard: ConnectionGuard) -> type[H11Protocol]:
    """uvicorn's h11 protocol reporting every connection to ``guard``."""

    class GuardedH11Protocol(H11Protocol):
        """``H11Protocol`` + ``ConnectionGuard`` (header/body timeouts, connection cap)."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            guard.admit(self, self.loop)

        def connection_lost(self, exc: Exception | None) -> None:
            guard.forget(self)
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
        ws="websockets-sansio",
        ws_max_size=limits.ws_max_message_bytes,
        lifespan="on",
        backlog=limits.backlog,
        timeout_keep_alive=int(max(1, limits.keep_alive_s)),
        limit_concurrency=guard.max_connections + 16,  # requests at once (503 past it)
        h11_max_incomplete_event_size=limits.max_header_bytes,
    )
    return config, guard
