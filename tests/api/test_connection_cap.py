"""The connection cap of ``api.limits`` on a real uvicorn (``ServerThread``) on 127.0.0.1, with
4 connections allowed: which connection a newcomer closes.

- Silent connections hold every slot, all opened a moment ago: a real client still gets in on
  its first try (the oldest silent one is closed), not refused until the silent ones age.
- A connection that has sent part of its headers goes before older silent ones.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from fastapi import FastAPI

from v2xcloud.api import ApiSettings
from v2xcloud.api.limits import ServerLimits
from v2xcloud.api.server import ServerThread

CAP = 4


@pytest.fixture
def server() -> Iterator[ServerThread]:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    app.state.settings = ApiSettings(server=ServerLimits(max_connections=CAP))
    with ServerThread(app) as running:
        yield running


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 5.0
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def _closed_by_server(sock: socket.socket, wait_s: float = 2.0) -> bool:
    """The server closed ``sock`` (waiting up to ``wait_s`` for it)."""
    sock.settimeout(wait_s)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _open(server: ServerThread, first_bytes: bytes = b"") -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=2.0)
    if first_bytes:
        sock.sendall(first_bytes)
    return sock


def _get_once(server: ServerThread) -> int:
    """``GET /ping`` on a new connection, no retry: the status (a reset raises)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5.0)
    try:
        conn.request("GET", "/ping")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_a_client_gets_in_at_once_while_fresh_silent_connections_hold_every_slot(
    server: ServerThread,
) -> None:
    guard = server.guard
    with ExitStack() as stack:
        silent = [stack.enter_context(_open(server)) for _ in range(CAP)]
        _until(lambda: guard.stats()["open"] == CAP, "the silent connections admitted")
        time.sleep(0.05)  # a few loop turns: they have been read, and sent nothing
        assert _get_once(server) == 200  # well under the old 1 s grace: no refusal, no retry
        assert guard.closed == {"evicted_waiting": 1}
        assert _closed_by_server(silent[0])  # the oldest
        assert not any(_closed_by_server(s, 0.05) for s in silent[1:])
    _until(lambda: guard.stats()["open"] == 0, "every connection released")
    assert guard.stats()["closing"] == 0


def test_a_half_sent_request_is_closed_before_older_silent_connections(
    server: ServerThread,
) -> None:
    guard = server.guard
    with ExitStack() as stack:
        silent = [stack.enter_context(_open(server)) for _ in range(CAP - 1)]
        _until(lambda: guard.stats()["open"] == CAP - 1, "the silent connections admitted")
        half = stack.enter_context(_open(server, b"GET /ping HTTP/1.1\r\nHost: x\r\n"))
        _until(lambda: guard.stats()["open"] == CAP, "the half-sent one admitted")
        time.sleep(0.05)
        assert _get_once(server) == 200
        assert _closed_by_server(half)
        assert not any(_closed_by_server(s, 0.05) for s in silent)
    assert guard.closed == {"evicted_waiting": 1}
