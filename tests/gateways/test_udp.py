"""UdpGateway with real sockets on 127.0.0.1: plain UPER, WSMP, 1609.2 unsigned and signed,
truncated headers, unknown and registered senders, oversize datagrams, a full queue."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.errors import ConfigError
from v2xcloud.gateways.base import DeviceKind, InboundFrame, IngressQueue
from v2xcloud.gateways.drivers import Parsed, parse
from v2xcloud.gateways.udp import UdpGateway, UdpPort, default_ports, parse_udp_address
from v2xcloud.model import Bsm, DeadLetter, DropReason, Rsm
from v2xcloud.runtime.clock import ManualClock
from v2xcloud.twin.testing import bsm_at

from ._wrap import CHANNEL, signed, unsecured, wsm

SET = MessageSet.CSAE2020
BSM = encode_model(
    bsm_at("a1b2c3d4e5f60718", x_m=1.0, y_m=2.0, t_ms=5_000, speed_mps=3.0), message_set=SET
)


async def _until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


def _send(port: int, *datagrams: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram, ("127.0.0.1", port))


def _run(
    ports: list[UdpPort],
    sends: Callable[[dict[str | None, int]], list[tuple[str | None, bytes]]],
    *,
    expect: int,
    capacity: int = 100,
    resolve: Callable[[str], tuple[str, DeviceKind] | None] | None = None,
    max_datagram_bytes: int = 8 * 1024,
) -> tuple[list[InboundFrame], list[DeadLetter], dict[str, int]]:
    """Start a gateway, send datagrams to its bound ports, wait until ``expect`` of them are
    queued or dead-lettered, stop it."""
    queue = IngressQueue(capacity=capacity)
    letters: list[DeadLetter] = []

    async def main() -> dict[str, int]:
        gw = UdpGateway(
            queue,
            dead_letter=letters.append,
            ports=ports,
            resolve=resolve,
            max_datagram_bytes=max_datagram_bytes,
            clock=ManualClock(1_700_000_000_000),
        )
        await gw.start()
        try:
            for message_type, datagram in sends(gw.bound):
                _send(gw.bound[message_type], datagram)
            assert await _until(lambda: len(queue) + len(letters) >= expect)
        finally:
            await gw.stop()
        return gw.stats()

    stats = asyncio.run(main())
    return queue.drain(), letters, stats


def _model(frame: InboundFrame) -> object:
    result = parse(frame, message_set=SET, shape="uper")
    assert isinstance(result, Parsed), result
    (model,) = result.models
    return model


def test_plain_wsmp_and_1609dot2_frames_reach_the_queue() -> None:
    ports = [UdpPort(port=0), UdpPort(port=0, message_type="BSM", framing="wsmp")]
    wrapped = wsm(unsecured(BSM), psid=0x20, n_ext=[(CHANNEL, b"\xac")])
    frames, letters, stats = _run(
        ports,
        lambda bound: [(None, BSM), ("BSM", wrapped), (None, unsecured(BSM)), (None, wsm(BSM))],
        expect=4,
    )
    assert letters == []
    assert [f.payload for f in frames] == [BSM] * 4
    assert [f.message_type for f in frames].count("BSM") == 1
    for frame in frames:
        assert (frame.device_id, frame.device_kind) == ("udp:127.0.0.1", DeviceKind.UNKNOWN)
        assert frame.sender_id is None  # no registered device at that address
        assert frame.transport == "udp" and frame.channel.startswith("udp:")
        assert frame.received_at_ms == 1_700_000_000_000
        model = _model(frame)
        assert isinstance(model, Bsm) and model.participant.id == "a1b2c3d4e5f60718"
    assert stats["datagrams_in"] == 4 and stats["frames_in"] == 4
    assert stats["unwrapped.wsmp"] == 2 and stats["unwrapped.1609.2"] == 2


def test_signed_datagrams_are_dead_lettered_whole() -> None:
    datagram = signed(BSM)
    frames, letters, stats = _run([UdpPort(port=0)], lambda bound: [(None, datagram)], expect=1)
    assert frames == []
    (letter,) = letters
    assert letter.reason is DropReason.SIGNED_UNVERIFIED and letter.raw == datagram
    assert letter.where == "byte 1" and letter.source == "udp:127.0.0.1"
    assert "udp:" in letter.detail and "from 127.0.0.1" in letter.detail
    assert stats["dropped.signed_unverified"] == 1


def test_truncated_headers_are_dead_lettered_at_their_byte() -> None:
    ports = [UdpPort(port=0, framing="wsmp"), UdpPort(port=0, message_type="RSM", framing="1609.2")]
    full = wsm(unsecured(BSM), n_ext=[(CHANNEL, b"\xac")])
    frames, letters, _ = _run(
        ports,
        lambda bound: [(None, full[:2]), (None, full[:6]), ("RSM", unsecured(BSM)[:1])],
        expect=3,
    )
    assert frames == []
    got = sorted((d.reason, d.where, len(d.raw)) for d in letters)
    assert got == sorted(
        [
            (DropReason.TRUNCATED, "byte 2", 2),  # in the N-Header extension count
            (DropReason.TRUNCATED, "byte 6", 6),  # header, extension, TPID; no PSID at byte 6
            (DropReason.TRUNCATED, "byte 1", 1),  # 1609.2: the content tag
        ]
    ), letters


def test_registered_senders_oversize_and_a_full_queue() -> None:
    def resolve(ip: str) -> tuple[str, DeviceKind] | None:
        return ("rsu-7", DeviceKind.RSU) if ip == "127.0.0.1" else None

    frames, letters, stats = _run(
        [UdpPort(port=0, message_type="BSM", framing="raw")],
        lambda bound: [("BSM", BSM), ("BSM", b"\x00" * 300), ("BSM", BSM), ("BSM", b"")],
        expect=4,
        capacity=1,
        resolve=resolve,
        max_datagram_bytes=200,
    )
    assert [(f.device_id, f.device_kind, f.message_type, f.sender_id) for f in frames] == [
        ("rsu-7", DeviceKind.RSU, "BSM", "rsu-7")
    ]
    assert sorted(d.reason.value for d in letters) == ["empty", "oversize", "queue_full"]
    oversize = next(d for d in letters if d.reason is DropReason.OVERSIZE)
    assert len(oversize.raw) == 200 and oversize.source == "rsu-7"
    assert stats["dropped.queue_full"] == 1


def test_a_frame_of_another_type_than_its_port_is_dropped_by_the_driver() -> None:
    from v2xcloud.model import ParticipantKind, ParticipantSource, ParticipantState

    state = ParticipantState(
        id="0102030405060708/1",
        kind=ParticipantKind.VEHICLE,
        source=ParticipantSource.RSM,
        timestamp_ms=1_700_000_000_000,
        lat_deg=28.19,
        lon_deg=112.97,
    )
    rsm = Rsm(
        msg_count=1,
        rsu_id="0102030405060708",
        ref_lat_deg=28.19,
        ref_lon_deg=112.97,
        participants=(state,),
    )
    frames, _, _ = _run(
        [UdpPort(port=0, message_type="BSM")],
        lambda bound: [("BSM", encode_model(rsm, message_set=SET))],
        expect=1,
    )
    result = parse(frames[0], message_set=SET)
    assert not isinstance(result, Parsed) and result.reason is DropReason.BAD_PAYLOAD


def test_configuration_errors() -> None:
    assert parse_udp_address("0.0.0.0:4500") == ("0.0.0.0", 4500)
    assert [p.message_type for p in default_ports(4500)] == [
        None,
        "BSM",
        "MAP",
        "SPAT",
        "RSI",
        "RSM",
    ]
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_udp_address("4500")
    with pytest.raises(ConfigError, match="framing"):
        UdpGateway(IngressQueue(), dead_letter=print, ports=[UdpPort(port=0, framing="ip")])
    with pytest.raises(ConfigError, match="at least one port"):
        UdpGateway(IngressQueue(), dead_letter=print, ports=[])
    with pytest.raises(ConfigError, match="message type"):
        UdpGateway(IngressQueue(), dead_letter=print, ports=[UdpPort(port=0, message_type="CAM")])


def test_wrapped_datagrams_reach_the_scene() -> None:
    """A WSMP + 1609.2 BSM on the BSM port and a bare RSM on the generic port from a registered
    RSU's address, through the gateway and the ingest path (registry, the RSU's driver,
    runtime): what both reported is in the scene where they reported it."""
    from v2xcloud.gateways.ingest import Ingestor
    from v2xcloud.gateways.registry import DeviceRegistry
    from v2xcloud.model import Device, ParticipantKind, ParticipantSource, ParticipantState
    from v2xcloud.runtime import Runtime
    from v2xcloud.twin.testing import TEST_FRAME

    lat, lon = TEST_FRAME.to_wgs84(30.0, -12.0)
    walker = ParticipantState(
        id="0102030405060708/9",
        kind=ParticipantKind.PEDESTRIAN,
        source=ParticipantSource.RSM,
        timestamp_ms=1_700_000_000_000,
        lat_deg=float(lat),
        lon_deg=float(lon),
        speed_mps=0.0,
        heading_deg=0.0,
    )
    rsm = Rsm(
        msg_count=3,
        rsu_id="0102030405060708",
        ref_lat_deg=float(lat),
        ref_lon_deg=float(lon),
        participants=(walker,),
    )
    bsm = encode_model(
        bsm_at("a1b2c3d4e5f60718", x_m=-8.0, y_m=15.0, t_ms=1_700_000_000_000, speed_mps=0.0),
        message_set=SET,
    )
    frames, letters, _ = _run(
        [UdpPort(port=0), UdpPort(port=0, message_type="BSM", framing="wsmp")],
        lambda bound: [
            ("BSM", wsm(unsecured(bsm), n_ext=[(CHANNEL, b"\xac")])),
            (None, encode_model(rsm, message_set=SET)),
        ],
        expect=2,
        resolve=lambda ip: ("rsu-7", DeviceKind.RSU) if ip == "127.0.0.1" else None,
    )
    assert letters == []
    # the platform's ingest path: the registered RSU at that address, its driver, the runtime
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=())
    registry = DeviceRegistry()
    registry.add(Device(device_id="rsu-7", kind=DeviceKind.RSU, shape="uper"))
    ingest = Ingestor(runtime, registry, dead_letter=letters.append)
    assert [ingest.process(frame) for frame in frames] == [True, True], letters
    view = runtime.scene.update(1_700_000_000_000)
    for pid, (x, y) in (("a1b2c3d4e5f60718", (-8.0, 15.0)), ("0102030405060708/9", (30.0, -12.0))):
        row = view.row_of(pid)
        assert row is not None, pid
        assert (float(view.x_m[row]), float(view.y_m[row])) == pytest.approx((x, y), abs=0.05)


@pytest.mark.skipif(not os.path.exists("/proc/net/udp"), reason="kernel drop counts need Linux")
def test_datagrams_the_kernel_drops_are_counted() -> None:
    """A gateway that falls behind (here: the loop busy while 3000 datagrams arrive into a
    small receive buffer) loses datagrams in the kernel; they are counted, not silent."""
    queue = IngressQueue(capacity=10_000)
    letters: list[DeadLetter] = []
    sent = 3000

    async def main() -> dict[str, int]:
        gw = UdpGateway(
            queue, dead_letter=letters.append, ports=[UdpPort(port=0)], recv_buffer_bytes=4096
        )
        await gw.start()
        try:
            _send(gw.bound[None], *([BSM] * sent))  # the loop cannot read while this runs
            assert await _until(lambda: gw.stats().get("kernel_drops", 0) > 0, 5)
            await _until(lambda: len(queue) + gw.stats()["kernel_drops"] >= sent, 5)
        finally:
            await gw.stop()
        return gw.stats()

    stats = asyncio.run(main())
    assert letters == []
    assert stats["kernel_drops"] > 0
    assert len(queue) == stats["frames_in"] == stats["datagrams_in"]
    assert stats["frames_in"] + stats["kernel_drops"] == sent


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(min_size=1, max_size=80),
            st.binary(max_size=60).map(lambda b: wsm(unsecured(b))[: len(b) + 3]),
            st.binary(max_size=60).map(lambda b: b"\x03\x80" + b),
            st.binary(max_size=60).map(lambda b: b"\x03\x81\x00\x40" + b),
        ),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["auto", "raw", "wsmp", "1609.2"]),
)
def test_every_datagram_is_queued_or_dead_lettered(datagrams: list[bytes], framing: str) -> None:
    frames, letters, stats = _run(
        [UdpPort(port=0, framing=framing)],
        lambda bound: [(None, d) for d in datagrams],
        expect=len(datagrams),
    )
    assert stats["datagrams_in"] == len(datagrams) == len(frames) + len(letters)
    assert stats.get("frames_in", 0) == len(frames)
    assert sum(v for k, v in stats.items() if k.startswith("dropped.")) == len(letters)
    for letter in letters:
        assert letter.raw in datagrams and letter.detail
