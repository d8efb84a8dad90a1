"""Helpers the cluster tests share: read a whole JetStream stream, wait for workers to join,
and a worker's final stats (the last JSON line a worker process logs when it stops)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import nats
from nats.js import JetStreamContext

from v2xcloud.gateways.nats import kv_keys
from v2xcloud.gateways.tile_worker import MEMBERS_BUCKET

__all__ = ["joined", "read_stream", "worker_stats"]


def read_stream(url: str, stream: str, *, timeout_s: float = 10.0) -> list[Any]:
    """Every message ``stream`` holds now (a pull consumer from its start), in order; fewer if
    they do not all arrive within ``timeout_s``."""

    async def read() -> list[Any]:
        nc = await nats.connect(servers=[url])
        try:
            js = nc.jetstream()
            want = (await js.stream_info(stream)).state.messages
            sub = await js.pull_subscribe(">", stream=stream)
            out: list[Any] = []
            deadline = time.monotonic() + timeout_s
            while len(out) < want and time.monotonic() < deadline:
                try:
                    out.extend(await sub.fetch(want - len(out), timeout=0.5))
                except TimeoutError:
                    continue
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


def worker_stats(log: str | Path) -> dict[str, Any]:
    """The stats a worker logged last (its final JSON line); ``log`` a path or the text."""
    text = log.read_text() if isinstance(log, Path) else log
    lines = [line for line in text.splitlines() if line.startswith("{")]
    return dict(json.loads(lines[-1]))


async def joined(js: JetStreamContext, want: int | set[str], *, timeout_s: float = 60.0) -> None:
    """Wait until ``want`` workers (a count, or these ids) have heartbeat keys in the members
    bucket (it exists once a worker has set the buckets up); ``AssertionError`` after
    ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            keys = set(await kv_keys(await js.key_value(MEMBERS_BUCKET)))
            if (len(keys) >= want) if isinstance(want, int) else want <= keys:
                return
        except nats.js.errors.BucketNotFoundError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"workers {want} did not join within {timeout_s} s")
        await asyncio.sleep(0.1)
