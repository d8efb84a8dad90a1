"""GB/T 32960-2025 SM2 signatures verified by the server (ev.signature + security.terminal_keys):
a report signed with the terminal's key is stored, every tampered copy is answered 0x05,
counted and dead-lettered under its own reason; activation registers (or refuses) a key; the
TCP server does the same end to end; the one real 2025 reference frame carries an RSA block."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from gmssl import sm2 as gm_sm2

from v2xcloud.cli.main import main
from v2xcloud.ev.codec import Message, decode, encode
from v2xcloud.ev.commands import Activation, ActivationResult, VehicleLogin
from v2xcloud.ev.fleet import FleetResult, run_fleet
from v2xcloud.ev.frame import decode_frame
from v2xcloud.ev.realtime import encode_report
from v2xcloud.ev.server import Gb32960Server
from v2xcloud.ev.session import PlatformSession, SessionRegistry
from v2xcloud.ev.signature import activation_signed_bytes, report_signed_bytes
from v2xcloud.ev.sink import MemoryReportSink
from v2xcloud.ev.vehicle_sim import SimulatedVehicle
from v2xcloud.model import DeadLetter, DropReason
from v2xcloud.model.ev import EvReport, EvSignature
from v2xcloud.security.crypto import Signer, generate_signer
from v2xcloud.security.terminal_keys import (
    TerminalSignatures,
    lab_terminal_signer,
    load_terminal_keys,
)
from v2xcloud.security.types import SignatureAlgorithm

VIN = "LTEST000000000001"
T0 = 1_700_000_000_000
SM2 = SignatureAlgorithm.SM2_SM3


def _report(seed: int = 1) -> EvReport:
    return SimulatedVehicle(VIN, seed=seed, start_ms=T0).step()


def _signed(report: EvReport, signer: Signer, *, algorithm: int = 1) -> EvReport:
    """The report with an SM2 signature over its data unit (as a 2025 terminal sends it)."""
    unsigned = msgspec.structs.replace(report, layout=2025, signature=None)
    sig = signer.sign(encode_report(unsigned))
    return msgspec.structs.replace(
        unsigned, signature=EvSignature(algorithm=algorithm, r=sig[:32], s=sig[32:])
    )


def _frame(report: EvReport) -> bytes:
    return encode(Message(command=0x02, vin=VIN, body=report, layout=2025))


def _login() -> bytes:
    body = VehicleLogin(at_ms=T0, serial=1, iccid="8986", pack_codes=())
    return encode(Message(command=0x01, vin=VIN, body=body, layout=2025))


def _session(
    check: TerminalSignatures, letters: list[DeadLetter], sink: MemoryReportSink
) -> PlatformSession:
    s = PlatformSession(
        SessionRegistry(),
        report_sink=sink,
        monitor=None,
        clock=lambda: T0 + 5000,
        signatures=check,
        dead_letter=letters.append,
    )
    assert decode(s.handle(_login())[0]).response == 0x01
    return s


def _flag(session: PlatformSession, frame: bytes) -> int:
    (reply,) = session.handle(frame)
    return decode(reply).response


def test_signed_range_is_the_data_unit_up_to_the_marker_and_gmssl_agrees() -> None:
    signer = generate_signer(SM2)
    report = _signed(_report(), signer)
    frame = _frame(report)
    unsigned = encode_report(msgspec.structs.replace(report, signature=None))
    assert report.signature is not None
    assert report_signed_bytes(frame, report.signature) == unsigned
    assert decode_frame(frame).data == unsigned + b"\xff\x01\x00\x20" + report.signature.r + (
        b"\x00\x20" + report.signature.s
    )
    gm = gm_sm2.CryptSM2(private_key=None, public_key=signer.public_key[1:].hex())
    assert gm.verify_with_sm3((report.signature.r + report.signature.s).hex(), unsigned)


def test_a_signed_report_is_stored_and_each_tampered_copy_refused_with_its_reason() -> None:
    signer, stranger = generate_signer(SM2), generate_signer(SM2)
    check = TerminalSignatures({VIN: signer.public_key[1:]})  # 64-byte x||y, as terminals send
    letters: list[DeadLetter] = []
    sink = MemoryReportSink()
    session = _session(check, letters, sink)
    good = _signed(_report(1), signer)
    assert _flag(session, _frame(good)) == 0x01 and sink.reports == [decode(_frame(good)).body]
    assert good.signature is not None
    r, s = good.signature.r, good.signature.s
    vehicle = good.vehicle
    assert vehicle is not None
    forged_speed = msgspec.structs.replace(
        good, vehicle=msgspec.structs.replace(vehicle, speed_kmh=(vehicle.speed_kmh or 0) + 40)
    )
    later = msgspec.structs.replace(good, collected_at_ms=good.collected_at_ms + 1000)
    cases = {
        "content changed, old signature": (forged_speed, DropReason.BAD_SIGNATURE),
        "time changed, old signature": (later, DropReason.BAD_SIGNATURE),
        "bit flipped in r": (
            msgspec.structs.replace(
                later, signature=EvSignature(algorithm=1, r=bytes([r[0] ^ 1]) + r[1:], s=s)
            ),
            DropReason.BAD_SIGNATURE,
        ),
        "s too long": (
            msgspec.structs.replace(later, signature=EvSignature(algorithm=1, r=r, s=b"\1" + s)),
            DropReason.BAD_SIGNATURE,
        ),
        "signed by another key": (_signed(_report(2), stranger), DropReason.BAD_SIGNATURE),
        "RSA algorithm byte": (
            _signed(_report(3), signer, algorithm=2),
            DropReason.UNKNOWN_ALGORITHM,
        ),
    }
    for name, (report, reason) in cases.items():
        before = len(letters)
        assert _flag(session, _frame(report)) == 0x05, name
        assert len(letters) == before + 1 and letters[-1].reason is reason, name
        assert letters[-1].raw == _frame(report) and VIN in letters[-1].detail
    assert len(sink.reports) == 1, "a refused report was stored"
    stats = session.registry.stats
    assert stats["rejected:bad_signature"] == 5 and stats["rejected:unknown_algorithm"] == 1
    assert check.stats["verified"] == 1


def test_unknown_vin_and_unsigned_reports_follow_the_policy() -> None:
    signer = generate_signer(SM2)
    letters: list[DeadLetter] = []
    sink = MemoryReportSink()
    lenient = _session(TerminalSignatures(), letters, sink)
    assert _flag(lenient, _frame(_signed(_report(1), signer))) == 0x05
    assert letters[-1].reason is DropReason.UNKNOWN_SIGNER
    unsigned = msgspec.structs.replace(_report(2), layout=2025)
    assert _flag(lenient, _frame(unsigned)) == 0x01 and len(sink.reports) == 1
    strict = _session(TerminalSignatures({VIN: signer.public_key}, require=True), letters, sink)
    assert (
        _flag(strict, _frame(msgspec.structs.replace(unsigned, collected_at_ms=T0 + 9000))) == 0x05
    )
    assert letters[-1].reason is DropReason.UNSIGNED


def _activation(signer: Signer, *, key: bytes | None = None) -> bytes:
    body = Activation(
        at_ms=T0,
        chip_id="CHIP000000000001",
        public_key=signer.public_key[1:] if key is None else key,
        vin=VIN,
        signature=EvSignature(algorithm=1, r=bytes(32), s=bytes(32)),
    )
    unsigned = encode(Message(command=0x09, vin=VIN, body=body, layout=2025))
    sig = signer.sign(activation_signed_bytes(unsigned, body.signature))
    body = msgspec.structs.replace(body, signature=EvSignature(algorithm=1, r=sig[:32], s=sig[32:]))
    return encode(Message(command=0x09, vin=VIN, body=body, layout=2025))


def _activation_result(session: PlatformSession, frame: bytes) -> tuple[int, int]:
    (reply,) = session.handle(frame)
    body = decode(reply).body
    assert isinstance(body, ActivationResult)
    return body.result, body.info


def test_activation_registers_the_key_it_proves_and_refuses_another() -> None:
    signer, other = generate_signer(SM2), generate_signer(SM2)
    letters: list[DeadLetter] = []
    sink = MemoryReportSink()
    check = TerminalSignatures(register_on_activation=True)
    session = _session(check, letters, sink)
    # a key the activation's signature does not prove: refused, nothing registered
    assert _activation_result(session, _activation(other, key=signer.public_key[1:])) == (2, 1)
    assert letters[-1].reason is DropReason.BAD_SIGNATURE and check.key_of(VIN) is None
    assert _activation_result(session, _activation(signer)) == (1, 1)
    assert check.key_of(VIN) == signer.public_key
    assert _flag(session, _frame(_signed(_report(1), signer))) == 0x01
    assert _activation_result(session, _activation(other)) == (2, 3)  # VIN has another key
    assert letters[-1].reason is DropReason.IDENTITY_MISMATCH
    assert check.key_of(VIN) == signer.public_key
    closed = _session(TerminalSignatures(), letters, sink)  # registration only from the file
    assert _activation_result(closed, _activation(signer)) == (2, 1)
    assert letters[-1].reason is DropReason.UNKNOWN_SIGNER


def test_reference_2025_frame_carries_an_rsa_block_the_check_names(frame_2025: bytes) -> None:
    """The one public 2025 frame: algorithm 2 (RSA), a 256-byte r, an empty s, and a BCC that
    does not match (anonymised VIN), so it cannot be verified; the check says why."""
    msg = decode(frame_2025, lenient=True)
    assert isinstance(msg.body, EvReport) and msg.body.signature is not None
    sig = msg.body.signature
    assert (sig.algorithm, len(sig.r), len(sig.s)) == (2, 256, 0)
    signed = report_signed_bytes(frame_2025, sig)
    assert signed[:6] == decode_frame(frame_2025, lenient=True).data[:6]  # starts at the time
    assert frame_2025[24 + len(signed)] == 0xFF
    refusal = TerminalSignatures({}).check_report(msg.vin, sig, signed)
    assert refusal is not None and refusal[0] is DropReason.UNKNOWN_ALGORITHM
    assert "RSA" in refusal[1]


@contextlib.asynccontextmanager
async def _served(check: TerminalSignatures, letters: list[DeadLetter]) -> AsyncIterator[int]:
    server = Gb32960Server(
        report_sink=MemoryReportSink(), signatures=check, dead_letter=letters.append
    )
    await server.start()
    try:
        yield server.port
    finally:
        await server.close()


async def _reply(reader: asyncio.StreamReader) -> Message:
    header = await asyncio.wait_for(reader.readexactly(24), 5)
    rest = await asyncio.wait_for(reader.readexactly(int.from_bytes(header[22:24], "big") + 1), 5)
    return decode(header + rest)


def test_tcp_server_verifies_signed_reports_end_to_end() -> None:
    signer = generate_signer(SM2)
    good = _signed(_report(1), signer)
    assert good.signature is not None
    forged = msgspec.structs.replace(good, collected_at_ms=good.collected_at_ms + 1000)
    letters: list[DeadLetter] = []

    async def scenario() -> None:
        async with _served(TerminalSignatures({VIN: signer.public_key}), letters) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(_login())
                assert (await _reply(reader)).response == 0x01
                writer.write(_frame(good))
                assert (await _reply(reader)).response == 0x01
                writer.write(_frame(forged))
                assert (await _reply(reader)).response == 0x05
            finally:
                writer.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert [d.reason for d in letters] == [DropReason.BAD_SIGNATURE]


def test_gb32960_serve_command_requires_and_verifies_signatures(tmp_path: Path) -> None:
    signer = generate_signer(SM2)
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[terminal_keys]\n{VIN} = "{signer.public_key[1:].hex()}"\n')
    good = _signed(_report(1), signer)
    forged = msgspec.structs.replace(good, collected_at_ms=good.collected_at_ms + 1000)
    unsigned = msgspec.structs.replace(_report(2), layout=2025, collected_at_ms=T0 + 9000)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = ["gb32960", "serve", "--port", str(port), "--duration", "4"]
    argv += ["--reports", str(tmp_path / "r.jsonl"), "--alarms", str(tmp_path / "a.jsonl")]
    argv += ["--ev-keys", str(keys), "--ev-signatures", "require"]
    codes: list[int] = []
    serve = threading.Thread(target=lambda: codes.append(main(argv)))
    serve.start()

    async def scenario() -> list[int]:
        for _ in range(50):  # the server binds within a few seconds (imports, key file)
            with contextlib.suppress(OSError):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            await asyncio.sleep(0.05)
        flags = []
        try:
            for frame in (_login(), _frame(good), _frame(forged), _frame(unsigned)):
                writer.write(frame)
                flags.append((await _reply(reader)).response)
        finally:
            writer.close()
        return flags

    try:
        assert asyncio.run(asyncio.wait_for(scenario(), 20)) == [0x01, 0x01, 0x05, 0x05]
    finally:
        serve.join(15)
    assert codes == [0]
    stored = (tmp_path / "r.jsonl").read_text().splitlines()
    assert len(stored) == 1 and json.loads(stored[0])["collected_at_ms"] == good.collected_at_ms


def test_a_keys_file_with_a_bad_key_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[terminal_keys]\n{VIN} = "04{"11" * 64}"\n')
    assert main(["gb32960", "serve", "--port", "0", "--ev-keys", str(keys)]) == 2
    err = capsys.readouterr().err
    assert str(keys) in err and VIN in err and "curve" in err


def test_a_signing_fleet_is_served_and_a_wrong_key_refused(tmp_path: Path) -> None:
    """`gb32960 keys` + `fleet --sign-seed`: 2025 terminals sign every report with lab keys;
    a server requiring signatures stores them all and refuses a fleet signing with other keys."""
    keys = tmp_path / "keys.toml"
    assert main(["gb32960", "keys", "--vehicles", "2", "--seed", "lab", "--out", str(keys)]) == 0
    check = TerminalSignatures(load_terminal_keys(keys), require=True)
    letters: list[DeadLetter] = []

    async def scenario() -> tuple[FleetResult, FleetResult, dict[str, int]]:
        sink = MemoryReportSink()
        server = Gb32960Server(report_sink=sink, signatures=check, dead_letter=letters.append)
        await server.start()
        try:
            good = await run_fleet(
                port=server.port,
                vehicles=2,
                duration_s=3,
                period_s=0.05,
                start_ms=T0,
                signers=lambda vin: lab_terminal_signer(vin, "lab").sign,
            )
            assert len(sink.reports) == 6 and {r.layout for r in sink.reports} == {2025}
            bad = await run_fleet(
                port=server.port,
                vehicles=2,
                duration_s=2,
                period_s=0.05,
                start_ms=T0 + 60_000,
                signers=lambda vin: lab_terminal_signer(vin, "not the lab's").sign,
            )
            assert len(sink.reports) == 6, "a report signed with a wrong key was stored"
            return good, bad, dict(server.stats)
        finally:
            await server.close()

    good, bad, stats = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert good.errors == 0 and good.acked == good.reports == 6
    assert bad.reports == 4 and bad.acked == 0 and bad.errors == 4  # each answered 0x05
    assert stats["rejected:bad_signature"] == 4
    assert {d.reason for d in letters} == {DropReason.BAD_SIGNATURE}
    assert check.stats["verified"] == 6
