"""Sustained ingest through Mosquitto into the scene: the highest rate with zero loss.

    .venv/bin/python benchmarks/gateways.py [--rates 2000,5000,10000,15000] [--seconds 10]
                                            [--no-apps] [--profile] [--gen-procs 1]
                                            [--gen-conns 1000] [--tls]

Three processes on this machine: a Mosquitto (``gateways.broker``), a load generator (N
simulated devices, written for this benchmark to cost little CPU, see "the load generator"
below: each connected vehicle an OBU publishing its BSM at 10 Hz on ``V2X/OBU/{id}/BSM/UP``,
one RSU per 20 devices publishing an RSM of 10 objects at 10 Hz on ``V2X/RSU/{esn}/RSM/UP``,
QoS 1, at most ``--gen-conns`` MQTT connections per generator process, devices beyond that
sharing them), and this process as the platform: the MQTT gateway (``gateways.mqtt``,
persistent session, PUBACK after queueing) → ingress queue → the ingest path (``gateways.ingest``:
registry with the devices provisioned, per-device rate limits, health, payload driver) →
``Runtime.ingest``, drained every 5 ms, and the runtime ticking every 100 ms with every
application (``--no-apps``: none).

Each step offers a rate (devices = rate / 10) for ``--seconds``, then waits for the platform to
catch up (with ``--tls`` every rate is run, so both sides have the same rows). Loss = frames the broker acknowledged to the devices − frames that reached the
scene (counted per device). Latencies per frame that reached the scene, in ms:
``arrival→scene`` from the gateway's receipt (``InboundFrame.received_at_ms``) to
``Runtime.ingest`` returning, ``device→scene`` from the frame's own timestamp (the device
stamps every frame as it publishes it) to the same point. A step passes with zero loss, the
offered rate achieved (≥ 97 %) and p99 arrival→scene ≤ 50 ms; stepping stops at the first
failure. CPU per message over a step: ``cpu/msg`` the platform's (this process, ticks
included), ``gen/msg`` the generator's, ``mosq/msg`` Mosquitto's (from /proc). ``--profile``
prints where the platform process spent its CPU in the last step run
(cProfile, grouped by package: MQTT client, asyncio, gateway, driver + codec, scene, apps).

To keep the generator light, each device's frame is encoded once and re-stamped per publish:
its DSecond fields (secMark, 16 bits each, at bit offsets found by encoding the frame at two
times that differ in every secMark bit) are rewritten, and the result is checked by decoding
when the template is made. Mosquitto's persistence snapshot is taken every 100,000 changes
(the launcher's per-change default caps it at a few hundred QoS 1 messages/s).
Figures are printed, not asserted; the machine is shared and noisy.

``--tls`` runs the same steps twice in one run, first on the anonymous loopback broker, then on
the authenticated one (``gateways.broker.BrokerAuth``): every device its own mutual-TLS
connection with its own certificate (CN = device id; ``security.tls``), the platform logged in
with its certificate, every publish checked against the per-device rights the
dynamic-security plugin holds (``gateways.access``), and prints the figures side by side
(ratios TLS / plain of the same run). The TLS handshakes happen before a step's clock starts
but inside its Mosquitto CPU window, so ``mosq/msg`` there includes them. The down-link
listener logs in on the password listener with a benchmark-only role that may read every
OBU's advisories.

The down-link: after each tick the platform hands ``PROBES`` advisories (one each to
registered OBUs, taking turns) to ``gateways.downlink.Downlink.deliver``, as the runtime's
delivery sink does with the apps' own (also wired: ``Runtime.add_delivery_sink``). Per probe:
issued (its ``issued_ms``, the tick's clock) → handed to the MQTT client, → the broker's
PUBACK (aiomqtt's QoS 1 publish returns then), and → received by a subscribed device (a paho
client in the generator's process subscribed to ``V2X/OBU/+/ADVISORY/DOWN``, counting the
probes that arrive while the step's load runs). The probes are the benchmark's, not an
application's hazard: what is measured is the path from the tick to the device.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import multiprocessing
import pstats
import ssl
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

import msgspec

from v2xcloud.codec import Decoded, MessageSet, decode, encode_model
from v2xcloud.gateways.base import DeviceKind, InboundFrame, IngressQueue
from v2xcloud.model import (
    Advisory,
    AdvisoryLevel,
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
    Rsm,
)
from v2xcloud.processes import cpu_seconds
from v2xcloud.runtime.dissemination import Delivery
from v2xcloud.sim.via_mqtt import percentile
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

SET = MessageSet.CSAE2020
RSU_EVERY = 20  # one RSU among this many devices
OBJECTS = 10  # objects per RSM
SLOTS = 10  # the 100 ms period is published in 10 slots of 10 ms
PROBES = 5  # probe advisories down-linked after each tick (50/s)


# -- frames re-stamped per publish ----------------------------------------------------------


class Template:
    """A UPER frame whose secMark fields can be rewritten to any time (ms)."""

    def __init__(self, encode_at: Any) -> None:
        base = 3_600_000 * 24 * 20_000  # a whole minute, so secMark = offset
        a = bytes(encode_at(base + 0x5555))
        b = bytes(encode_at(base + 0xAAAA))
        if len(a) != len(b):
            raise RuntimeError("frame length depends on its time; cannot template it")
        bits = [
            i
            for i in range(len(a) * 8)
            if (a[i // 8] >> (7 - i % 8)) & 1 != (b[i // 8] >> (7 - i % 8)) & 1
        ]
        if not bits or len(bits) % 16:
            raise RuntimeError(f"{len(bits)} differing bits: not whole 16-bit secMark fields")
        self.offsets = [bits[k] for k in range(0, len(bits), 16)]
        for k, off in enumerate(self.offsets):
            if bits[16 * k : 16 * k + 16] != list(range(off, off + 16)):
                raise RuntimeError("secMark bits are not contiguous")
        self.base = bytearray(a)
        self.size = len(a)
        for t in (base + 1234, base + 59_999):  # the patched frame decodes to its time
            got = decode(self.at(t), message_set=SET, received_at_ms=t)
            if not isinstance(got, Decoded) or _time_of(got.to_model()) != t:
                raise RuntimeError("a re-stamped frame does not decode to its time")

    def at(self, t_ms: int) -> bytes:
        """The frame stamped ``t_ms`` (secMark = t_ms mod 60,000)."""
        sec = t_ms % 60_000
        out = self.base + b"\0\0\0"  # room for a 4-byte window at the last field
        for off in self.offsets:
            value = int.from_bytes(out[off // 8 : off // 8 + 4], "big")
            shift = 16 - off % 8
            value = (value & ~(0xFFFF << shift)) | (sec << shift)
            out[off // 8 : off // 8 + 4] = value.to_bytes(4, "big")
        return bytes(out[: self.size])


def _time_of(model: Any) -> int:
    if isinstance(model, Rsm):
        return max(p.timestamp_ms for p in model.participants)
    return int(model.participant.timestamp_ms)


def _bsm_template(k: int) -> Template:
    x, y = (k % 60) * 50.0 - 1500.0, (k // 60) * 50.0 - 1500.0  # a 50 m grid over 3 km
    vid = f"5a{k + 1:014x}"

    def at(t: int) -> bytes:
        bsm = bsm_at(vid, x_m=x, y_m=y, t_ms=t, speed_mps=10.0, heading_deg=90.0)
        return bytes(encode_model(msgspec.structs.replace(bsm, msg_count=1), message_set=SET))

    return Template(at)


def _rsm_template(k: int) -> Template:
    esn = f"52{k + 1:014x}"
    cx, cy = (k % 10) * 300.0 - 1500.0, (k // 10) * 300.0 - 1500.0

    def at(t: int) -> bytes:
        lat, lon = TEST_FRAME.to_wgs84(cx, cy)
        states = []
        for i in range(OBJECTS):
            plat, plon = TEST_FRAME.to_wgs84(cx + 4.0 * i, cy + 3.0 * i + 10.0)
            states.append(
                ParticipantState(
                    id=f"{esn}/{i + 1}",
                    kind=ParticipantKind.PEDESTRIAN if i % 3 == 0 else ParticipantKind.VEHICLE,
                    source=ParticipantSource.RSM,
                    timestamp_ms=t,
                    lat_deg=float(plat),
                    lon_deg=float(plon),
                    speed_mps=1.0 + i,
                    heading_deg=30.0 * i,
                    length_m=4.5,
                    width_m=1.8,
                )
            )
        rsm = Rsm(msg_count=1, rsu_id=esn, ref_lat_deg=float(lat), ref_lon_deg=float(lon),
                  participants=tuple(states))  # fmt: skip
        return bytes(encode_model(rsm, message_set=SET))

    return Template(at)


# -- the load generator (its own processes) ---------------------------------------------------
#
# The generator publishes pre-built MQTT 3.1.1 PUBLISH packets (QoS 1, a packet id per
# connection) written straight to non-blocking sockets, and counts the broker's PUBACKs read
# back from them. paho-mqtt costs ~120-160 us of CPU per publish (packet building, per-message
# bookkeeping, one send per packet through its callbacks); this costs a few us, so on a 2-core
# machine where broker, generator and platform share ~200 us per message at 10,000 msg/s the
# generator is not what limits the rate. Only the benchmark does this: the simulated devices of
# ``v2xcloud devices`` (``sim.devices``) stay on paho. Each device is still its own client (up
# to ``--gen-conns`` connections per process, devices beyond that sharing them round-robin,
# each on its own topic), and ``--gen-procs`` processes split the devices between them.

_CONNECT_FLAGS = 0x02  # clean session; keep-alive 0 (the bench's steps idle between runs)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str16(s: bytes) -> bytes:
    return len(s).to_bytes(2, "big") + s


class _RawConn:
    """One MQTT connection of the generator: CONNECT done, then PUBLISH written in batches."""

    def __init__(
        self, host: str, port: int, client_id: str, tls: ssl.SSLContext | None = None
    ) -> None:
        import socket

        raw = socket.create_connection((host, port), timeout=10.0)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = raw if tls is None else tls.wrap_socket(raw, server_hostname=host)
        self.is_tls = tls is not None
        self._retry = 0  # TLS: a write the socket refused is retried with the same length
        body = _str16(b"MQTT") + bytes([4, _CONNECT_FLAGS]) + (0).to_bytes(2, "big")
        body += _str16(client_id.encode())
        self.sock.sendall(b"\x10" + _varint(len(body)) + body)
        connack = b""
        while len(connack) < 4:
            chunk = self.sock.recv(4 - len(connack))
            if not chunk:
                raise ConnectionError(f"broker closed the connection of {client_id}")
            connack += chunk
        if connack[0] != 0x20 or connack[3] != 0:
            raise ConnectionError(f"broker refused {client_id}: CONNACK {connack.hex()}")
        self.sock.setblocking(False)
        self.out = bytearray()
        self.inbuf = b""
        self.mid = 0
        self.unacked = 0

    def publish(self, header: bytes, payload: bytes) -> None:
        """Queue one QoS 1 PUBLISH (``header`` = fixed header + topic) for the next write."""
        self.mid = self.mid % 65535 + 1
        self.out += header
        self.out += self.mid.to_bytes(2, "big")
        self.out += payload
        self.unacked += 1

    def write(self) -> None:
        """Send what is queued (as much as the socket takes)."""
        if self.out:
            chunk = self.out if not self.is_tls else self.out[: self._retry or 16384]
            try:
                n = self.sock.send(chunk)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                self._retry = len(chunk) if self.is_tls else 0
                return
            self._retry = 0
            del self.out[:n]

    def read_acks(self) -> int:
        """Read the PUBACKs there are; returns how many."""
        try:
            data = self.sock.recv(65536)
            while self.is_tls and self.sock.pending():  # type: ignore[attr-defined]  # TLS
                data += self.sock.recv(65536)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return 0
        if not data:
            raise ConnectionError("broker closed a generator connection")
        data = self.inbuf + data
        whole = len(data) // 4 * 4
        self.inbuf = data[whole:]
        if data[0:whole:4].count(0x40) != whole // 4:  # PUBACK = 0x40 0x02 mid mid
            raise ConnectionError(f"unexpected packet from the broker: {data[:8].hex()}")
        self.unacked -= whole // 4
        return whole // 4


def _device_tls(tls: dict[str, Any] | None, device: Any) -> ssl.SSLContext | None:
    """The device's own TLS context (its certificate from the benchmark's PKI), or None."""
    if tls is None:
        return None
    pki = tls["pki"]
    ctx = ssl.create_default_context(cafile=f"{pki}/ca.crt")
    ctx.load_cert_chain(
        f"{pki}/devices/{device.device_id}.crt", f"{pki}/devices/{device.device_id}.key"
    )
    return ctx


def _publish_header(topic: str, payload_size: int) -> bytes:
    t = topic.encode()
    return b"\x32" + _varint(2 + len(t) + 2 + payload_size) + _str16(t)


def _advisory_listener(
    host: str, port: int, out: list[float], login: tuple[str, str] | None = None
) -> Any:
    """A paho client (its own thread) subscribed to every OBU's advisories, noting for each
    probe advisory the time from its issue to its arrival here (ms, same machine clock)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-obu-listener")
    if login is not None:
        client.username_pw_set(*login)

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        now = time.time() * 1000.0
        advisory = msgspec.json.decode(msg.payload)["advisory"]
        if advisory["app"] == "bench-probe":
            out.append(now - advisory["issued_ms"])

    client.on_message = on_message
    client.connect(host, port, keepalive=60)
    client.subscribe("V2X/OBU/+/ADVISORY/DOWN", qos=1)  # topics.obu_down, any id
    client.loop_start()
    return client


