"""A 2025 terminal whose credential is its SM2 signature (registered key, signatures required):
its login is provisional until a report's signature verifies; a squatter's silent login is
replaced by the real terminal's; a report with a bad signature refuses the whole session; a
proven session is never replaced."""

from __future__ import annotations

import msgspec

from v2xcloud.ev.access import StaticDirectory, TerminalAccess, TerminalCredential
from v2xcloud.ev.codec import Message, decode, encode
from v2xcloud.ev.commands import VehicleLogin
from v2xcloud.ev.realtime import encode_report
from v2xcloud.ev.session import PlatformSession, SessionRegistry
from v2xcloud.ev.sink import MemoryReportSink
from v2xcloud.ev.vehicle_sim import SimulatedVehicle
from v2xcloud.model import DeadLetter, DropReason
from v2xcloud.model.ev import EvReport, EvSignature
from v2xcloud.security.crypto import Signer, generate_signer
from v2xcloud.security.terminal_keys import TerminalSignatures
from v2xcloud.security.types import SignatureAlgorithm

VIN = "LSIGN000000000001"
T0 = 1_700_000_000_000


class _Rig:
    def __init__(self) -> None:
        self.signer = generate_signer(SignatureAlgorithm.SM2_SM3)
        self.check = TerminalSignatures({VIN: self.signer.public_key}, require=True)
        self.letters: list[DeadLetter] = []
        self.access = TerminalAccess(
            StaticDirectory([TerminalCredential(vin=VIN, has_signing_key=True)]),
            dead_letter=self.letters.append,
        )
        self.registry = SessionRegistry()
        self.sink = MemoryReportSink()
        self.kicked: list[str] = []

    def session(self, name: str) -> PlatformSession:
        return PlatformSession(
            self.registry,
            report_sink=self.sink,
            monitor=None,
            clock=lambda: T0 + 5000,
            access=self.access,
            peer="127.0.0.1",
            kick=lambda: self.kicked.append(name),
            signatures=self.check,
            dead_letter=self.letters.append,
        )


def _login(serial: int = 1) -> bytes:
    body = VehicleLogin(at_ms=T0, serial=serial, iccid="8986", pack_codes=())
    return encode(Message(command=0x01, vin=VIN, body=body, layout=2025))


def _report(seed: int, signer: Signer | None) -> bytes:
    report: EvReport = msgspec.structs.replace(
        SimulatedVehicle(VIN, seed=seed, start_ms=T0 + seed * 1000).step(),
        layout=2025,
        signature=None,
    )
    if signer is not None:
        sig = signer.sign(encode_report(report))
        report = msgspec.structs.replace(
            report, signature=EvSignature(algorithm=1, r=sig[:32], s=sig[32:])
        )
    return encode(Message(command=0x02, vin=VIN, body=report, layout=2025))


def _flag(session: PlatformSession, frame: bytes) -> int:
    replies = session.handle(frame)
    return decode(replies[0]).response if replies else -1


def test_silent_squatter_replaced_and_proven_session_kept() -> None:
    rig = _Rig()
    squatter, real, late = rig.session("squatter"), rig.session("real"), rig.session("late")
    assert _flag(squatter, _login()) == 0x01 and not squatter.is_proven
    assert _flag(real, _login(2)) == 0x01  # the squatter never proved anything: replaced
    assert rig.kicked == ["squatter"] and squatter.is_refused
    assert rig.registry.stats["provisional_replaced"] == 1
    assert _flag(real, _report(1, rig.signer)) == 0x01 and real.is_proven
    assert _flag(late, _login(3)) == 0x03  # a proven session is never replaced
    assert rig.registry.active[VIN] is real and rig.kicked == ["squatter"]
    assert len(rig.sink.reports) == 1


def test_bad_signature_refuses_a_provisional_session() -> None:
    rig = _Rig()
    forger = rig.session("forger")
    assert _flag(forger, _login()) == 0x01
    other = generate_signer(SignatureAlgorithm.SM2_SM3)
    assert _flag(forger, _report(1, other)) == 0x05  # signature invalid
    assert forger.is_refused and VIN not in rig.registry.active
    assert rig.registry.stats["login_refused:bad_signature"] == 1
    assert [d.reason for d in rig.letters] == [
        DropReason.BAD_SIGNATURE,
        DropReason.BAD_CREDENTIAL,
    ]
    assert _flag(forger, _report(2, rig.signer)) == -1  # nothing more from it is processed
    assert not rig.sink.reports
    real = rig.session("real")
    assert _flag(real, _login(2)) == 0x01 and _flag(real, _report(3, rig.signer)) == 0x01


def test_unsigned_report_refuses_a_provisional_session() -> None:
    rig = _Rig()
    forger = rig.session("forger")
    assert _flag(forger, _login()) == 0x01
    assert _flag(forger, _report(1, None)) == 0x05 and forger.is_refused
    assert rig.letters[0].reason is DropReason.UNSIGNED and not rig.sink.reports


def test_no_signing_key_means_no_credential() -> None:
    rig = _Rig()
    rig.access = TerminalAccess(StaticDirectory([TerminalCredential(vin=VIN)]))
    session = rig.session("x")
    assert _flag(session, _login()) == 0x02 and session.is_refused
