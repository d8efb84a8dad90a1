"""The WebSocket stream over a real server: frames at the tick rate, slow clients dropped."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.server import ServerThread
from v2xcloud.api.testing import ScriptedLive
from v2xcloud.store import DuckDbStore

from .conftest import T0


def _ws_url(server: ServerThread) -> str:
    return server.url.replace("http://", "ws://") + "/api/stream"


@contextlib.contextmanager
def _stalled_client(server: ServerThread) -> Iterator[socket.socket]:
    """A WebSocket client that completes the handshake and then never reads again."""
    sock = socket.create_connection((server.host, server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /api/stream HTTP/1.1\r\nHost: {server.host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert sock.recv(12) == b"HTTP/1.1 101"
    try:
        yield sock
    finally:
        sock.close()


def _step_times_ms(live: ScriptedLive, start_ms: int, ticks: int, period_s: float) -> list[float]:
    durations = []
    for i in range(ticks):
        began = time.perf_counter()
        live.step(start_ms + i * 100)
        durations.append((time.perf_counter() - began) * 1000)
        time.sleep(period_s)
    return durations


def test_frames_carry_deltas_and_advisories() -> None:
    live = ScriptedLive(start_ms=T0, hazard_at_s=0.5)
    app = create_app(live=live, store=DuckDbStore(data_dir=None), settings=ApiSettings())
    with ServerThread(app) as server, connect(_ws_url(server)) as ws:
        time.sleep(0.2)
        for i in range(15):
            live.step(T0 + i * 100)
        frames = [json.loads(ws.recv(timeout=5)) for _ in range(15)]
    assert [f["now_ms"] - T0 for f in frames] == [i * 100 for i in range(15)]
    assert all(f["type"] == "tick" for f in frames)
    assert len(frames[0]["participants"]) == 9
    assert {"id", "kind", "lat_deg", "lon_deg", "heading_deg"} <= set(frames[0]["participants"][0])
    assert frames[5]["events"][0]["kind"] == "stalled_vehicle"
    assert any(a["app"] == "AVW" for f in frames for a in f["advisories"])
    assert frames[-1]["signals"][0]["phases"][0]["states"][0]["light"] == "protected-green"


def test_slow_client_gets_drops_counted_and_never_slows_the_tick() -> None:
    live = ScriptedLive(start_ms=T0, vehicles=400)  # ~60 kB frames fill socket buffers fast
    # long enough that the stalled client is not cut off during the test (see the next test)
    settings = ApiSettings(stream_queue_frames=4, stream_send_timeout_s=120.0)
    app = create_app(live=live, store=DuckDbStore(data_dir=None), settings=settings)
    with ServerThread(app) as server:
        baseline = _step_times_ms(live, T0, 40, 0.01)
        received: list[int] = []
        stop = threading.Event()

        def fast_reader() -> None:
            with connect(_ws_url(server), max_size=None) as fast:
                while not stop.is_set():
                    try:
                        frame = json.loads(fast.recv(timeout=0.5))
                    except TimeoutError:
                        continue
                    if frame["type"] == "tick":
                        received.append(frame["now_ms"])

        reader = threading.Thread(target=fast_reader, daemon=True)
        reader.start()
        with _stalled_client(server):
            time.sleep(0.3)
            loaded = _step_times_ms(live, T0 + 10_000, 200, 0.01)
            time.sleep(0.5)
            stream = app.state.hub.stats()
            assert stream.clients == 2
            assert stream.frames_published >= 200
            assert stream.frames_dropped > 50  # the slow client lost frames ...
        stop.set()
        reader.join(timeout=5)
    # ... while the tick did not wait for it, and the fast client kept up.
    assert statistics.median(loaded) < 3 * statistics.median(baseline) + 5
    assert max(loaded) < 250
    assert len(received) >= 150
    assert received == sorted(received)


def test_clients_past_the_limit_are_closed_with_try_again_later() -> None:
    live = ScriptedLive(start_ms=T0)
    settings = ApiSettings(stream_max_clients=2)
    app = create_app(live=live, store=DuckDbStore(data_dir=None), settings=settings)
    with ServerThread(app) as server, connect(_ws_url(server)) as a, connect(_ws_url(server)) as b:
        time.sleep(0.2)
        for _ in range(20):  # many more arrive while two are served
            with connect(_ws_url(server)) as extra:
                with pytest.raises(ConnectionClosed) as closed:
                    extra.recv(timeout=5)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        live.step(T0)
        assert json.loads(a.recv(timeout=5))["type"] == json.loads(b.recv(timeout=5))["type"]
        stats = app.state.hub.stats()
    assert (stats.clients, stats.refused) == (2, 20)


def test_a_client_that_does_not_read_or_floods_is_cut_off_without_slowing_the_tick() -> None:
    live = ScriptedLive(start_ms=T0, vehicles=400)
    settings = ApiSettings(stream_queue_frames=4, stream_send_timeout_s=1.0)
    app = create_app(live=live, store=DuckDbStore(data_dir=None), settings=settings)
    with ServerThread(app) as server:
        baseline = _step_times_ms(live, T0, 30, 0.01)
        with _stalled_client(server), connect(_ws_url(server), max_size=None) as flooder:
            time.sleep(0.3)
            sent = 0
            with contextlib.suppress(ConnectionClosed, OSError):
                for _ in range(2000):  # 20 msg/s allowed, bursts of 100
                    flooder.send("x")
                    sent += 1
            loaded = _step_times_ms(live, T0 + 10_000, 60, 0.05)  # 3 s: past the send timeout
            deadline = time.monotonic() + 5
            while app.state.hub.stats().clients and time.monotonic() < deadline:
                live.step(T0 + 20_000)
                time.sleep(0.1)
            stream = app.state.hub.stats()
            with pytest.raises(ConnectionClosed) as closed:
                for _ in range(100):
                    flooder.recv(timeout=1)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert stream.cut_slow == 1 and stream.cut_flood == 1 and stream.clients == 0
    assert statistics.median(loaded) < 3 * statistics.median(baseline) + 5