def _generator(
    url: str, conn: Connection, part: int, parts: int, max_conns: int, tls: dict[str, Any] | None
) -> None:
    """``tls``: ``{"pki": dir, "listener": (host, port, user, password)}`` on the
    authenticated broker (every device its own certificate and connection), else None."""
    import selectors

    from v2xcloud.gateways.mqtt import parse_mqtt_url
    from v2xcloud.sim.devices import Device

    host, port = parse_mqtt_url(url)
    down_ms: list[float] = []
    listener = None
    if part == 0 and tls is None:
        listener = _advisory_listener(host, port, down_ms)
    elif part == 0 and tls is not None:
        l_host, l_port, user, password = tls["listener"]
        listener = _advisory_listener(l_host, l_port, down_ms, (user, password))
    conns: list[_RawConn] = []
    templates: dict[Device, tuple[bytes, Template]] = {}
    of_device: dict[Device, _RawConn] = {}
    sel = selectors.DefaultSelector()
    while True:
        cmd = conn.recv()
        if cmd[0] == "stop":
            break
        _, n_devices, seconds = cmd
        n_rsu = n_devices // RSU_EVERY
        wanted = [(Device(DeviceKind.RSU, f"52{k + 1:014x}"), "RSM", k) for k in range(n_rsu)]
        wanted += [
            (Device(DeviceKind.OBU, f"5a{k + 1:014x}"), "BSM", k) for k in range(n_devices - n_rsu)
        ]
        wanted = wanted[part::parts]
        for dev, mtype, k in wanted:
            if dev not in templates:
                tpl = _rsm_template(k) if mtype == "RSM" else _bsm_template(k)
                templates[dev] = (_publish_header(dev.topic(mtype), tpl.size), tpl)
            if dev not in of_device:
                if len(conns) < max_conns or tls is not None:  # an identity shares nothing
                    c = _RawConn(host, port, f"bench-{dev.client_id}", _device_tls(tls, dev))
                    conns.append(c)
                    sel.register(c.sock, selectors.EVENT_READ, c)
                else:
                    c = conns[len(of_device) % max_conns]
                of_device[dev] = c
        active = [(dev, of_device[dev], *templates[dev]) for dev, _, _ in wanted]
        slots = [active[s::SLOTS] for s in range(SLOTS)]
        sent: Counter[str] = Counter()
        published = acked = behind = 0
        cpu0 = time.process_time()
        t0 = time.monotonic()
        slot = 0
        backlog: set[_RawConn] = set()
        down_ms.clear()

        def pump(timeout: float) -> int:
            got = 0
            for key, _ in sel.select(timeout):
                got += key.data.read_acks()
            return got

        while time.monotonic() - t0 < seconds:
            due = t0 + slot * 0.1 / SLOTS
            while (wait := due - time.monotonic()) > 0:
                acked += pump(wait)
            if wait < -0.1:
                behind += 1
            now_ms = int(time.time() * 1000)
            dirty = set(backlog)
            for dev, c, header, tpl in slots[slot % SLOTS]:
                c.publish(header, tpl.at(now_ms))
                dirty.add(c)
                sent[dev.device_id] += 1
            backlog.clear()
            for c in dirty:
                c.write()
                if c.out:  # the socket took part: the rest goes with the next slot
                    backlog.add(c)
            published += len(slots[slot % SLOTS])
            slot += 1
        spent = time.monotonic() - t0
        deadline = time.monotonic() + 60.0
        while acked < published and time.monotonic() < deadline:
            for c in conns:
                c.write()
            acked += pump(0.01)
        conn.send(
            {
                "published": published,
                "acked": acked,
                "seconds": spent,
                "cpu_s": time.process_time() - cpu0,
                "slots_late": behind,
                "per_device": dict(sent),
                "clients": len(conns),
                "down_ms": list(down_ms),
            }
        )
    if listener is not None:
        listener.disconnect()
        listener.loop_stop()
    for c in conns:
        with contextlib.suppress(OSError):
            c.sock.sendall(b"\xe0\x00")  # DISCONNECT
            c.sock.close()


