"""The bench over a real broker: each step's frames go device → Mosquitto → gateway → platform.

In-process, the bench hands the channel's deliveries straight to the platform. ``MqttLink``
puts a real MQTT path in between without giving up the bench's determinism:

1. each simulation step, the frames the channel delivers are published by the simulated devices
   (``sim.devices``: one MQTT client per device, its own topics, QoS 1), in delivery order,
   plus a heartbeat from every RSU once per simulated second;
2. the link waits until the platform's gateway has received every one of them: per topic,
   MQTT keeps one publisher's order, so the k-th frame received on a topic is the k-th
   published there (the per-device sequence); its payload is checked byte for byte;
3. the received ``InboundFrame`` items enter the platform's ingest path in the order the
   channel delivered them, stamped with the channel's simulated arrival time (the bench's
   clock; the wall-clock arrival is kept for the transit figures), and then the bench ticks.

So what the scorer judges is what really came through the broker, and a run via MQTT scores
exactly like the in-process run of the same scenario. A frame missing after ``timeout_s``, or
one that differs from what was sent, raises ``SimulationError`` naming the topic.

The MQTT clients and the gateway live on one asyncio loop in a background thread; the bench,
SUMO and the platform stay on the caller's thread, and ``ingest`` is called there.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from v2xcloud.errors import ConfigError, SimulationError
from v2xcloud.gateways.base import Gateway, InboundFrame, IngressQueue
from v2xcloud.sim.channel import Arrival
from v2xcloud.sim.devices import (
    Device,
    DeviceDirectory,
    DeviceSigning,
    MqttDevices,
    PayloadFormat,
    heartbeat_payload,
    render_payload,
)

if TYPE_CHECKING:
    from v2xcloud.gateways.ingest import Ingestor
    from v2xcloud.gateways.mqtt import MqttCredentials
    from v2xcloud.runtime import Runtime
    from v2xcloud.sim.platform import Platform
    from v2xcloud.sim.result import RunConfig, ScenarioResult
    from v2xcloud.sim.scenario import Scenario

__all__ = [
    "AsyncThread",
    "LinkStats",
    "MqttLink",
    "broker",
    "percentile",
    "platform_link",
    "publish_scenario",
    "run_through_broker",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
Ingest = Callable[[InboundFrame], None]
GatewayFactory = Callable[[IngressQueue], Gateway]


class AsyncThread:
    """An asyncio loop on a daemon thread; ``run(coro)`` runs a coroutine there and waits."""

    def __init__(self, name: str = "v2xsim-mqtt") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], *, timeout_s: float | None = None) -> T:
        """Run ``coro`` on the loop and return its result (its exception re-raised here)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self) -> None:
        """Stop the loop and join the thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10.0)
        self.loop.close()


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100, nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100.0 * len(ordered) + 0.5) - 1))
    return float(ordered[k])


@dataclass
class LinkStats:
    """What crossed the broker: frames published and received (heartbeats apart), and the
    wall-clock transit publish → gateway, ms (a bounded reservoir of the latest samples)."""

    published: int = 0
    received: int = 0
    heartbeats: int = 0
    unexpected: int = 0  # received on a topic with nothing outstanding (a QoS 1 duplicate)
    steps: int = 0
    wait_s: float = 0.0  # wall time spent waiting for the gateway
    transit_ms: deque[float] = field(default_factory=lambda: deque(maxlen=200_000))

    def summary(self) -> dict[str, Any]:
        """Counters and transit p50/p99/max in ms."""
        t = list(self.transit_ms)
        return {
            "published": self.published,
            "received": self.received,
            "heartbeats": self.heartbeats,
            "unexpected": self.unexpected,
            "steps": self.steps,
            "wait_s": round(self.wait_s, 3),
            "transit_p50_ms": percentile(t, 50),
            "transit_p99_ms": percentile(t, 99),
            "transit_max_ms": max(t) if t else None,
        }


@dataclass
class _Outstanding:
    payload: bytes
    index: int  # position in the step's delivery order; -1 for heartbeats
    sent_wall_ms: float


class MqttLink:
    """Carries each step's deliveries through a real broker into the platform's ingest path.

    ``url`` is the broker; ``gateway_factory(queue)`` makes the platform's gateway, which puts
    every frame it receives on ``queue``; ``ingest(frame)`` is the platform's ingest path (called
    on the bench's thread with frames re-stamped to simulated arrival time). ``payload`` picks
    UPER, hex or CSAE JSON; ``timeout_s`` bounds each step's wait. Use as a context manager or
    call ``start``/``close``.
    """

    def __init__(
        self,
        *,
        url: str,
        gateway_factory: GatewayFactory | None,
        ingest: Ingest | None,
        payload: PayloadFormat = PayloadFormat.UPER,
        message_set: str = "csae2020",
        timeout_s: float = 30.0,
        heartbeat_ms: int = 1000,
        max_clients: int = 1000,
        queue_capacity: int = 200_000,
        credentials: Callable[[str], MqttCredentials] | None = None,
    ) -> None:
        if (gateway_factory is None) != (ingest is None):
            raise SimulationError("MqttLink: give both gateway_factory and ingest, or neither")
        self.url = url
        self.payload = payload
        self.message_set = message_set
        self.timeout_s = timeout_s
        self.heartbeat_ms = heartbeat_ms
        self.stats = LinkStats()
        self.directory: DeviceDirectory | None = None
        self.devices = MqttDevices(url, max_clients=max_clients, credentials=credentials)
        self.queue = IngressQueue(capacity=queue_capacity)
        self._factory = gateway_factory
        self._ingest = ingest
        self.gateway: Gateway | None = None
        self._thread: AsyncThread | None = None
        self._next_hb_ms: int | None = None

    @property
    def is_publish_only(self) -> bool:
        """True when no gateway listens here (``v2xcloud devices``): publish and flush only."""
        return self._factory is None

    def bind(self, directory: DeviceDirectory) -> None:
        """Say who the bench's senders are (called by the bench once it knows its RSUs)."""
        self.directory = directory

    def start(self) -> None:
        """Start the loop thread, the gateway (subscribed before any device speaks) and the
        device clients."""
        self._thread = AsyncThread()
        try:
            self._thread.run(self._start(), timeout_s=30.0)
        except BaseException:
            self.close()
            raise

    async def _start(self) -> None:
        if self._factory is not None:
            self.gateway = self._factory(self.queue)
            await self.gateway.start()
        await self.devices.start()

    def carry(self, deliveries: Sequence[Arrival], now_ms: int) -> list[Arrival]:
        """Publish the step's deliveries as their devices, wait for the gateway to receive them
        all, ingest them in delivery order at their simulated arrival times; returns the
        deliveries that went through (all of them, or ``SimulationError``)."""
        if self._thread is None or self.directory is None:
            raise SimulationError("MqttLink: start() and bind() before carry()")
        directory = self.directory
        items: list[tuple[Device, str, bytes, int]] = []
        for k, d in enumerate(deliveries):
            dev = directory.device_for(d.sender, d.kind)
            body = render_payload(d.raw, self.payload, message_set=self.message_set)
            items.append((dev, d.kind, body, k))
        if self._next_hb_ms is None or now_ms >= self._next_hb_ms:
            self._next_hb_ms = now_ms + self.heartbeat_ms
            for rsu in directory.rsus():
                items.append((rsu, "HB", heartbeat_payload(rsu.device_id, now_ms), -1))
        t0 = time.perf_counter()
        received = self._thread.run(self._step(items))
        self.stats.wait_s += time.perf_counter() - t0
        self.stats.steps += 1
        if self._ingest is None:
            return list(deliveries)
        for k, frame in received:
            if k < 0:
                self._ingest(msgspec.structs.replace(frame, received_at_ms=now_ms))
            else:
                self._ingest(msgspec.structs.replace(frame, received_at_ms=deliveries[k].arrive_ms))
        return list(deliveries)

    async def _step(
        self, items: list[tuple[Device, str, bytes, int]]
    ) -> list[tuple[int, InboundFrame]]:
        outstanding: dict[str, deque[_Outstanding]] = {}
        now_wall = time.time() * 1000.0
        for dev, mtype, body, k in items:
            outstanding.setdefault(dev.topic(mtype), deque()).append(
                _Outstanding(payload=body, index=k, sent_wall_ms=now_wall)
            )
        n = await self.devices.publish((dev, mtype, body) for dev, mtype, body, _ in items)
        self.stats.published += sum(1 for *_, k in items if k >= 0)
        self.stats.heartbeats += sum(1 for *_, k in items if k < 0)
        if n != len(items):
            raise SimulationError(f"{len(items) - n} of {len(items)} publishes were refused")
        if self.is_publish_only:
            await self.devices.flush(self.timeout_s)
            return []
        got: list[tuple[int, InboundFrame]] = []
        left = len(items)
        deadline = time.monotonic() + self.timeout_s
        while left:
            for frame in self.queue.drain():
                waiting = outstanding.get(frame.channel)
                if not waiting:
                    self.stats.unexpected += 1
                    log.warning("frame on %s matches nothing sent (duplicate?)", frame.channel)
                    continue
                head = waiting.popleft()
                if frame.payload != head.payload:
                    raise SimulationError(
                        f"frame on {frame.channel} differs from the one published "
                        f"({len(frame.payload)} vs {len(head.payload)} bytes)"
                    )
                self.stats.transit_ms.append(frame.received_at_ms - head.sent_wall_ms)
                got.append((head.index, frame))
                left -= 1
            if not left:
                break
            if time.monotonic() > deadline:
                missing = {t: len(q) for t, q in outstanding.items() if q}
                raise SimulationError(
                    f"gateway received {len(items) - left} of {len(items)} frames within "
                    f"{self.timeout_s} s; still missing per topic: {_head(missing)}"
                )
            await asyncio.sleep(0.0005)
        self.stats.received += sum(1 for k, _ in got if k >= 0)
        if self.queue.dropped:
            raise SimulationError(f"the gateway's queue refused {self.queue.dropped} frames")
        got.sort(key=lambda kf: (kf[0] < 0, kf[0]))  # deliveries in order, heartbeats last
        return got

    def close(self) -> None:
        """Disconnect the devices, stop the gateway and the loop thread. Safe to call twice."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        try:
            thread.run(self._stop(), timeout_s=30.0)
        except Exception:
            log.exception("stopping the MQTT link failed")
        finally:
            thread.close()

    async def _stop(self) -> None:
        try:
            await self.devices.stop()
        finally:
            if self.gateway is not None:
                await self.gateway.stop()

    def __enter__(self) -> MqttLink:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _head(missing: dict[str, int], n: int = 5) -> str:
    shown = ", ".join(f"{t}: {c}" for t, c in list(missing.items())[:n])
    more = len(missing) - n
    return shown + (f" (+{more} topics)" if more > 0 else "")


def _platform_ingest(runtime: Runtime, message_set: str, ingestor: Ingestor | None) -> Ingest:
    """The platform's ingest path (``gateways.ingest.Ingestor``: device registry, identity
    checks, per-device rate limits, health, payload drivers) in front of ``runtime``:
    ``ingestor`` when given (e.g. the one whose registry and health an API shows), else one
    with a registry of its own.

    The bench provisions its own devices: each one is registered (tenant ``"bench"``, the
    run's message set) the first time it speaks, as an operator would before deployment.
    """
    from v2xcloud.gateways.ingest import Ingestor
    from v2xcloud.gateways.registry import DeviceRegistry
    from v2xcloud.model import Device

    if ingestor is None:
        ingestor = Ingestor(runtime, DeviceRegistry(), dead_letter=runtime.dead_letter)
    registry = ingestor.registry

    def ingest(frame: InboundFrame) -> None:
        if frame.device_id not in registry:
            registry.add(
                Device(
                    device_id=frame.device_id,
                    kind=frame.device_kind,
                    tenant="bench",
                    message_set=message_set,
                    registered_ms=frame.received_at_ms,
                )
            )
        ingestor.process(frame)

    return ingest


def platform_link(
    runtime: Runtime,
    *,
    url: str,
    payload: PayloadFormat = PayloadFormat.UPER,
    message_set: str = "csae2020",
    client_id: str | None = None,
    timeout_s: float = 30.0,
    ingestor: Ingestor | None = None,
) -> MqttLink:
    """An ``MqttLink`` whose far end is the platform: the MQTT gateway (``gateways.mqtt``)
    on ``url`` and the ingest path (``gateways.ingest``) feeding ``runtime`` (every drop
    becomes one of the runtime's dead letters).

    ``client_id`` names the gateway's persistent session; by default one unique to this
    process, so a shared broker never hands this run another run's queued messages.
    ``ingestor``: the ingest path to use (its registry receives the bench's devices and its
    health their traffic); by default one of its own.
    """
    from v2xcloud.gateways.mqtt import MqttGateway

    cid = client_id or f"v2xsim-platform-{os.getpid()}-{int(time.time() * 1000)}"

    def gateway(queue: IngressQueue) -> Gateway:
        return MqttGateway(url, queue, dead_letter=runtime.dead_letter, client_id=cid)

    return MqttLink(
        url=url,
        gateway_factory=gateway,
        ingest=_platform_ingest(runtime, message_set, ingestor),
        payload=payload,
        message_set=message_set,
        timeout_s=timeout_s,
    )


@contextmanager
def broker(url: str | None) -> Iterator[str]:
    """Yield ``url``, or, when None, the URL of a Mosquitto started here (on a free port of
    127.0.0.1, ``gateways.broker``) and stopped on exit. Its persistence snapshot is taken
    every 100,000 changes: the bench never kills it, and a save per change caps Mosquitto at a
    few hundred QoS 1 messages/s."""
    if url is not None:
        yield url
        return
    from v2xcloud.gateways.broker import Mosquitto

    with Mosquitto(autosave_interval=100_000) as b:
        yield b.url


class _RemotePlatform:
    """The bench's platform when the platform is elsewhere (``v2xcloud devices``): nothing is
    ingested or ticked here; the frames only leave through the broker."""

    def ingest_frame(
        self, raw: bytes, *, received_at_ms: int, source: str, kind: str = "unknown"
    ) -> None:
        """Never called: the link carries every frame."""
        raise SimulationError("devices mode has no local platform to ingest into")

    def tick(self, now_ms: int) -> list[Any]:
        """No local platform: no advisories."""
        return []

    def app_codes(self) -> set[str]:
        """No local applications."""
        return set()

    def misbehaviour_flags(self) -> dict[str, int]:
        """No local detection."""
        return {}

    def day2_codes(self) -> set[str]:
        """No local Day-2 applications."""
        return set()

    def take_outbound(self) -> list[Any]:
        """No local Day-2 applications: nothing sent."""
        return []


def publish_scenario(
    scenario: Scenario,
    *,
    url: str,
    payload: PayloadFormat = PayloadFormat.UPER,
    message_set: str = "csae2020",
    pace: float | None = 1.0,
    max_clients: int = 1000,
    epoch_ms: int | None = None,
    on_second: Callable[[dict[str, Any]], None] | None = None,
    signing: DeviceSigning | None = None,
    credentials: Callable[[str], MqttCredentials] | None = None,
) -> tuple[ScenarioResult, LinkStats, dict[str, int]]:
    """Publish a scenario's traffic on ``url`` as its devices would, for a platform listening
    there (``v2xcloud serve --mqtt``): every step's frames, each device on its own client and
    topics, QoS 1, each step's publishes acknowledged by the broker before the next.

    ``pace`` 1.0 is real time, None as fast as the broker acknowledges; ``epoch_ms`` is the
    wall-clock time of simulation time 0 (default: when the first step runs, after SUMO has
    started, so frame times are live).
    ``signing``: every device signs its frames (UPER payloads only; ``ConfigError`` else).
    ``credentials(device_id)``: each device logs in as itself (an authenticated broker).
    Returns the run's counters, the link's and the devices' statistics.
    """
    from v2xcloud.sim.result import RunConfig
    from v2xcloud.sim.runner import model_encoder, run_scenario

    _check_signable(payload, signing)
    config = RunConfig(
        message_set=message_set,
        epoch_ms=int(time.time() * 1000) if epoch_ms is None else epoch_ms,
        is_live_epoch=epoch_ms is None,
        has_ground_truth=False,
        via="mqtt",
        mqtt_url=url,
        mqtt_payload=payload.value,
    )
    link = MqttLink(
        url=url,
        gateway_factory=None,
        ingest=None,
        payload=payload,
        message_set=message_set,
        max_clients=max_clients,
        credentials=credentials,
    )

    def second(status: dict[str, Any]) -> None:
        if on_second is not None:
            on_second(status | link.devices.stats())

    with link:
        result = run_scenario(
            scenario,
            config=config,
            platform=_RemotePlatform(),
            encode=model_encoder(message_set),
            pace=pace,
            on_second=second,
            link=link,
            signing=signing,
        )
    return result, link.stats, link.devices.stats()


def _check_signable(payload: PayloadFormat, signing: DeviceSigning | None) -> None:
    """A signed frame travels as the secured frame's bytes: only a UPER payload carries it."""
    if signing is not None and payload is not PayloadFormat.UPER:
        raise ConfigError(
            f"signed frames are published as UPER payloads, not {payload.value}: "
            "drop --payload or use --payload uper"
        )


def run_through_broker(
    scenario: Scenario,
    *,
    config: RunConfig,
    platform: Platform,
    runtime: Runtime,
    encode: Callable[[Any], bytes],
    pace: float | None = None,
    on_second: Callable[[dict[str, Any]], None] | None = None,
    ingestor: Ingestor | None = None,
    signing: DeviceSigning | None = None,
    glosa_baseline: frozenset[str] | None = None,
) -> ScenarioResult:
    """``run_scenario`` with the frames going through a broker (``config.mqtt_url``, or a
    Mosquitto started and stopped here) and the platform's MQTT gateway into ``runtime``;
    the result's ``broker`` holds what crossed it (``LinkStats.summary``). ``ingestor`` as
    in ``platform_link`` (the demo passes the one behind its ``/api/devices``); ``signing``
    as in ``run_scenario`` (UPER payloads only)."""
    from v2xcloud.sim.runner import run_scenario

    payload = PayloadFormat(config.mqtt_payload)
    _check_signable(payload, signing)
    with broker(config.mqtt_url) as url:
        link = platform_link(
            runtime,
            url=url,
            message_set=config.message_set,
            payload=payload,
            ingestor=ingestor,
        )
        with link:
            result = run_scenario(
                scenario,
                config=config,
                platform=platform,
                encode=encode,
                pace=pace,
                on_second=on_second,
                link=link,
                signing=signing,
                glosa_baseline=glosa_baseline,
            )
    result.broker = link.stats.summary()
    return result
