"""Platform-side protocol, free of sockets: one :class:`PlatformSession` per connection.

A session takes whole frames and returns the response frames to send. Decisions:

- Login (0x01) binds the connection to a VIN. With a ``TerminalAccess`` (``ev.access``) only a
  registered terminal proving its credential gets in. A login for a VIN already bound to
  another live connection is refused (``duplicate_vin``): a live session is never evicted, so
  an attacker who learns a VIN cannot push the real terminal off; a terminal whose old
  connection died silently gets back in once the server's idle timeout has closed it. A
  refused login is answered (0x04 VIN unknown, 0x03 VIN duplicate, else 0x02 error), counted,
  dead-lettered and audited by the access gate, and the connection is closed
  (``is_refused``); nothing else it sends is processed.
- Real-time (0x02) and re-sent (0x03) reports are accepted only from a logged-in VIN; they
  are de-duplicated by ``(VIN, collection time)`` across connections, so a terminal that
  re-sends after a reconnect loses nothing and duplicates nothing. Duplicates are still
  acknowledged with success (the terminal may delete them) but not stored again.
- Acknowledgements: response flag 0x01 success with the request's time (6 bytes) as data,
  0x02 error for undecodable or out-of-session frames; time sync answers the platform time;
  2025 activation answers with command 0x0A.
- 2025 signatures: with a ``signatures`` check (``ev.signature.FrameSignatureCheck``), every
  report is judged before it is de-duplicated or stored: a refused one is answered 0x05
  (signature invalid), counted as ``rejected:<reason>`` and dead-lettered, never stored; an
  activation (0x09) is answered result 2 (info 3 when the VIN has another key). Without one,
  signatures are parsed only (``signature_unchecked``).
- Platform login (0x05) is checked against the access gate's accounts (user, hashed
  password); without an access gate (a lab server) it is acknowledged unchecked, as is
  platform logout (0x06).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from v2xcloud.bounded import LruTable
from v2xcloud.errors import Gb32960Error, V2xCloudError
from v2xcloud.ev._wire import time_bytes
from v2xcloud.ev.access import LoginDecision, TerminalAccess
from v2xcloud.ev.alarms import AlarmMonitor
from v2xcloud.ev.codec import Message, decode
from v2xcloud.ev.commands import Activation
from v2xcloud.ev.frame import Command, Response, encode_frame
from v2xcloud.ev.signature import (
    FrameSignatureCheck,
    Refusal,
    activation_signed_bytes,
    report_signed_bytes,
)
from v2xcloud.ev.sink import ReportSink
from v2xcloud.failures import FailureLog
from v2xcloud.model import DeadLetter, DropReason
from v2xcloud.model.ev import EvReport

__all__ = ["PlatformSession", "SessionRegistry", "deliver_report"]

logger = logging.getLogger(__name__)


class SessionRegistry:
    """Shared by all connections: who is logged in as which VIN, and which reports were seen.

    The duplicate check keeps state for at most ``max_vins`` VINs (least recently reporting
    evicted first, counted as ``dedupe_evicted``): logins are not authenticated, so one
    connection could otherwise grow it with invented VINs until memory runs out. A report of
    an evicted VIN is checked as if the VIN were new.
    """

    def __init__(self, *, dedupe_window_s: int = 86_400, max_vins: int = 10_000) -> None:
        self.dedupe_window_s = dedupe_window_s
        self.active: dict[str, PlatformSession] = {}  # bounded by the server's connections
        self.stats: Counter[str] = Counter()
        # VIN -> (first second tracked, bitmap of the seconds seen from it)
        self._seen: LruTable[str, tuple[int, int]] = LruTable(
            limit=max_vins, name="GB/T 32960 duplicate check (VINs)"
        )
        # "vin:V" / "ip:A" -> (banned until, monotonic s; strikes): flooders are kept out
        self._bans: LruTable[str, tuple[float, int]] = LruTable(
            limit=max_vins, name="GB/T 32960 flood bans"
        )

    def ban(self, key: str, *, now_s: float, first_s: float = 10.0, max_s: float = 300.0) -> float:
        """Keep ``key`` (``"vin:..."`` or ``"ip:..."``) out for ``first_s``, twice that, ...
        up to ``max_s`` seconds on its 1st, 2nd, ... strike; returns the ban's length."""
        _, strikes = self._bans.get(key) or (0.0, 0)
        length = min(max_s, first_s * 2.0**strikes)
        self._bans[key] = (now_s + length, strikes + 1)
        return length

    def is_banned(self, key: str, *, now_s: float) -> bool:
        """Whether ``key`` is inside a ban (strikes are remembered after it ends)."""
        entry = self._bans.get(key)
        return entry is not None and now_s < entry[0]

    @property
    def max_vins(self) -> int:
        """How many VINs the duplicate check keeps state for."""
        return self._seen.limit

    def tracked_vins(self) -> int:
        """How many VINs the duplicate check currently holds."""
        return len(self._seen)

    def login(self, vin: str, session: PlatformSession) -> bool:
        """Bind ``vin`` to ``session``; False (and nothing changes) when another live, proven
        session holds it: a proven session is never evicted. A provisional one (a signature
        credential not yet shown by a verified report) is replaced and its connection closed."""
        old = self.active.get(vin)
        if old is not None and old is not session:
            if old.is_proven:
                self.stats["duplicate_vin"] += 1
                return False
            self.stats["provisional_replaced"] += 1
            old.vin, old.is_refused = None, True
            old.kick()
        self.active[vin] = session
        return True

    def logout(self, vin: str, session: PlatformSession) -> None:
        """Unbind ``vin`` if ``session`` still holds it."""
        if self.active.get(vin) is session:
            del self.active[vin]

    def is_new(self, vin: str, collected_at_ms: int) -> bool:
        """True the first time ``(vin, collected_at_ms)`` is seen.

        Collection times have whole-second resolution, so each VIN keeps a bitmap of the
        seconds seen, spanning at most ``dedupe_window_s`` (24 h: at most ~11 kB per VIN, and
        only as much as the seconds actually seen span). A report more than the window older
        than the newest one seen cannot be checked: it is accepted and counted as
        ``dedupe_too_old``.
        """
        sec = collected_at_ms // 1000
        seen = self._seen.get(vin)
        if seen is None:
            self._remember(vin, sec, 1)
            return True
        base, mask = seen
        if sec < base:
            newest = base + mask.bit_length() - 1
            if newest - sec >= self.dedupe_window_s:
                self.stats["dedupe_too_old"] += 1
                return True
            base, mask = sec, mask << (base - sec)
        elif sec - base >= self.dedupe_window_s:
            shift = sec - base - self.dedupe_window_s + 1
            base, mask = base + shift, mask >> shift
        bit = 1 << (sec - base)
        if mask & bit:
            return False
        self._remember(vin, base, mask | bit)
        return True

    def _remember(self, vin: str, base: int, mask: int) -> None:
        low = (mask & -mask).bit_length() - 1  # drop the unseen seconds below the first seen
        self._seen[vin] = (base + low, mask >> low)
        self.stats["dedupe_evicted"] = self._seen.evicted

    def forget(self, vin: str, collected_at_ms: int) -> None:
        """Undo :meth:`is_new` for a report that could not be stored."""
        seen = self._seen.get(vin)
        sec = collected_at_ms // 1000
        if seen is not None and sec >= seen[0]:
            base, mask = seen
            mask &= ~(1 << (sec - base))
            if mask:
                self._remember(vin, base, mask)
            else:
                del self._seen[vin]


