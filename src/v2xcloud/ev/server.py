"""The platform-side GB/T 32960 TCP server (asyncio).

Each connection gets a :class:`~v2xcloud.ev.scanner.FrameScanner` (bounded re-assembly,
resync on garbage) and a :class:`~v2xcloud.ev.session.PlatformSession` (login, acks,
dedupe). A connection is closed when it stays silent for ``idle_timeout_s``, when its stream
overflows the scanner's bounds (garbage or a never-ending frame), when its login is refused
(``access``: unregistered VIN, wrong credential, VIN already live; see ``ev.access``), when it
sends more than ``max_frames_per_s`` frames a second on average (a token bucket holding
``frame_burst`` frames: a re-send backlog after an outage fits, a flood does not; counted as
``flood_cut_off`` and dead-lettered as ``rate_limited``; the flooder's VIN, or its address if it
never logged in, is then banned for 10, 20, 40, ... up to 300 s per repeat), or when more than ``max_rejected_streak`` frames in a row fail to decode (a stream
of ``#`` is an endless series of BCC-valid nonsense frames). Nothing one connection does can stall another: every step is bounded and errors in
one handler are counted, never propagated: each isolated failure is counted per boundary
in ``failures`` (``ev:handler`` for a handler bug, ``ev:connection`` for a socket error,
``ev:flush`` for a report sink that cannot flush, and from the sessions ``ev:report_sink``
and ``ev:alarm``) and logged once with its traceback (socket errors at INFO).

Time comes from ``clock`` (a ``runtime.Clock``; the system clock by default, a
``ManualClock`` in tests): the sessions' receive times and time-sync answers and the default
alarm monitor read it, never the wall clock directly.

>>> async def demo():                                         # doctest: +SKIP
...     server = Gb32960Server(report_sink=MemoryReportSink())
...     await server.start()            # 127.0.0.1, ephemeral port: server.port
...     await server.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Callable

from v2xcloud.errors import GatewayError
from v2xcloud.ev._throttle import LogThrottle
from v2xcloud.ev.access import TerminalAccess
from v2xcloud.ev.alarms import AlarmMonitor
from v2xcloud.ev.scanner import FrameScanner
from v2xcloud.ev.session import PlatformSession, SessionRegistry
from v2xcloud.ev.signature import FrameSignatureCheck
from v2xcloud.ev.sink import AlarmSink, ReportSink
from v2xcloud.failures import FailureLog
from v2xcloud.model import DeadLetter, DropReason
from v2xcloud.model.ev import EvReport
from v2xcloud.runtime.clock import Clock, SystemClock

__all__ = ["Gb32960Server"]

logger = logging.getLogger(__name__)

_READ_CHUNK = 65_536
_LOGIN_READ = 4_096  # a login frame is far smaller; more just arrives in the next read
_HANDLER_CLOSE_S = 2.0  # a closing handler waits 1 s for its peer; then it is cancelled


class Gb32960Server:
    """Accepts terminals on ``host:port`` (port 0 = ephemeral; see :attr:`port` after start).

    Alarms go through ``monitor`` when given (e.g. an :class:`AlarmMonitor` with chargers),
    else through a default monitor over ``alarm_sink``; with neither, no alarms are raised.
    At most ``max_connections`` terminals are served at once (more are closed on accept and
    counted as ``connections_refused``), at most ``max_connections_per_address`` from one IP
    address (``connections_refused_per_address``; terminals behind one carrier NAT share an
    address, hence the generous default); the duplicate check keeps at most ``max_vins`` VINs.
    Without ``access`` every VIN may log in (a lab server); the platform (``cli``) always gives
    one. ``signatures`` judges GB/T 32960-2025 report and activation signatures (see
    ``ev.signature``; without it they are parsed only). ``dead_letter`` receives cut-off
    flooders' last frame and frames refused for their signature. ``forward(report, frame,
    received_ms)`` gets each accepted new report's frame first (``PlatformSession``: the
    gateway tier publishes it on the backbone for the centre's EV analytics).
    """

    def __init__(
        self,
        *,
        report_sink: ReportSink,
        alarm_sink: AlarmSink | None = None,
        monitor: AlarmMonitor | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        idle_timeout_s: float = 180.0,
        max_buffer_bytes: int = 131_112,
        max_garbage_bytes: int = 65_536,
        max_rejected_streak: int = 50,
        flush_interval_s: float = 1.0,
        max_connections: int = 10_000,
        max_vins: int = 10_000,
        max_connections_per_address: int = 256,
        max_frames_per_s: float = 100.0,
        frame_burst: int = 2_000,
        clock: Clock | None = None,
        failures: FailureLog | None = None,
        access: TerminalAccess | None = None,
        dead_letter: Callable[[DeadLetter], None] | None = None,
        signatures: FrameSignatureCheck | None = None,
        forward: Callable[[EvReport, bytes, int], None] | None = None,
    ) -> None:
        self.host, self.requested_port = host, port
        self.forward = forward
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.failures = failures if failures is not None else FailureLog(logger=logger)
        self.report_sink = report_sink
        self.registry = SessionRegistry(max_vins=max_vins)
        self.max_connections = max_connections
        self.max_connections_per_address = max_connections_per_address
        self.max_frames_per_s = max_frames_per_s
        self.frame_burst = frame_burst
        self.access = access
        self.dead_letter = dead_letter
        self.signatures = signatures
        self._per_address: Counter[str] = Counter()  # open connections; bounded by the above
        self._log = LogThrottle(logger)  # an attacker cannot fill the disk through our log
        if monitor is None and alarm_sink is not None:
            monitor = AlarmMonitor(alarm_sink, clock=self.clock.now_ms)
        self.monitor = monitor
        self.idle_timeout_s = idle_timeout_s
        self.max_buffer_bytes = max_buffer_bytes
        self.max_garbage_bytes = max_garbage_bytes
        self.max_rejected_streak = max_rejected_streak
        self.flush_interval_s = flush_interval_s
        self._server: asyncio.Server | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        # processing time (read -> reply written), last 100k chunks, for monitoring
        self.handling_ms: deque[float] = deque(maxlen=100_000)

    @property
    def stats(self) -> Counter[str]:
        """Counters: connections, frames, rejections by reason, duplicates, cut-offs, ..."""
        return self.registry.stats

    @property
    def errors(self) -> dict[str, int]:
        """Isolated failures per boundary (``ev:handler``, ``ev:report_sink``, ...)."""
        return self.failures.counts()

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._server is None or not self._server.sockets:
            raise GatewayError("GB/T 32960 server not started; call await server.start() first")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Bind and start accepting connections."""
        self._server = await asyncio.start_server(
            self._handle, self.host, self.requested_port, limit=_READ_CHUNK, backlog=2048
        )
        if self.flush_interval_s > 0:  # 0: the sink flushes itself (e.g. the history writer)
            self._flusher = asyncio.create_task(self._flush_loop())

    async def close(self) -> None:
        """Stop accepting, close every connection and flush the report sink."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._end_handlers()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            except Exception as exc:  # closing anyway: count it, do not fail the shutdown
                self.failures.record("ev:close", exc, logger=logger, level=logging.DEBUG)
        self.report_sink.flush()

    async def _end_handlers(self) -> None:
        """Wait (bounded) for the connection handlers to finish closing; cancel the rest, so
        none is left pending when the caller's event loop ends."""
        handlers = [t for t in self._handlers if t is not asyncio.current_task()]
        if not handlers:
            return
        _, pending = await asyncio.wait(handlers, timeout=_HANDLER_CLOSE_S)
        if pending:
            self.stats["handlers_cancelled"] += len(pending)
            logger.warning(
                "GB/T 32960 server close: %d connection handler(s) still running after %.1f s, "
                "cancelled",
                len(pending),
                _HANDLER_CLOSE_S,
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            try:
                self.report_sink.flush()
            except Exception as exc:  # keep flushing later; the sink may recover
                self.stats["flush_errors"] += 1
                self.failures.record("ev:flush", exc, logger=logger)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        stats = self.stats
        if len(self._writers) >= self.max_connections:
            stats["connections_refused"] += 1  # at the limit: one per terminal is plenty
            writer.close()
            return
        peer = _peer_ip(writer)
        if self._per_address[peer] >= self.max_connections_per_address:
            stats["connections_refused_per_address"] += 1
            writer.close()
            return
        if self.registry.is_banned(f"ip:{peer}", now_s=time.monotonic()):
            stats["connections_refused_banned"] += 1  # a flooder that never logged in
            writer.close()
            return
        stats["connections"] += 1
        self._per_address[peer] += 1
        self._writers.add(writer)
        scanner = FrameScanner(
            max_buffer_bytes=self.max_buffer_bytes, max_garbage_bytes=self.max_garbage_bytes
        )
        session = PlatformSession(
            self.registry,
            report_sink=self.report_sink,
            monitor=self.monitor,
            clock=self.clock.now_ms,
            failures=self.failures,
            access=self.access,
            peer=peer,
            kick=writer.close,
            signatures=self.signatures,
            dead_letter=self.dead_letter,
            forward=self.forward,
        )
        try:
            await self._serve(reader, writer, scanner, session)
        except (ConnectionError, OSError) as exc:
            stats["connection_errors"] += 1
            self.failures.record("ev:connection", exc, logger=logger, level=logging.INFO)
        except Exception as exc:  # one broken handler must never take the server down
            stats["handler_errors"] += 1
            self.failures.record("ev:handler", exc, logger=logger)
        finally:
            stats["dropped_bytes"] += scanner.dropped_bytes
            session.close()
            self._writers.discard(writer)
            self._per_address[peer] -= 1
            if self._per_address[peer] <= 0:
                del self._per_address[peer]
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            except Exception as exc:  # the peer vanished mid-close: nothing left to do
                self.failures.record("ev:close", exc, logger=logger, level=logging.DEBUG)

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        scanner: FrameScanner,
        session: PlatformSession,
    ) -> None:
        stats = self.stats
        bucket = _FrameBucket(self.max_frames_per_s, self.frame_burst)
        while not writer.is_closing():
            try:
                # before a login, small reads: a refused client's stream is not scanned in bulk
                size = _READ_CHUNK if session.vin is not None else _LOGIN_READ
                chunk = await asyncio.wait_for(reader.read(size), self.idle_timeout_s)
            except TimeoutError:
                stats["idle_timeouts"] += 1
                return
            if not chunk:
                return
            started = time.perf_counter()
            replies: list[bytes] = []
            for item in scanner.feed(chunk):
                if not isinstance(item, bytes):
                    stats[f"rejected:{item.reason.value}"] += 1
                elif session.is_refused:  # the rest of a refused client's read: not looked at
                    break
                elif not bucket.take():
                    self._flooded(item, session)
                    return
                else:
                    stats["frames"] += 1
                    replies += session.handle(item)
            if scanner.is_overflowing or session.rejected_streak > self.max_rejected_streak:
                stats["cut_off"] += 1
                return
            if replies:
                writer.write(b"".join(replies))
                self.handling_ms.append((time.perf_counter() - started) * 1000)
                try:
                    await asyncio.wait_for(writer.drain(), self.idle_timeout_s)
                except TimeoutError:
                    stats["slow_reader_cut_off"] += 1
                    return
            if session.is_refused:  # the refusal is written; nothing more from this client
                stats["refused_cut_off"] += 1
                return

    def _flooded(self, frame: bytes, session: PlatformSession) -> None:
        self.stats["flood_cut_off"] += 1
        # a logged-in flooder's VIN is banned (terminals behind one NAT address stay in); one
        # that never logged in has only its address to be known by
        key = f"vin:{session.vin}" if session.vin else f"ip:{session.peer}"
        ban_s = self.registry.ban(key, now_s=time.monotonic())
        detail = (
            f"{session.peer} ({session.vin or 'not logged in'}) sent more than "
            f"{self.max_frames_per_s:g} frames/s (burst {self.frame_burst}); connection closed, "
            f"{key} banned for {ban_s:g} s"
        )
        self._log.log("flood", logging.WARNING, "GB/T 32960 client cut off: %s", detail)
        if self.dead_letter is not None:
            self.dead_letter(
                DeadLetter(
                    raw=frame,
                    source=f"gb32960:{session.peer}",
                    received_at_ms=self.clock.now_ms(),
                    reason=DropReason.RATE_LIMITED,
                    detail=detail,
                )
            )


class _FrameBucket:
    """Token bucket over the event loop's monotonic clock: ``rate`` frames/s, ``burst`` deep."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens = float(burst)
        self.loop = asyncio.get_running_loop()
        self.last = self.loop.time()

    def take(self) -> bool:
        now = self.loop.time()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


def _peer_ip(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
