"""The UDP gateway: raw UPER datagrams as US-style roadside equipment forwards them.

An RSU's "immediate forward" sends each received (or generated) message to a configured UDP
port, bare or still in its IEEE 1609.3 WSMP and IEEE 1609.2 wrappers. ``UdpGateway`` listens on
one port per message type plus a generic one (``default_ports``: generic at the base port,
BSM, MAP, SPAT, RSI, RSM on the next five), strips the wrappers (``ieee1609.unwrap``, per port
``framing``) and puts each inner UPER frame on the ``IngressQueue`` as an ``InboundFrame``:
``message_type`` is the port's (None on the generic port: the frame's MessageFrame choice
tells), ``channel`` ``"udp:PORT"``, ``transport`` ``"udp"``. The sender's address becomes the
device through ``resolve(ip)`` (the device registry; the frame's ``sender_id`` then names it,
the address vouching for it), else ``"udp:<ip>"`` of kind UNKNOWN. A frame's payload is the
inner UPER bytes as received; a datagram dropped here is kept whole in its dead letter.

Nothing is dropped silently: an empty or oversize datagram, a wrapper that does not parse
(``TRUNCATED``/``FRAMING``/``WRONG_VERSION``/``TRAILING_BYTES`` with ``where="byte N"``),
signed 1609.2 data (``SIGNED_UNVERIFIED`` when the platform has no security stage, the whole
datagram kept; with one, ``keep_signed``, the signed data goes on whole to be verified) and a full queue (``QUEUE_FULL``) each go to ``dead_letter`` and are counted in
``stats()``. Datagram handling never blocks and never waits on the tick loop. Datagrams the
kernel discards before the gateway reads them (its receive buffer full: the gateway fell
behind) cannot be dead-lettered, but are not silent either: on Linux ``stats()`` reports them
as ``kernel_drops``, read from ``/proc/net/udp`` for the gateway's sockets; each socket's
receive buffer is ``recv_buffer_bytes`` (the kernel caps it at ``net.core.rmem_max``).

>>> default_ports(4500)[:2]
[UdpPort(port=4500, message_type=None, framing='auto'), UdpPort(port=4501, message_type='BSM', framing='auto')]
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import Counter
from collections.abc import Callable, Sequence

import msgspec

from v2xcloud.errors import ConfigError, GatewayError
from v2xcloud.failures import FailureLog
from v2xcloud.gateways.base import DeviceKind, InboundFrame, IngressQueue
from v2xcloud.gateways.ieee1609 import FRAMINGS, WrapDrop, unwrap
from v2xcloud.model import DeadLetter, DropReason
from v2xcloud.runtime.clock import Clock, SystemClock

__all__ = [
    "PORT_TYPES",
    "DeviceResolver",
    "UdpGateway",
    "UdpPort",
    "default_ports",
    "parse_udp_address",
]

logger = logging.getLogger(__name__)

#: message types a dedicated port may carry, in the order ``default_ports`` numbers them
PORT_TYPES: tuple[str, ...] = ("BSM", "MAP", "SPAT", "RSI", "RSM")
#: ``resolve(ip) -> (device id, kind)`` or None for an address no device is registered at
DeviceResolver = Callable[[str], tuple[str, DeviceKind] | None]
DeadLetterHandler = Callable[[DeadLetter], None]
_MAX_UDP_PAYLOAD = 65_507
_PROC_UDP = ("/proc/net/udp", "/proc/net/udp6")


class UdpPort(msgspec.Struct, frozen=True, kw_only=True):
    """One listening port: 0 lets the system choose (see ``UdpGateway.bound``).

    ``message_type`` is what the port carries (None: the generic port); ``framing`` is
    ``"auto"`` (WSMP or 1609.2 wrappers recognised by an exact parse, else raw), ``"raw"``,
    ``"wsmp"`` or ``"1609.2"`` (wrapper required: a bad header is a drop naming its byte).
    """

    port: int
    message_type: str | None = None
    framing: str = "auto"


def default_ports(base: int, *, framing: str = "auto") -> list[UdpPort]:
    """The generic port at ``base`` and one per message type on the next ports."""
    ports = [UdpPort(port=base, framing=framing)]
    ports += [
        UdpPort(port=base + 1 + i, message_type=t, framing=framing)
        for i, t in enumerate(PORT_TYPES)
    ]
    return ports


def parse_udp_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port); ``ConfigError`` saying how to write it otherwise."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 - len(PORT_TYPES):
        raise ConfigError(
            f"bad UDP address {text!r}; write HOST:PORT, e.g. 0.0.0.0:4500 (PORT and the "
            f"{len(PORT_TYPES)} ports after it are used)"
        )
    return host.strip("[]"), int(port)


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, gateway: UdpGateway, config: UdpPort) -> None:
        self.gateway = gateway
        self.config = config
        self.port = config.port

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            self.gateway._received(data, str(addr[0]), self)
        except Exception as exc:  # one bad datagram must not stop the endpoint
            self.gateway.failures.record(f"udp:{self.port}", exc, logger=logger)

    def error_received(self, exc: Exception) -> None:
        self.gateway._counts["socket_errors"] += 1
        self.gateway.failures.record(f"udp:{self.port}:socket", exc, logger=logger)


class UdpGateway:
    """Listens on ``ports`` at ``host``; see the module docstring.

    ``dead_letter`` receives every dropped datagram; ``resolve`` maps a sender's IP address
    to its registered device; ``max_datagram_bytes`` bounds what is accepted (larger is
    ``OVERSIZE``, its first ``max_datagram_bytes`` kept); ``recv_buffer_bytes`` sizes each
    socket's kernel receive buffer; ``clock`` stamps arrivals; ``keep_signed`` hands signed
    1609.2 data on whole (the platform's security stage verifies it) instead of dropping it
    as ``SIGNED_UNVERIFIED``.
    """

    name = "udp"

    def __init__(
        self,
        queue: IngressQueue,
        *,
        dead_letter: DeadLetterHandler,
        ports: Sequence[UdpPort],
        host: str = "127.0.0.1",
        resolve: DeviceResolver | None = None,
        max_datagram_bytes: int = 8 * 1024,
        recv_buffer_bytes: int = 4 * 1024 * 1024,
        clock: Clock | None = None,
        keep_signed: bool = False,
    ) -> None:
        if not ports:
            raise ConfigError("a UDP gateway needs at least one port; see default_ports(base)")
        for p in ports:
            if p.framing not in FRAMINGS:
                raise ConfigError(f"UDP port {p.port}: framing {p.framing!r}; use {FRAMINGS}")
            if p.message_type is not None and p.message_type not in PORT_TYPES:
                raise ConfigError(
                    f"UDP port {p.port}: message type {p.message_type!r}; use {PORT_TYPES}"
                )
        if not 0 < max_datagram_bytes <= _MAX_UDP_PAYLOAD:
            raise ConfigError(f"max_datagram_bytes must be 1..{_MAX_UDP_PAYLOAD}")
        self.queue = queue
        self.keep_signed = keep_signed
        self.host = host
        self.ports = list(ports)
        self.max_datagram_bytes = max_datagram_bytes
        self.recv_buffer_bytes = recv_buffer_bytes
        self.failures = FailureLog(logger=logger)
        self._dead_letter = dead_letter
        self._resolve = resolve
        self._clock: Clock = clock or SystemClock()
        self._counts: Counter[str] = Counter()
        self._transports: list[asyncio.DatagramTransport] = []
        self._endpoints: list[_Endpoint] = []
        self._inodes: set[int] = set()

    @property
    def bound(self) -> dict[str | None, int]:
        """The port each message type (None: generic) is bound to, once started."""
        return {e.config.message_type: e.port for e in self._endpoints}

    async def start(self) -> None:
        """Bind every port; raises ``GatewayError`` (all closed again) if one cannot be bound."""
        if self._transports:
            raise GatewayError("UDP gateway already started; stop it first")
        loop = asyncio.get_running_loop()
        try:
            for config in self.ports:
                endpoint = _Endpoint(self, config)
                transport, _ = await loop.create_datagram_endpoint(
                    lambda e=endpoint: e,  # type: ignore[misc]
                    local_addr=(self.host, config.port),
                )
                endpoint.port = transport.get_extra_info("sockname")[1]
                self._inodes.add(self._tune(transport))
                self._transports.append(transport)
                self._endpoints.append(endpoint)
        except OSError as exc:
            await self.stop()
            raise GatewayError(f"cannot bind UDP {self.host}:{config.port}: {exc}") from exc
        logger.info("UDP gateway listening on %s: %s", self.host, self.bound)

    def _tune(self, transport: asyncio.DatagramTransport) -> int:
        """Size the socket's receive buffer; its inode, to find its kernel drop count."""
        sock: socket.socket = transport.get_extra_info("socket")
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.recv_buffer_bytes)
        except OSError as exc:  # a platform refusing the size: keep its default, say so
            logger.warning(
                "UDP receive buffer of %d bytes refused: %s", self.recv_buffer_bytes, exc
            )
        return os.fstat(sock.fileno()).st_ino

    async def stop(self) -> None:
        """Close every port (the kernel drop count is read once more first)."""
        if self._inodes:
            self._counts["kernel_drops"] = self.kernel_drops() or 0
        for transport in self._transports:
            transport.close()
        self._transports.clear()
        self._endpoints.clear()
        self._inodes.clear()
        await asyncio.sleep(0)  # let the loop run the transports' connection_lost

    def kernel_drops(self) -> int | None:
        """Datagrams the kernel dropped on this gateway's open sockets (receive buffer full),
        from ``/proc/net/udp``; None where that table does not exist (not Linux)."""
        total, seen = 0, False
        for path in _PROC_UDP:
            try:
                with open(path, encoding="ascii") as table:
                    rows = table.read().splitlines()[1:]
            except OSError:
                continue
            seen = True
            for row in rows:
                fields = row.split()
                if len(fields) >= 13 and int(fields[9]) in self._inodes:
                    total += int(fields[12])
        return total if seen else None

    def stats(self) -> dict[str, int]:
        """Datagrams in, frames queued, wrappers stripped, drops per reason, socket errors and
        (Linux) ``kernel_drops`` — datagrams lost before the gateway could read them."""
        counts = dict(self._counts)
        if self._inodes and (drops := self.kernel_drops()) is not None:
            counts["kernel_drops"] = drops
        return counts

    # -- one datagram ---------------------------------------------------------------------------

    def _received(self, data: bytes, ip: str, endpoint: _Endpoint) -> None:
        now = self._clock.now_ms()
        self._counts["datagrams_in"] += 1
        channel = f"udp:{endpoint.port}"
        if not data:
            self._drop(b"", ip, channel, now, WrapDrop(reason=DropReason.EMPTY, detail="no bytes"))
            return
        if len(data) > self.max_datagram_bytes:
            detail = f"{len(data)} bytes, more than the {self.max_datagram_bytes} accepted"
            drop = WrapDrop(reason=DropReason.OVERSIZE, detail=detail)
            self._drop(data[: self.max_datagram_bytes], ip, channel, now, drop)
            return
        inner = unwrap(data, framing=endpoint.config.framing, keep_signed=self.keep_signed)
        if isinstance(inner, WrapDrop):
            self._drop(data, ip, channel, now, inner)
            return
        for layer in inner.layers:
            self._counts[f"unwrapped.{layer}"] += 1
        if inner.is_signed:
            self._counts["signed_kept"] += 1
        found = self._resolve(ip) if self._resolve is not None else None
        device_id, kind = found if found is not None else (f"udp:{ip}", DeviceKind.UNKNOWN)
        frame = InboundFrame(
            payload=inner.payload,
            device_id=device_id,
            device_kind=kind,
            message_type=endpoint.config.message_type,
            transport="udp",
            channel=channel,
            received_at_ms=now,
            sender_id=device_id if found is not None else None,  # the address vouches for it
        )
        if self.queue.put(frame):
            self._counts["frames_in"] += 1
        else:
            full = WrapDrop(reason=DropReason.QUEUE_FULL, detail="ingress queue full")
            self._drop(data, ip, channel, now, full)

    def _device(self, ip: str) -> tuple[str, DeviceKind]:
        found = self._resolve(ip) if self._resolve is not None else None
        return found if found is not None else (f"udp:{ip}", DeviceKind.UNKNOWN)

    def _drop(self, raw: bytes, ip: str, channel: str, now: int, drop: WrapDrop) -> None:
        self._counts[f"dropped.{drop.reason.value}"] += 1
        device_id, _ = self._device(ip)
        letter = DeadLetter(
            raw=raw,
            source=device_id,
            received_at_ms=now,
            reason=drop.reason,
            detail=f"{channel} from {ip}: {drop.detail}",
            where=drop.where,
        )
        self._dead_letter(letter)