class PlatformSession:
    """The protocol state of one connection from ``peer`` (the IP address).

    ``clock`` gives the platform time (UTC ms: receive times, time-sync answers); a report
    sink or alarm monitor that fails is counted in the registry's stats and in ``failures``
    (``ev:report_sink``, ``ev:alarm``: logged once with the traceback). ``forward(report,
    frame, received_ms)`` gets each accepted, new report's frame before the sink (the gateway
    tier's hand-off to the backbone); when it raises, the report is refused (``ERROR``: the
    terminal sends it again) and counted (``forward_errors``, ``ev:forward``).
    """

    def __init__(
        self,
        registry: SessionRegistry,
        *,
        report_sink: ReportSink,
        monitor: AlarmMonitor | None,
        clock: Callable[[], int],
        failures: FailureLog | None = None,
        access: TerminalAccess | None = None,
        peer: str = "",
        kick: Callable[[], None] = lambda: None,
        signatures: FrameSignatureCheck | None = None,
        dead_letter: Callable[[DeadLetter], None] | None = None,
        forward: Callable[[EvReport, bytes, int], None] | None = None,
    ) -> None:
        self.registry = registry
        self.forward = forward
        self.failures = failures if failures is not None else FailureLog(logger=logger)
        self.report_sink = report_sink
        self.monitor = monitor
        self.clock = clock
        self.vin: str | None = None
        self.rejected_streak = 0
        self.access = access
        self.peer = peer
        self.is_refused = False  # a login was refused: the server closes the connection
        self.is_proven = True  # False while a signature credential awaits its first report
        self.kick = kick  # closes the connection (a provisional session replaced)
        self.signatures = signatures
        self.dead_letter = dead_letter

    def close(self) -> None:
        """The connection ended: release the VIN."""
        if self.vin is not None:
            self.registry.logout(self.vin, self)
            self.vin = None

    def handle(self, frame: bytes) -> list[bytes]:
        """Process one whole frame (already BCC-checked); returns the frames to send back."""
        stats = self.registry.stats
        if self.is_refused:  # frames that followed a refused login in the same read
            stats["ignored_after_refusal"] += 1
            return []
        try:
            msg = decode(frame)
        except Gb32960Error as exc:  # bad input, not a failure: counted per reason
            logger.debug("GB/T 32960 frame rejected: %s", exc)
            stats[f"rejected:{exc.reason.value}"] += 1
            self.rejected_streak += 1
            return [
                self._reply(
                    frame[2], frame[4:21].decode("ascii", "replace"), Response.ERROR, frame, b""
                )
            ]
        stats[f"command:{msg.command:#04x}"] += 1
        self.rejected_streak = 0
        if msg.response != Response.COMMAND:
            return []  # a terminal's answer to a platform query: nothing to acknowledge
        return self._dispatch(msg, frame)

    def _reply(self, command: int, vin: str, flag: int, frame: bytes, data: bytes) -> bytes:
        layout = 2025 if frame[:2] == b"$$" else 2016
        if len(vin) != 17:
            vin = vin[:17].ljust(17, "?")
        return encode_frame(command=command, vin=vin, data=data, response=flag, layout=layout)

    def _dispatch(self, msg: Message, frame: bytes) -> list[bytes]:
        cmd, stats = msg.command, self.registry.stats
        request_time = frame[24:30] if len(frame) >= 31 else b""
        if cmd == Command.LOGIN:
            return [self._login(msg, frame, request_time)]
        if cmd == Command.PLATFORM_LOGIN and self.access is not None:
            decision = self.access.platform_login(
                msg.body, vin=msg.vin, peer=self.peer, now_ms=self.clock()
            )
            if not decision.is_accepted:
                return [self._refuse(decision, msg, frame, Response.ERROR)]
            stats["platform_logins"] += 1
            return [self._reply(cmd, msg.vin, Response.SUCCESS, frame, request_time)]
        if cmd in (Command.REALTIME, Command.RESENT):
            return [self._reply(cmd, msg.vin, self._report(msg, frame), frame, request_time)]
        if cmd == Command.LOGOUT:
            self.close()
            return [self._reply(cmd, msg.vin, Response.SUCCESS, frame, request_time)]
        if cmd == Command.TIME_SYNC:
            return [self._reply(cmd, msg.vin, Response.SUCCESS, frame, time_bytes(self.clock()))]
        if cmd in (
            Command.HEARTBEAT,
            Command.PLATFORM_LOGIN,
            Command.PLATFORM_LOGOUT,
            Command.KEY_SYNC,
        ):
            return [
                self._reply(
                    cmd, msg.vin, Response.SUCCESS, frame, request_time if cmd != 0x07 else b""
                )
            ]
        if cmd == Command.ACTIVATION:
            result = self._activation(msg, frame)
            return [
                self._reply(Command.ACTIVATION_RESPONSE, msg.vin, Response.COMMAND, frame, result)
            ]
        stats["unsupported_command"] += 1
        return [self._reply(cmd, msg.vin, Response.ERROR, frame, b"")]

    def _login(self, msg: Message, frame: bytes, request_time: bytes) -> bytes:
        if self.registry.is_banned(f"vin:{msg.vin}", now_s=time.monotonic()):
            decision = LoginDecision(
                is_accepted=False,
                why="flood_ban",
                detail=f"VIN {msg.vin} was cut off for flooding; banned for a while",
            )
            return self._refuse(decision, msg, frame, Response.ERROR)
        if self.access is not None:
            decision = self.access.vehicle_login(msg, peer=self.peer, now_ms=self.clock())
            if not decision.is_accepted:
                flag = Response.VIN_UNKNOWN if decision.why == "unknown_vin" else Response.ERROR
                return self._refuse(decision, msg, frame, flag)
            if decision.login_at_ms is not None:  # encrypted: echo the time it decrypted to
                request_time = time_bytes(decision.login_at_ms)
            self.is_proven = decision.is_proven
        if self.vin is not None and self.vin != msg.vin:
            self.close()
        if not self.registry.login(msg.vin, self):
            decision = LoginDecision(
                is_accepted=False,
                why="duplicate_vin",
                detail=f"VIN {msg.vin} already has a live session; the new login is refused",
            )
            return self._refuse(decision, msg, frame, Response.VIN_DUPLICATE)
        self.vin = msg.vin
        self.registry.stats["logins"] += 1
        return self._reply(Command.LOGIN, msg.vin, Response.SUCCESS, frame, request_time)

    def _refuse(self, decision: LoginDecision, msg: Message, frame: bytes, flag: int) -> bytes:
        self.is_refused = True
        self.registry.stats[f"login_refused:{decision.why}"] += 1
        if self.access is not None:
            self.access.refused(
                decision, frame=frame, vin=msg.vin, peer=self.peer, now_ms=self.clock()
            )
        else:
            logger.debug("GB/T 32960 login refused from %s: %s", self.peer, decision.detail)
        echo = frame[24:30] if msg.encryption == 0x01 else b""
        return self._reply(msg.command, msg.vin, flag, frame, echo)

    def _unproven(self, msg: Message, frame: bytes, detail: str) -> None:
        decision = LoginDecision(is_accepted=False, why="bad_signature", detail=detail)
        self.close()
        self._refuse(decision, msg, frame, Response.SIGNATURE_INVALID)

    def _activation(self, msg: Message, frame: bytes) -> bytes:
        """Result and info bytes of the activation response (1, 1: activated)."""
        body = msg.body
        if self.signatures is None or not isinstance(body, Activation):
            return b"\x01\x01"
        signed = activation_signed_bytes(frame, body.signature)
        refusal = self.signatures.check_activation(msg.vin, body.public_key, body.signature, signed)
        if refusal is None:
            self.registry.stats["activations"] += 1
            return b"\x01\x01"
        self._signature_refused(refusal, frame, msg.vin)
        return b"\x02\x03" if refusal[0] is DropReason.IDENTITY_MISMATCH else b"\x02\x01"

    def _signature_refused(self, refusal: Refusal, frame: bytes, vin: str) -> None:
        reason, detail = refusal
        self.registry.stats[f"rejected:{reason.value}"] += 1
        logger.debug("GB/T 32960 signature refused from %s: %s", self.peer, detail)
        if self.dead_letter is not None:
            self.dead_letter(
                DeadLetter(
                    raw=frame,
                    source=f"gb32960:{vin}",
                    received_at_ms=self.clock(),
                    reason=reason,
                    where="signature",
                    detail=detail,
                )
            )

    def _report(self, msg: Message, frame: bytes) -> int:
        stats = self.registry.stats
        if self.vin is None or msg.vin != self.vin:
            stats["report_without_login"] += 1
            return Response.ERROR
        if not isinstance(msg.body, EvReport):
            stats["report_undecryptable"] += 1
            return Response.DECRYPTION_FAILED if msg.layout == 2025 else Response.ERROR
        report = msg.body
        if self.signatures is not None:
            sig = report.signature
            signed = report_signed_bytes(frame, sig) if sig is not None else b""
            refusal = self.signatures.check_report(report.vin, sig, signed)
            if refusal is not None:
                self._signature_refused(refusal, frame, report.vin)
                if not self.is_proven:  # the login's only credential failed: refuse it
                    self._unproven(msg, frame, refusal[1])
                return Response.SIGNATURE_INVALID
            self.is_proven = self.is_proven or sig is not None
        elif report.signature is not None:
            stats["signature_unchecked"] += 1
        if not self.registry.is_new(report.vin, report.collected_at_ms):
            stats["duplicate_report"] += 1
            return Response.SUCCESS
        received = self.clock()
        if self.forward is not None:
            try:
                self.forward(report, frame, received)
            except (V2xCloudError, OSError, ValueError) as exc:
                # not handed on: forget it so the terminal's re-send is accepted, and say so
                self.registry.forget(report.vin, report.collected_at_ms)
                stats["forward_errors"] += 1
                self.failures.record("ev:forward", exc, logger=logger)
                return Response.ERROR
        if not deliver_report(
            report,
            received,
            sink=self.report_sink,
            monitor=self.monitor,
            stats=stats,
            failures=self.failures,
        ):
            # not stored: forget it so the terminal's re-send is accepted
            self.registry.forget(report.vin, report.collected_at_ms)
            return Response.ERROR
        return Response.SUCCESS


