"""One clock, one tick: the serve loop ticks the runtime at its clock's time, and REST
``/api/advisories`` shows the very tick the WebSocket stream just sent; failures in the
runtime reach ``/api/stats``."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient

from v2xcloud.api import ApiSettings, TickDelta, create_app
from v2xcloud.api.runtime_live import RuntimeLive
from v2xcloud.apps import ForwardCollisionWarning
from v2xcloud.errors import ConfigError
from v2xcloud.model import Advisory
from v2xcloud.runtime import ManualClock, Runtime
from v2xcloud.store import DuckDbStore
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

from .conftest import T0


def _feed(runtime: Runtime, k: int) -> None:
    """Tick ``k`` of an ego at 15 m/s closing on a standing lead (FCW after about 1.5 s)."""
    t = runtime.clock.now_ms()
    runtime.ingest(
        bsm_at("ego", x_m=0, y_m=1.5 * k, t_ms=t, speed_mps=15.0), received_at_ms=t, source="e"
    )
    runtime.ingest(
        bsm_at("lead", x_m=0, y_m=64.5, t_ms=t, speed_mps=0.0), received_at_ms=t, source="l"
    )


def _keys(advisories: Sequence[dict[str, object]]) -> set[tuple[object, ...]]:
    return {(a["app"], a["ego_id"], a["other_id"], a["issued_ms"]) for a in advisories}


def test_rest_advisories_agree_with_the_stream_on_the_same_tick() -> None:
    clock = ManualClock(T0)
    runtime = Runtime(frame=TEST_FRAME, apps=[ForwardCollisionWarning()], detectors=(), clock=clock)
    live = RuntimeLive(runtime)
    app = create_app(live=live, store=DuckDbStore(data_dir=None), settings=ApiSettings())
    first_warned = None
    with TestClient(app) as client, client.websocket_connect("/api/stream") as ws:
        for k in range(30):
            _feed(runtime, k)
            live.step()  # at the clock's time
            frame = json.loads(ws.receive_bytes())
            assert frame["now_ms"] == clock.now_ms()
            streamed = _keys(frame["advisories"])
            rest = _keys(client.get("/api/advisories").json())
            assert streamed <= rest, f"tick {k}: REST lags the stream"
            if streamed and first_warned is None:
                first_warned = k
            clock.advance(100)
    assert first_warned is not None and 10 <= first_warned < 30  # an FCW was streamed


def test_serve_loop_ticks_at_the_clock_time() -> None:
    clock = ManualClock(T0)
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=(), clock=clock)
    live = RuntimeLive(runtime)
    seen: list[int] = []
    live.subscribe(lambda delta: seen.append(delta.now_ms))
    with pytest.raises(ConfigError):
        live.start(hz=0)
    live.start(hz=200.0)
    try:
        deadline = time.monotonic() + 5
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        clock.set(T0 + 60_000)
        while (not seen or seen[-1] != T0 + 60_000) and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(ConfigError, match="already running"):
            live.start(hz=10.0)
    finally:
        live.stop()
    assert seen[0] == T0 and seen[-1] == T0 + 60_000  # never the wall clock
    assert set(seen) == {T0, T0 + 60_000}


class _Broken:
    code = "BROKEN"

    def on_tick(self, view: object, now_ms: int) -> list[Advisory]:
        raise ValueError("app bug")


def test_isolated_failures_reach_api_stats(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock(T0)
    runtime = Runtime(frame=TEST_FRAME, apps=[_Broken()], detectors=(), clock=clock)
    live = RuntimeLive(runtime)
    got: list[TickDelta] = []

    def broken_subscriber(delta: TickDelta) -> None:
        raise RuntimeError("subscriber bug")

    live.subscribe(broken_subscriber)
    live.subscribe(got.append)  # still told of every tick
    with caplog.at_level(logging.ERROR, logger="v2xcloud"):
        for _ in range(12):
            live.step()
            clock.advance(100)
    assert len(got) == 12
    app = create_app(live=live, store=DuckDbStore(data_dir=None), settings=ApiSettings())
    with TestClient(app) as client:
        platform = client.get("/api/stats").json()["platform"]
    assert platform["errors"]["app:BROKEN"] >= 11  # stats refresh once a second of clock time
    name = "subscriber:test_isolated_failures_reach_api_stats.<locals>.broken_subscriber"
    assert platform["errors"][name] >= 10
    assert platform["last_errors"]["app:BROKEN"] == "ValueError: app bug"
    assert runtime.stats()["errors"]["app:BROKEN"] == 12
    logged = sorted(r.boundary for r in caplog.records if hasattr(r, "boundary"))  # type: ignore[attr-defined]
    assert logged == ["app:BROKEN", name]
