"""Read the whole V2X_FRAMES stream once, as fast as one client can: the read half of the
backbone benchmarks (``backbone_batching.py``, ``cluster_capacity.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from v2xcloud.gateways.nats import ContinuousPull
from v2xcloud.runtime import backbone


async def read_frames(
    nc: Client,
    name: str,
    *,
    expect: int,
    count: Callable[[Any], int] = lambda _msg: 1,
    timeout_s: float = 120.0,
) -> tuple[int, float]:
    """Pull every stored frame message through a new ephemeral-style consumer ``name`` (no
    acks, from the start, in memory) until ``count`` has summed to ``expect`` or ``timeout_s``
    has passed; returns (the sum, wall seconds spent reading)."""
    await nc.jetstream().add_consumer(
        backbone.FRAMES,
        ConsumerConfig(
            name=name,
            filter_subjects=["v2x.default.>"],
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.ALL,
            mem_storage=True,
            num_replicas=1,
        ),
    )
    got = 0
    done = asyncio.Event()

    async def handle(msg: Any) -> None:
        nonlocal got
        got += count(msg)
        if got >= expect:
            done.set()

    started = time.perf_counter()
    pull = ContinuousPull(nc, backbone.FRAMES, name, handle)
    await pull.start()
    try:
        while not done.is_set() and time.perf_counter() - started < timeout_s:
            await pull.watch()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 0.25)
        return got, time.perf_counter() - started
    finally:
        await pull.stop()
