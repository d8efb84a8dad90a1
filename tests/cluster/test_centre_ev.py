"""EV analytics at the centre tier, on a real nats-server: the real GB/T 32960 frames of
``../shared/reference`` sent over TCP to a gateway-tier process reach the centre through the
backbone (``V2X_EV``), and the centre's alarms and charging verdicts are the ones a single
process raises on the same frames; a frame that is no report is a dead letter; a report
carried twice is judged once."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from v2xcloud.cli._platform import Platform
from v2xcloud.ev.codec import Message, decode, encode
from v2xcloud.ev.commands import VehicleLogin
from v2xcloud.ev.frame import Command
from v2xcloud.ev.scanner import FrameScanner
from v2xcloud.ev.sink import MemoryReportSink
from v2xcloud.gateways.nats import BackbonePublisher, Outgoing
from v2xcloud.gateways.nats_server import NatsServer
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import Device, DeviceKind, DropReason
from v2xcloud.model.ev_fleet import Charger
from v2xcloud.runtime import Runtime, backbone
from v2xcloud.runtime.clock import SystemClock
from v2xcloud.runtime.remote import RemoteResults
from v2xcloud.twin.testing import TEST_FRAME

pytestmark = pytest.mark.timeout(120)

CHARGERS = [Charger(id="depot", lat_deg=31.3, lon_deg=121.5, power_kw=60, ports=2)]


def _real_reports(reference_dir: Path) -> list[bytes]:
    """The real 2016-layout real-time frames (each a report of its own vehicle)."""
    entries = json.loads((reference_dir / "gb32960" / "frames.json").read_text("utf-8"))
    frames = [bytes.fromhex(e["hex"]) for e in entries if e["hex"].startswith("2323")]
    return [f for f in frames if decode(f).command == Command.REALTIME]


def _registry(vins: list[str]) -> DeviceRegistry:
    """Each vehicle's terminal registered by its own loopback address (127.0.0.2, ...)."""
    registry = DeviceRegistry()
    for i, vin in enumerate(vins):
        registry.add(
            Device(device_id=vin, kind=DeviceKind.EV_TERMINAL, addresses=(f"127.0.0.{i + 2}",))
        )
    return registry


def _send(port: int, vin: str, source: str, frame: bytes) -> bytes:
    """Log ``vin`` in from ``source``, send its real frame, return the frame's answer."""
    login = Message(
        command=Command.LOGIN,
        vin=vin,
        body=VehicleLogin(at_ms=int(time.time() * 1000), serial=1, iccid="8986" + "0" * 16),
    )
    scanner, answers = FrameScanner(), []
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as s:
        for n, out in enumerate((encode(login), frame), start=1):
            s.sendall(out)
            while len(answers) < n:
                answers += [f for f in scanner.feed(s.recv(4096)) if isinstance(f, bytes)]
    return answers[1]


def _platform(vins: list[str], **kw: Any) -> Platform:
    remote = kw.pop("remote", None)
    runtime = Runtime(
        frame=TEST_FRAME, apps=[remote] if remote else [], detectors=(), clock=SystemClock()
    )
    platform = Platform(
        runtime,
        _registry(vins),
        remote=remote,
        ev_chargers=CHARGERS,
        ev_report_sink=MemoryReportSink(),  # the history's
        **kw,
    )
    platform.start()
    return platform


def _history(platform: Platform) -> list[Any]:
    sink = platform.ev.forward
    return [] if sink is None else list(sink.reports)  # type: ignore[attr-defined]


def _until(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _judged(platform: Platform) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What the EV analytics found: alarms and charging verdicts (without receive times)."""
    alarms = sorted(
        (e.alarm.vin, e.alarm.kind, e.alarm.level, e.alarm.reason, e.alarm.collected_at_ms)
        for e in platform.ev.alarms(limit=1000)
    )
    charging = sorted((w.vin, w.level, w.reason) for w in platform.ev.charging().warnings)
    return alarms, charging


def test_centre_runs_the_same_ev_analytics_on_the_gateways_reports(reference_dir: Path) -> None:
    frames = _real_reports(reference_dir)
    vins = [decode(f).vin for f in frames]
    assert len(set(vins)) == len(frames) >= 3
    with NatsServer(name="ev0") as server:
        single = _platform(vins, gb32960="127.0.0.1:0")
        gateway = _platform(vins, gb32960="127.0.0.1:0", nats_urls=[server.url], role="gateway")
        centre = _platform(vins, nats_urls=[server.url], role="centre", remote=RemoteResults())
        try:
            for platform in (single, gateway):
                for i, (vin, frame) in enumerate(zip(vins, frames, strict=True)):
                    answer = decode(_send(platform.gb_server.port, vin, f"127.0.0.{i + 2}", frame))
                    assert answer.response == 0x01, (vin, platform.role)  # success
            assert centre.ev_backbone is not None
            taken = lambda: centre.ev_backbone.counts["reports"] == len(frames)  # noqa: E731
            assert _until(taken, 15), centre.stats()
            # the same alarms and charging verdicts as the single process, raised once
            alarms, charging = _judged(centre)
            assert (alarms, charging) == _judged(single)
            kinds = {kind for _, kind, *_ in alarms}
            assert {"vehicle_alarm", "charging:critical"} <= kinds, alarms
            assert charging, "the real frames include vehicles far from the charger"
            assert _judged(gateway)[0] == []  # the gateway tier judges nothing itself
            assert {r.vin for r in centre.ev.reports(100)} == set(vins)
            # the history gets each report once: from the centre, not from the gateway too
            assert sorted(r.vin for r in _history(centre)) == sorted(vins)
            assert _history(gateway) == [] and len(_history(single)) == len(vins)
            assert centre.ev.stats()["vehicles"] == len(vins)

            # a report carried again (another gateway, another message id) is judged once;
            # a frame that is no report is a dead letter
            publisher = BackbonePublisher([server.url]).start()
            try:
                enc = msgspec.json.encode
                again = backbone.EvFrame(vin=vins[0], received_at_ms=1, frame=frames[0])
                garbage = backbone.EvFrame(vin=vins[1], received_at_ms=2, frame=b"##\x02junk")
                for n, item in enumerate((again, garbage)):
                    subject = backbone.ev_subject("default", item.vin)
                    publisher.submit(
                        Outgoing(subject, enc(item), {backbone.HEADER_MSG_ID: f"other-{n}"})
                    )
                seen = lambda: centre.ev_backbone.counts["duplicates"] == 1  # noqa: E731
                assert _until(seen, 10), centre.stats()
                refused = lambda: any(  # noqa: E731
                    k.startswith("refused:") for k in centre.ev_backbone.counts
                )
                assert _until(refused, 10), centre.stats()
            finally:
                publisher.stop()
            centre.before_tick(int(time.time() * 1000))
            letters = [d for d in centre.runtime.dead_letters.recent() if d.source == vins[1]]
            assert letters and letters[0].reason != DropReason.DUPLICATE, letters
            assert letters[0].where.startswith("V2X_EV")
            assert _judged(centre) == (alarms, charging)
        finally:
            for platform in (centre, gateway, single):
                platform.stop()