def deliver_report(
    report: EvReport,
    received_at_ms: int,
    *,
    sink: ReportSink,
    monitor: AlarmMonitor | None,
    stats: Counter[str],
    failures: FailureLog,
) -> bool:
    """The EV analytics of one accepted, de-duplicated report, wherever it was received (a
    terminal's session here, or the centre tier reading the gateways' reports off the
    backbone): ``sink`` (the live monitor, the history) takes it, then ``monitor`` (the
    vehicle's own alarms, battery anomalies, charging needs) judges it. False when the sink
    failed (``sink_errors``, ``ev:report_sink``: not stored, the caller lets it be sent
    again); an alarm monitor that fails is counted (``alarm_errors``, ``ev:alarm``) and the
    report stays stored."""
    try:
        sink.write(report)
    except (V2xCloudError, OSError, ValueError) as exc:
        stats["sink_errors"] += 1
        failures.record("ev:report_sink", exc, logger=logger)
        return False
    stats["reports_stored"] += 1
    if monitor is not None:
        try:
            monitor.on_report(report, received_at_ms=received_at_ms)
        except (V2xCloudError, OSError, ValueError) as exc:
            stats["alarm_errors"] += 1
            failures.record("ev:alarm", exc, logger=logger)
        stats["alarm_state_evicted"] = monitor.evicted
    return True
