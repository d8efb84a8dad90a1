"""Misuse raises the project's own errors (``ConfigError``, ``GatewayError``) with a message
saying how to fix it, not a bare ValueError / RuntimeError."""

from __future__ import annotations

import pytest

from v2xcloud.codec import MessageSet
from v2xcloud.codec.frame import register_fast_decoder, register_fast_encoder
from v2xcloud.errors import ConfigError, GatewayError
from v2xcloud.ev.server import Gb32960Server
from v2xcloud.ev.sink import MemoryReportSink
from v2xcloud.runtime import LiveEvents, ManualClock


def test_a_clock_cannot_go_back() -> None:
    clock = ManualClock(1_000)
    with pytest.raises(ConfigError, match=r"use set\(\) to jump"):
        clock.advance(-1)
    assert clock.now_ms() == 1_000


def test_fast_paths_only_for_frame_messages() -> None:
    with pytest.raises(ConfigError, match="fast decoders exist only for"):
        register_fast_decoder(MessageSet.CSAE2020, "noSuchFrame", lambda data: None)
    with pytest.raises(ConfigError, match="fast encoders exist only for"):
        register_fast_encoder(MessageSet.CSAE2020, "noSuchFrame", lambda content: b"")


def test_detection_period_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="every_ms must be positive"):
        LiveEvents(detectors=[], every_ms=0)


def test_ev_server_port_before_start_says_what_to_do() -> None:
    server = Gb32960Server(report_sink=MemoryReportSink())
    with pytest.raises(GatewayError, match=r"await server.start\(\)"):
        _ = server.port


def test_gateway_framing_and_psid_misuse() -> None:
    from v2xcloud.errors import EncodeError
    from v2xcloud.gateways.ieee1609 import encode_psid, unwrap

    with pytest.raises(ConfigError, match="choose one of"):
        unwrap(b"\x00", framing="morse")
    with pytest.raises(EncodeError, match="beyond p-encoding"):
        encode_psid(0x10204080)