# -- the platform (this process) --------------------------------------------------------------


class Platform:
    """MQTT gateway → queue → ingest path (registry, rate limits, driver) → runtime, drained
    every 5 ms, ticking every 100 ms."""

    def __init__(self, url: str, *, apps: bool, credentials: Any = None) -> None:
        from v2xcloud.apps import default_apps
        from v2xcloud.codec import message_set_of
        from v2xcloud.runtime import Runtime

        self.url = url
        self.credentials = credentials
        self.ms = message_set_of("csae2020")
        self.runtime = Runtime(frame=TEST_FRAME, apps=default_apps() if apps else [],
                               message_set=self.ms)  # fmt: skip
        self.queue = IngressQueue(capacity=500_000)
        self.received: Counter[str] = Counter()
        self.arrival_ms: list[float] = []
        self.device_ms: list[float] = []
        self.drops: Counter[str] = Counter()
        self.tick_s: list[float] = []
        self.down_handed_ms: list[float] = []
        self.down_acked_ms: list[float] = []
        self.obus: list[str] = []
        self._probe_n = 0
        from v2xcloud.gateways.registry import DeviceRegistry

        self.registry = DeviceRegistry()
        for tpl in (_bsm_template(0), _rsm_template(0)):  # the codec compiles its schema once
            decode(tpl.at(0), message_set=SET, received_at_ms=0)

    async def start(self) -> None:
        from v2xcloud.gateways.mqtt import MqttGateway

        self.gateway = MqttGateway(self.url, self.queue, dead_letter=self._dead,
                                   client_id="bench-platform",
                                   credentials=self.credentials)  # fmt: skip
        from v2xcloud.gateways.downlink import Downlink
        from v2xcloud.gateways.health import DeviceHealth

        self.health = DeviceHealth()
        self.downlink = Downlink(self.registry, self.health, self._timed_publish)
        self.gateway.on_ack = self.downlink.on_ack
        self.downlink.start()
        self.runtime.add_delivery_sink(self.downlink)  # the apps' own deliveries go out too
        await self.gateway.start()
        self._task = asyncio.create_task(self._loop())

    async def _timed_publish(self, topic: str, payload: bytes) -> bool:
        """The gateway's publish, timing the probe advisories: issued → handed to the MQTT
        client, and issued → the broker's PUBACK (aiomqtt's QoS 1 publish returns then)."""
        probe = topic.endswith("/ADVISORY/DOWN") and b'"app":"bench-probe"' in payload
        issued = msgspec.json.decode(payload)["advisory"]["issued_ms"] if probe else 0
        if probe:
            self.down_handed_ms.append(time.time() * 1000.0 - issued)
        sent = await self.gateway.publish(topic, payload)
        if probe:
            self.down_acked_ms.append(time.time() * 1000.0 - issued)
        return sent

    def _probe(self, now_ms: int) -> None:
        """After a tick, as the runtime's delivery sink would: one advisory to each of
        ``PROBES`` registered OBUs (taking turns), through ``Downlink.deliver``."""
        if not self.obus:
            return
        deliveries = []
        for _ in range(min(PROBES, len(self.obus))):
            obu = self.obus[self._probe_n % len(self.obus)]
            self._probe_n += 1
            advisory = Advisory(app="bench-probe", level=AdvisoryLevel.WARNING, ego_id=obu,
                                issued_ms=now_ms, expires_ms=now_ms + 1000)  # fmt: skip
            deliveries.append(Delivery(key=f"probe:{self._probe_n}", reason="new", at_ms=now_ms,
                                       payload=advisory, participants=(obu,)))  # fmt: skip
        self.downlink.deliver(deliveries, now_ms=now_ms)

    def _dead(self, letter: Any) -> None:
        self.drops[str(letter.reason)] += 1

    def reset(self) -> None:
        """Forget the previous step's figures."""
        self.received.clear()
        self.arrival_ms.clear()
        self.device_ms.clear()
        self.tick_s.clear()
        self.down_handed_ms.clear()
        self.down_acked_ms.clear()

    async def _loop(self) -> None:
        from v2xcloud.gateways.ingest import Ingestor, parse_with_drivers

        times: list[int] = []

        def parser(frame: InboundFrame, device: Any) -> Any:  # the drivers, noting frame time
            result = parse_with_drivers(frame, device)
            if isinstance(result, list | tuple) and result:
                times.append(_time_of(result[0]))
            return result

        ingestor = Ingestor(self.runtime, self.registry, dead_letter=self._dead, parser=parser)
        self.ingestor = ingestor
        next_tick = time.monotonic()
        while True:
            for frame in self.queue.drain():
                times.clear()
                if ingestor.process(frame):
                    now = time.time() * 1000.0
                    self.received[frame.device_id] += 1
                    self.arrival_ms.append(now - frame.received_at_ms)
                    if times:
                        self.device_ms.append(now - times[0])
            if time.monotonic() >= next_tick:
                t0 = time.perf_counter()
                self.runtime.tick(int(time.time() * 1000))
                self.tick_s.append(time.perf_counter() - t0)
                self._probe(int(time.time() * 1000))
                next_tick += 0.1
            await asyncio.sleep(0.005)

    def provision(self, n_devices: int) -> None:
        """Register the generator's devices (ids as ``_generate`` makes them)."""
        from v2xcloud.model import Device

        n_rsu = n_devices // RSU_EVERY
        ids = [(f"52{k + 1:014x}", DeviceKind.RSU) for k in range(n_rsu)]
        ids += [(f"5a{k + 1:014x}", DeviceKind.OBU) for k in range(n_devices - n_rsu)]
        for device_id, kind in ids:
            if device_id not in self.registry:
                self.registry.add(Device(device_id=device_id, kind=kind, tenant="bench"))
        self.obus = [d for d, kind in ids if kind is DeviceKind.OBU]

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.downlink.stop()
        await self.gateway.stop()


