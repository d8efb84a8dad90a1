"""The centre tier on a real nats-server: advisories, road events and dead letters that
workers published reach the live API and the history; a payload that does not decode is a
dead letter, not a crash; a restarted centre resumes its durable consumers without reading
the same advisory twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import msgspec
import nats
import pytest
from fastapi.testclient import TestClient

from v2xcloud.api import ApiSettings, create_app, record_history
from v2xcloud.api.runtime_live import RuntimeLive
from v2xcloud.cli._platform import Platform
from v2xcloud.errors import ConfigError
from v2xcloud.gateways.nats import BackbonePublisher
from v2xcloud.gateways.nats_server import NatsServer
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import Advisory, AdvisoryLevel, DeadLetter, DropReason, RoadEvent
from v2xcloud.runtime import Runtime, backbone
from v2xcloud.runtime.clock import SystemClock
from v2xcloud.runtime.remote import RemoteResults
from v2xcloud.store import DuckDbStore, HistoryWriter
from v2xcloud.twin.testing import TEST_FRAME

pytestmark = pytest.mark.timeout(120)
ADMIN = "a" * 24


@pytest.fixture()
def server() -> Iterator[NatsServer]:
    with NatsServer(name="c0") as s:
        yield s


def _publish(url: str, items: list[tuple[str, bytes]]) -> None:
    async def run() -> None:
        nc = await nats.connect(servers=[url])
        try:
            js = nc.jetstream()
            for specs in [backbone.streams(servers=1)]:
                from v2xcloud.gateways.nats import ensure_streams

                await ensure_streams(js, specs)
            for subject, data in items:
                await js.publish(subject, data)
        finally:
            await nc.close()

    asyncio.run(run())


def _until(predicate: Callable[[], bool], step: Callable[[], object], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        step()
        if predicate():
            return True
        time.sleep(0.05)
    return False


class _Centre:
    def __init__(self, url: str, store: DuckDbStore) -> None:
        self.remote = RemoteResults()
        self.runtime = Runtime(
            frame=TEST_FRAME, apps=[self.remote], detectors=(), clock=SystemClock()
        )
        self.platform = Platform(
            self.runtime, DeviceRegistry(), nats_urls=[url], role="centre", remote=self.remote
        )
        self.platform.start()
        self.live = RuntimeLive(self.runtime, before_tick=self.platform.before_tick)
        self.writer = HistoryWriter(store)
        self.stop_recording = record_history(self.live, self.writer)
        app = create_app(
            live=self.live,
            store=store,
            settings=ApiSettings(admin_token=ADMIN),
            devices=self.platform,
        )
        self.api = TestClient(app, headers={"Authorization": f"Bearer {ADMIN}"})

    def close(self) -> None:
        self.stop_recording()
        self.writer.close()
        self.platform.stop()


def test_centre_shows_and_records_what_workers_published(server: NatsServer) -> None:
    now = int(time.time() * 1000)
    fcw = Advisory(
        app="FCW",
        level=AdvisoryLevel.WARNING,
        ego_id="car-1",
        other_id="car-2",
        issued_ms=now,
        expires_ms=now + 60_000,
        lat_deg=28.19,
        lon_deg=112.97,
    )
    event = RoadEvent(
        event_id=7, event_type=401, source="detection", kind="congestion", start_ms=now - 1000
    )
    letter = DeadLetter(
        raw=b"\x00", source="obu-9", received_at_ms=now, reason=DropReason.MALFORMED, detail="x"
    )
    enc = msgspec.json.encode
    _publish(
        server.url,
        [
            (backbone.advisory_subject("acme", "1321", "FCW"), enc(fcw)),
            (backbone.event_subject("acme", "1321", "congestion"), enc(event)),
            (backbone.dead_subject("acme", "malformed"), enc(letter)),
            (backbone.advisory_subject("acme", "1321", "FCW"), b"{not json"),
        ],
    )
    store = DuckDbStore(data_dir=None)
    centre = _Centre(server.url, store)
    try:
        api = centre.api
        assert _until(
            lambda: any(a["ego_id"] == "car-1" for a in api.get("/api/advisories").json()),
            centre.live.step,
            10,
        ), centre.platform.stats()
        assert _until(
            lambda: any(e["event_id"] == 7 for e in api.get("/api/events").json()),
            centre.live.step,
            5,
        )
        reasons = {d.reason for d in centre.runtime.dead_letters.recent()}
        assert {DropReason.MALFORMED, DropReason.BAD_PAYLOAD} <= reasons
        centre.writer.flush()
        stored = store.advisories(start_ms=now - 1000, end_ms=now + 1000)
        assert [(a.app, a.level) for a in stored] == [("FCW", AdvisoryLevel.WARNING)]  # ids keyed
        consumers = centre.platform.stats()["centre"]["consumers"]
        assert consumers[backbone.ADVISORIES] == {"handled": 1, "bad_payload": 1}
    finally:
        centre.close()

    # a restarted centre resumes its durable consumers: only the new advisory arrives
    later = msgspec.structs.replace(fcw, ego_id="car-3")
    _publish(server.url, [(backbone.advisory_subject("acme", "1321", "FCW"), enc(later))])
    again = _Centre(server.url, DuckDbStore(data_dir=None))
    try:
        assert _until(lambda: again.remote.counts["advisories"] >= 1, again.live.step, 10), (
            again.platform.stats()
        )
        time.sleep(0.5)
        again.live.step()
        assert again.remote.counts["advisories"] == 1
        assert [a.ego_id for a in again.live.advisories()] == ["car-3"]
    finally:
        again.close()


def test_centre_role_needs_nats_and_no_device_gateways() -> None:
    remote = RemoteResults()
    runtime = Runtime(frame=TEST_FRAME, apps=[remote], detectors=(), clock=SystemClock())
    with pytest.raises(ConfigError, match="--nats"):
        Platform(runtime, DeviceRegistry(), role="centre", remote=remote)
    with pytest.raises(ConfigError, match="--mqtt"):
        Platform(
            runtime,
            DeviceRegistry(),
            role="centre",
            remote=remote,
            nats_urls=["nats://127.0.0.1:4222"],
            mqtt_url="mqtt://127.0.0.1:1883",
        )


def test_publisher_and_centre_share_the_stream_contract(server: NatsServer) -> None:
    """A dead letter the gateway tier publishes is one the centre decodes."""
    publisher = BackbonePublisher([server.url]).start()
    try:
        from v2xcloud.gateways.nats import FrameForwarder

        forwarder = FrameForwarder(
            publisher,
            dead_letter=lambda letter: None,
            place_of=lambda kind, lat, lon, far=False: "0",
            tenant_of=lambda device: "acme",
        )
        letter = DeadLetter(
            raw=b"\x01", source="obu-1", received_at_ms=5, reason=DropReason.FRAMING, detail="d"
        )
        forwarder.dead_letters([letter])
        deadline = time.monotonic() + 10
        while publisher.waiting:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        publisher.stop()
    centre = _Centre(server.url, DuckDbStore(data_dir=None))
    try:
        assert _until(
            lambda: any(d.source == "obu-1" for d in centre.runtime.dead_letters.recent()),
            centre.live.step,
            10,
        )
        [got] = [d for d in centre.runtime.dead_letters.recent() if d.source == "obu-1"]
        assert got == letter
    finally:
        centre.close()
