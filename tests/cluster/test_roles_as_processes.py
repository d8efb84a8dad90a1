"""``serve --role gateway`` and ``serve --role centre`` as real processes on a real nats-server:
a BSM sent over UDP to the gateway lands on its tile's subject in V2X_FRAMES; an advisory a
worker publishes shows at the centre's /api/advisories; SIGTERM stops both (exit 143)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import nats
import pytest

from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.gateways.nats_server import NatsServer
from v2xcloud.model import Advisory, AdvisoryLevel, ParticipantState
from v2xcloud.runtime import backbone
from v2xcloud.runtime.tiles import cell_of, tile_of
from v2xcloud.twin.testing import bsm_at

pytestmark = pytest.mark.timeout(180)


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(args: list[str], tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    http = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "v2xcloud", "serve", "--http", f"127.0.0.1:{http}",
         "--store", "memory", "--data-dir", str(tmp_path / f"data{http}"), *args],
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    return proc, f"http://127.0.0.1:{http}"


def _until(predicate: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            got = predicate()
        except httpx.HTTPError:
            got = None
        if got:
            return got
        time.sleep(0.1)
    return None


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=10)
    return out


def _frames(url: str) -> list[Any]:
    async def read() -> list[Any]:
        nc = await nats.connect(servers=[url])
        try:
            sub = await nc.jetstream().pull_subscribe(">", stream=backbone.FRAMES)
            try:
                return list(await sub.fetch(10, timeout=0.5))
            except TimeoutError:  # nats-py raises its own or asyncio's
                return []
        finally:
            await nc.close()

    return asyncio.run(read())


def _publish_advisory(url: str, advisory: Advisory) -> None:
    async def run() -> None:
        nc = await nats.connect(servers=[url])
        try:
            subject = backbone.advisory_subject("acme", "1321", advisory.app)
            await nc.jetstream().publish(subject, msgspec.json.encode(advisory))
        finally:
            await nc.close()

    asyncio.run(run())


def _publish_snapshot(url: str, state: ParticipantState) -> None:
    """A worker's live-map snapshot of one tile (core NATS: only a subscribed centre gets it)."""

    async def run() -> None:
        nc = await nats.connect(servers=[url])
        try:
            tile = tile_of(state.lat_deg, state.lon_deg)
            snap = backbone.TileSnapshot(
                tile=tile, at_ms=state.timestamp_ms, worker="w1", participants=(state,)
            )
            await nc.publish(backbone.live_subject("acme", tile), msgspec.json.encode(snap))
            await nc.flush()
        finally:
            await nc.close()

    asyncio.run(run())


def test_gateway_and_centre_processes_on_one_backbone(tmp_path: Path) -> None:
    devices = tmp_path / "devices.toml"
    devices.write_text(
        '[[device]]\ndevice_id = "obu-1"\nkind = "obu"\ntenant = "acme"\n'
        'addresses = ["127.0.0.1"]\n'
    )
    udp = _free_port(socket.SOCK_DGRAM)
    with NatsServer(name="p0") as server:
        gateway, gw_url = _serve(
            ["--role", "gateway", "--nats", server.url, "--udp", f"127.0.0.1:{udp}",
             "--devices", str(devices), "--origin", "28.19,112.97"],
            tmp_path,
        )  # fmt: skip
        centre, centre_url = _serve(
            ["--role", "centre", "--nats", server.url, "--origin", "28.19,112.97"], tmp_path
        )
        gw_out = centre_out = ""
        try:
            assert _until(lambda: httpx.get(gw_url + "/api/health").status_code == 200, 90)
            now = int(time.time() * 1000)
            bsm = bsm_at("00000000000000b1", x_m=3.0, y_m=4.0, t_ms=now, speed_mps=9.0)
            payload = encode_model(bsm, message_set=MessageSet.CSAE2020)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(payload, ("127.0.0.1", udp + 1))  # the BSM port
            frames = _until(lambda: _frames(server.url), 20)
            assert frames, "no frame reached V2X_FRAMES"
            cell = cell_of(bsm.participant.lat_deg, bsm.participant.lon_deg)
            subject = backbone.frame_subject("acme", cell, "bsm")
            assert [(m.subject, m.data) for m in frames] == [(subject, payload)]
            assert backbone.frame_source(frames[0].headers[backbone.HEADER_MSG_ID])[0] == "obu-1"

            assert _until(lambda: httpx.get(centre_url + "/api/health").status_code == 200, 90)
            advisory = Advisory(
                app="ICW", level=AdvisoryLevel.IMMINENT, ego_id="00000000000000b1",
                other_id="00000000000000b2", issued_ms=now, expires_ms=now + 120_000,
            )  # fmt: skip
            _publish_advisory(server.url, advisory)
            shown = _until(
                lambda: [
                    a for a in httpx.get(centre_url + "/api/advisories").json() if a["app"] == "ICW"
                ],
                20,
            )
            assert shown and shown[0]["ego_id"] == "00000000000000b1", shown

            def on_the_map() -> list[Any]:  # the workers' live map is the centre's scene
                _publish_snapshot(server.url, bsm.participant)
                rows = httpx.get(centre_url + "/api/participants").json()
                return [r["id"] for r in rows]

            assert _until(on_the_map, 20) == ["00000000000000b1"]
        finally:
            gw_out = _stop(gateway)
            centre_out = _stop(centre)
    assert gateway.returncode == 143, gw_out[-3000:]
    assert centre.returncode == 143, centre_out[-3000:]
    assert "role gateway" in gw_out
