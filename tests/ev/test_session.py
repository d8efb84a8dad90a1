"""The platform protocol without sockets: acks, login rules, dedupe, duplicate VINs."""

from __future__ import annotations

from v2xcloud.ev.codec import Message, decode, encode
from v2xcloud.ev.commands import Ack, Logout, VehicleLogin
from v2xcloud.ev.frame import encode_frame
from v2xcloud.ev.session import PlatformSession, SessionRegistry
from v2xcloud.ev.sink import MemoryReportSink
from v2xcloud.ev.vehicle_sim import SimulatedVehicle

VIN = "LTEST000000000001"
T0 = 1_700_000_000_000


def _session(registry: SessionRegistry, sink: MemoryReportSink) -> PlatformSession:
    return PlatformSession(registry, report_sink=sink, monitor=None, clock=lambda: T0 + 5000)


def _login(vin: str = VIN) -> bytes:
    return encode(
        Message(command=0x01, vin=vin, body=VehicleLogin(at_ms=T0, serial=1, iccid="8986"))
    )


def _only(replies: list[bytes]) -> Message:
    assert len(replies) == 1
    return decode(replies[0])


def test_login_report_logout_acks() -> None:
    registry, sink = SessionRegistry(), MemoryReportSink()
    s = _session(registry, sink)
    ack = _only(s.handle(_login()))
    assert (ack.command, ack.response, ack.body) == (0x01, 0x01, Ack(at_ms=T0))
    report = SimulatedVehicle(VIN, seed=1, start_ms=T0).step()
    ack = _only(s.handle(encode(Message(command=0x02, vin=VIN, body=report))))
    assert (ack.command, ack.response) == (0x02, 0x01)
    assert isinstance(ack.body, Ack) and ack.body.at_ms == report.collected_at_ms
    assert sink.reports == [report]
    ack = _only(s.handle(encode(Message(command=0x04, vin=VIN, body=Logout(at_ms=T0, serial=1)))))
    assert ack.response == 0x01 and VIN not in registry.active


def test_heartbeat_and_time_sync() -> None:
    s = _session(SessionRegistry(), MemoryReportSink())
    hb = _only(s.handle(encode(Message(command=0x07, vin=VIN))))
    assert (hb.command, hb.response, hb.body) == (0x07, 0x01, Ack(at_ms=None))
    ts = _only(s.handle(encode(Message(command=0x08, vin=VIN))))
    assert ts.response == 0x01 and ts.body == Ack(at_ms=T0 + 5000)


def test_report_without_login_is_refused() -> None:
    registry, sink = SessionRegistry(), MemoryReportSink()
    s = _session(registry, sink)
    report = SimulatedVehicle(VIN, seed=1, start_ms=T0).step()
    ack = _only(s.handle(encode(Message(command=0x02, vin=VIN, body=report))))
    assert ack.response == 0x02 and sink.reports == []
    assert registry.stats["report_without_login"] == 1


def test_resent_duplicates_are_acked_but_stored_once() -> None:
    registry, sink = SessionRegistry(), MemoryReportSink()
    s = _session(registry, sink)
    s.handle(_login())
    report = SimulatedVehicle(VIN, seed=1, start_ms=T0).step()
    s.handle(encode(Message(command=0x02, vin=VIN, body=report)))
    ack = _only(s.handle(encode(Message(command=0x03, vin=VIN, body=report))))
    assert ack.response == 0x01 and len(sink.reports) == 1
    assert registry.stats["duplicate_report"] == 1


def test_duplicate_vin_never_evicts_the_live_session() -> None:
    registry, sink = SessionRegistry(), MemoryReportSink()
    old, new = _session(registry, sink), _session(registry, sink)
    old.handle(_login())
    assert _only(new.handle(_login())).response == 0x03  # VIN duplicate
    assert registry.active[VIN] is old and old.vin == VIN and new.is_refused
    assert registry.stats["duplicate_vin"] == 1
    report = SimulatedVehicle(VIN, seed=1, start_ms=T0).step()
    assert new.handle(encode(Message(command=0x02, vin=VIN, body=report))) == []
    assert _only(old.handle(encode(Message(command=0x02, vin=VIN, body=report)))).response == 1
    assert len(sink.reports) == 1
    old.close()  # once the live session ends, the VIN may log in again
    assert _only(_session(registry, sink).handle(_login())).response == 0x01


def test_undecodable_frame_gets_error_reply() -> None:
    registry = SessionRegistry()
    s = _session(registry, MemoryReportSink())
    reply = _only(s.handle(encode_frame(command=0x02, vin=VIN, data=b"\x17\x0d\x01\x00\x00\x00")))
    assert reply.response == 0x02 and registry.stats["rejected:bad_time"] == 1
    assert s.rejected_streak == 1


def test_dedupe_window_is_bounded() -> None:
    registry = SessionRegistry(dedupe_window_s=3)
    assert all(registry.is_new(VIN, T0 + 1000 * t) for t in range(5))
    assert not registry.is_new(VIN, T0 + 4000) and not registry.is_new(VIN, T0 + 2000)
    assert registry.is_new(VIN, T0)  # older than the window: cannot tell, accepted
    assert registry.stats["dedupe_too_old"] == 1
    assert registry.is_new("LOTHER00000000001", T0 + 4000)


def test_dedupe_out_of_order_within_window() -> None:
    registry = SessionRegistry()
    times = [T0 + 1000 * t for t in (5, 1, 3, 2, 4, 0)]
    assert all(registry.is_new(VIN, t) for t in times)
    assert not any(registry.is_new(VIN, t) for t in times)


def test_sink_failure_is_an_error_and_the_resend_is_accepted() -> None:
    class FailingOnce(MemoryReportSink):
        failed = False

        def write(self, report: object) -> None:  # type: ignore[override]
            if not self.failed:
                self.failed = True
                raise OSError("disk full")
            super().write(report)  # type: ignore[arg-type]

    registry, sink = SessionRegistry(), FailingOnce()
    s = _session(registry, sink)
    s.handle(_login())
    frame = encode(
        Message(command=0x02, vin=VIN, body=SimulatedVehicle(VIN, seed=1, start_ms=T0).step())
    )
    assert _only(s.handle(frame)).response == 0x02 and registry.stats["sink_errors"] == 1
    assert _only(s.handle(frame)).response == 0x01 and len(sink.reports) == 1