def _merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The generator processes' reports as one (counts summed, the longest run's seconds)."""
    out: dict[str, Any] = {"per_device": {}}
    for key in ("published", "acked", "cpu_s", "slots_late", "clients"):
        out[key] = sum(p[key] for p in parts)
    out["seconds"] = max(p["seconds"] for p in parts)
    out["down_ms"] = []
    for p in parts:
        out["per_device"].update(p["per_device"])
        out["down_ms"].extend(p["down_ms"])
    return out


async def _step(
    platform: Platform,
    conns: list[Connection],
    rate: int,
    seconds: float,
    profile: cProfile.Profile | None,
    broker_pid: int | None = None,
) -> dict[str, Any]:
    platform.reset()
    broker0 = cpu_seconds(broker_pid)
    cpu0 = time.process_time()
    loop = asyncio.get_running_loop()
    n_devices = max(RSU_EVERY, rate // 10)
    platform.provision(n_devices)
    for pipe in conns:
        pipe.send(("run", n_devices, seconds))
    if profile is not None:
        profile.enable()
    parts = [await loop.run_in_executor(None, pipe.recv) for pipe in conns]
    report = _merged(parts)
    deadline = time.monotonic() + 30.0  # let the platform catch up
    while sum(platform.received.values()) < report["acked"] and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    if profile is not None:
        profile.disable()
    cpu_s = time.process_time() - cpu0
    broker_s = cpu_seconds(broker_pid) - broker0
    got = sum(platform.received.values())
    short = sum(1 for dev, n in report["per_device"].items() if platform.received.get(dev, 0) < n)
    return {
        "offered": rate,
        "devices": n_devices,
        "clients": report["clients"],
        "achieved": report["published"] / report["seconds"],
        "published": report["published"],
        "acked": report["acked"],
        "received": got,
        "lost": report["acked"] - got,
        "devices_short": short,
        "arr_p50": percentile(platform.arrival_ms, 50),
        "arr_p99": percentile(platform.arrival_ms, 99),
        "dev_p50": percentile(platform.device_ms, 50),
        "dev_p99": percentile(platform.device_ms, 99),
        "tick_p99_ms": (percentile(platform.tick_s, 99) or 0.0) * 1000.0,
        "down_n": len(platform.down_acked_ms),
        "down_hand_p50": percentile(platform.down_handed_ms, 50),
        "down_hand_p99": percentile(platform.down_handed_ms, 99),
        "down_ack_p50": percentile(platform.down_acked_ms, 50),
        "down_ack_p99": percentile(platform.down_acked_ms, 99),
        "down_dev_n": len(report["down_ms"]),
        "down_dev_p50": percentile(report["down_ms"], 50),
        "down_dev_p99": percentile(report["down_ms"], 99),
        "cpu_us": cpu_s / max(1, got) * 1e6,  # platform CPU per frame, ticks included
        "gen_cpu_us": report["cpu_s"] / max(1, report["published"]) * 1e6,
        "broker_cpu_us": broker_s / max(1, report["published"]) * 1e6,
        "late": report["slots_late"],
        "drops": dict(platform.drops),
    }


_GROUPS = (
    ("paho-mqtt", "/paho/"),
    ("aiomqtt", "/aiomqtt/"),
    ("asyncio + selectors", "/asyncio/"),
    ("gateway (mqtt, queue)", "/v2xcloud/gateways/mqtt"),
    ("payload drivers", "/v2xcloud/gateways/drivers"),
    ("codec (UPER decode, SI model)", "/v2xcloud/codec/"),
    ("scene (twin)", "/v2xcloud/twin/"),
    ("apps", "/v2xcloud/apps/"),
    ("runtime", "/v2xcloud/runtime/"),
    ("geo", "/v2xcloud/geo/"),
    ("this benchmark", "benchmarks/gateways"),
)


def _profile_table(profile: cProfile.Profile) -> str:
    stats = pstats.Stats(profile)
    per: Counter[str] = Counter()
    total = 0.0
    for (path, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        total += tottime
        group = next((g for g, key in _GROUPS if key in path), None)
        if group is None:
            group = "sockets, select" if path == "~" else "other (numpy, msgspec, stdlib...)"
        per[group] += tottime
    lines = [f"{'where the platform process spent its CPU':<40} {'s':>7} {'share':>6}"]
    for group, t in per.most_common():
        lines.append(f"{group:<40} {t:7.2f} {t / total:6.1%}")
    return "\n".join(lines)


async def _main(
    args: argparse.Namespace,
    url: str,
    broker_pid: int | None,
    tls: dict[str, Any] | None = None,
    credentials: Any = None,
) -> list[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    ours: list[Connection] = []
    gens = []
    for part in range(args.gen_procs):
        mine, theirs = ctx.Pipe()
        gen = ctx.Process(
            target=_generator,
            args=(url, theirs, part, args.gen_procs, args.gen_conns, tls),
            name=f"v2x-load-{part}",
        )
        gen.start()
        ours.append(mine)
        gens.append(gen)
    platform = Platform(url, apps=not args.no_apps, credentials=credentials)
    await platform.start()
    rows: list[dict[str, Any]] = []
    last_profile: cProfile.Profile | None = None
    try:
        for rate in args.rates:
            profile = cProfile.Profile(time.process_time) if args.profile else None
            row = await _step(platform, ours, rate, args.seconds, profile, broker_pid)
            row["ok"] = (
                row["lost"] == 0
                and row["achieved"] >= 0.97 * rate
                and (row["arr_p99"] or 0.0) <= 50.0
            )
            rows.append(row)
            print(_row(row), flush=True)
            print(_down_row(row), flush=True)
            if profile is not None:
                last_profile = profile
            if not row["ok"] and not args.tls:  # --tls: every rate, for the side-by-side
                break
    finally:
        for mine, gen in zip(ours, gens, strict=True):
            mine.send(("stop",))
            gen.join(timeout=30)
            if gen.is_alive():
                gen.terminate()
        await platform.stop()
    best = max((r["offered"] for r in rows if r["ok"]), default=None)
    print(
        f"\nhighest rate with zero loss, the offered rate achieved and p99 arrival→scene ≤ 50 ms: "
        f"{best if best is not None else 'none of the rates tried'} msg/s "
        f"({'apps off' if args.no_apps else 'all apps ticking at 10 Hz'})"
    )
    print(f"gateway counters: {platform.gateway.stats()}")
    print(f"ingest counters: {dict(platform.ingestor.counts)}")
    if last_profile is not None:
        print("\n" + _profile_table(last_profile))
        print("\ntop functions by own time:")
        pstats.Stats(last_profile).sort_stats("tottime").print_stats(12)
    return rows


_HEAD = (
    f"{'offered':>8} {'devices':>7} {'conns':>5} {'achieved':>9} {'acked':>8} {'received':>8} "
    f"{'lost':>5} {'arr p50':>7} {'arr p99':>7} {'dev p50':>7} {'dev p99':>7} {'tick p99':>8} "
    f"{'cpu/msg':>7} {'gen/msg':>7} {'mosq/msg':>8}  ok"
)


def _row(r: dict[str, Any]) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    return (
        f"{r['offered']:>8} {r['devices']:>7} {r['clients']:>5} {r['achieved']:>9.0f} "
        f"{r['acked']:>8} {r['received']:>8} {r['lost']:>5} {ms(r['arr_p50']):>7} "
        f"{ms(r['arr_p99']):>7} {ms(r['dev_p50']):>7} {ms(r['dev_p99']):>7} "
        f"{r['tick_p99_ms']:>8.1f} {r['cpu_us']:>5.0f}us {r['gen_cpu_us']:>5.0f}us {r['broker_cpu_us']:>6.0f}us  "
        f"{'yes' if r['ok'] else 'NO'}" + (f"  drops {r['drops']}" if r["drops"] else "")
    )


def _down_row(r: dict[str, Any]) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    return (
        f"{'':>8} down-link, {r['down_n']} probe advisories (ms, p50/p99): issued→handed to "
        f"MQTT {ms(r['down_hand_p50'])}/{ms(r['down_hand_p99'])}, →broker PUBACK "
        f"{ms(r['down_ack_p50'])}/{ms(r['down_ack_p99'])}, →received by a subscribed OBU "
        f"({r['down_dev_n']}) {ms(r['down_dev_p50'])}/{ms(r['down_dev_p99'])}"
    )


def main() -> None:
    """Parse the arguments, start the broker, step the rate up, print the table."""
    from v2xcloud.gateways.broker import Mosquitto

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--rates",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[2000, 5000, 10000, 15000, 20000],
        help="offered rates to step through, messages/s (comma-separated)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per step")
    parser.add_argument(
        "--gen-procs", type=int, default=1, help="load generator processes (devices split)"
    )
    parser.add_argument(
        "--gen-conns",
        type=int,
        default=1000,
        help="MQTT connections per generator process (devices beyond share them)",
    )
    parser.add_argument("--no-apps", action="store_true", help="tick without applications")
    parser.add_argument("--profile", action="store_true", help="cProfile the platform")
    parser.add_argument(
        "--tls",
        action="store_true",
        help="run the steps again on the authenticated broker (mutual TLS per device, "
        "per-device rights) and compare",
    )
    args = parser.parse_args()
    with Mosquitto(autosave_interval=100_000, max_inflight_messages=1000) as broker:
        print(f"broker {broker.url} (pid {broker.pid}); {args.seconds:g} s per step; "
              f"BSM and RSM ({OBJECTS} objects, 1 RSU per {RSU_EVERY} devices) at 10 Hz, QoS 1")  # fmt: skip
        print(_HEAD)
        plain = asyncio.run(_main(args, broker.url, broker.pid))
    if args.tls:
        with tempfile.TemporaryDirectory(prefix="v2x-bench-pki-") as pki_dir:
            tls_rows = _tls_run(args, pki_dir)
        _compare(plain, tls_rows)


_LISTENER = ("bench-obu-listener", "bench-listener-password")


def _tls_run(args: argparse.Namespace, pki_dir: str) -> list[dict[str, Any]]:
    """The same steps on the authenticated broker: a certificate per device (for the highest
    rate's devices), the rights generated from their registry records."""
    from v2xcloud.gateways.access import dynsec_document, hash_password, role_name
    from v2xcloud.gateways.broker import BrokerAuth, Mosquitto
    from v2xcloud.gateways.mqtt import MqttCredentials
    from v2xcloud.model import Device
    from v2xcloud.security.tls import write_tls_pki

    n_devices = max(RSU_EVERY, max(args.rates) // 10)
    n_rsu = n_devices // RSU_EVERY
    ids = [(f"52{k + 1:014x}", DeviceKind.RSU) for k in range(n_rsu)]
    ids += [(f"5a{k + 1:014x}", DeviceKind.OBU) for k in range(n_devices - n_rsu)]
    t0 = time.monotonic()
    pki = write_tls_pki(pki_dir, [i for i, _ in ids])
    devices = [Device(device_id=i, kind=kind, tenant="bench") for i, kind in ids]
    listener = Device(device_id=_LISTENER[0], kind=DeviceKind.OBU,
                      password_hash=hash_password(_LISTENER[1], iterations=1000))  # fmt: skip
    doc = dynsec_document([*devices, listener], platform_id="v2xcloud-platform")
    for role in doc["roles"]:  # the benchmark's listener reads every OBU's advisories
        if role["rolename"] == role_name(_LISTENER[0]):
            topic = "V2X/OBU/+/ADVISORY/DOWN"
            role["acls"] = [{"acltype": t, "topic": topic, "allow": True}
                            for t in ("subscribePattern", "publishClientReceive")]  # fmt: skip
    print(f"\nTLS: {len(ids)} device certificates and the broker's rights written in "
          f"{time.monotonic() - t0:.1f} s")  # fmt: skip
    auth = BrokerAuth(cafile=pki.ca_cert, certfile=pki.server_cert, keyfile=pki.server_key,
                      crlfile=pki.crl, dynsec=doc)  # fmt: skip
    credentials = MqttCredentials(ca_certs=str(pki.ca_cert), certfile=str(pki.platform_cert),
                                  keyfile=str(pki.platform_key))  # fmt: skip
    with Mosquitto(auth=auth, autosave_interval=100_000, max_inflight_messages=1000) as broker:
        assert broker.tls_url is not None
        print(f"broker {broker.tls_url} (mutual TLS, per-device rights; pid {broker.pid})")
        print(_HEAD)
        tls = {"pki": pki_dir, "listener": (broker.host, broker.port, *_LISTENER)}
        return asyncio.run(_main(args, broker.tls_url, broker.pid, tls, credentials))


def _compare(plain: list[dict[str, Any]], tls: list[dict[str, Any]]) -> None:
    """Per rate both runs passed or tried: achieved, p99s and CPU, and the ratio TLS / plain."""
    print("\nsame run, plain loopback vs mutual TLS with per-device rights (ratio TLS/plain):")
    by_rate = {r["offered"]: r for r in tls}
    for p in plain:
        t = by_rate.get(p["offered"])
        if t is None:
            continue

        def pair(
            key: str, unit: str = "", fmt: str = ".1f", p: dict[str, Any] = p, t: dict[str, Any] = t
        ) -> str:
            a, b = p[key], t[key]
            if a is None or b is None:
                return f"{key} -"
            ratio = f" (x{b / a:.2f})" if a else ""
            return f"{key} {a:{fmt}}{unit} -> {b:{fmt}}{unit}{ratio}"

        print(
            f"{p['offered']:>6} msg/s: {pair('achieved', '', '.0f')}, lost {p['lost']} -> "
            f"{t['lost']}, {pair('arr_p99', ' ms')}, {pair('dev_p99', ' ms')}, "
            f"{pair('cpu_us', ' us', '.0f')} platform/msg, {pair('broker_cpu_us', ' us', '.0f')} "
            f"mosquitto/msg, ok {'yes' if p['ok'] else 'NO'} -> {'yes' if t['ok'] else 'NO'}"
        )


if __name__ == "__main__":
    main()
