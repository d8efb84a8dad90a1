"""``ContinuousPull``'s bookkeeping of pull requests, against a recording stand-in for the
NATS client (the real server path: ``tests/cluster/test_paced_stream.py`` and the tile worker
tests), ``stream_sequence`` on both reply-subject forms, and ``BackboneClient``'s plain
delivery fed through nats-py's own protocol parser (no server)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from v2xcloud.errors import GatewayError
from v2xcloud.gateways.nats import (
    BackboneClient,
    ContinuousPull,
    PulledMsg,
    frame_headers,
    frame_of,
    plain_headers,
    stream_position,
    stream_sequence,
)
from v2xcloud.runtime import backbone


class _Msg:
    def __init__(self, data: bytes = b"x", headers: dict[str, str] | None = None) -> None:
        self.data = data
        self.headers = headers
        self.subject = "v2x.t.1.2.bsm"
        self.reply = "$JS.ACK.V2X_FRAMES.c.1.7.7.0.0"


class _Client:
    """Records pull requests; ``deliver`` hands a message to the subscription's callback."""

    def __init__(self) -> None:
        self.requests: list[dict[str, int]] = []
        self.cb: Callable[[Any], Awaitable[None]] | None = None

    def new_inbox(self) -> str:
        return "_INBOX.test"

    async def subscribe_plain(self, subject: str, cb: Callable[[Any], Awaitable[None]]) -> Any:
        self.cb = cb
        return self

    async def unsubscribe(self) -> None:
        self.cb = None

    async def publish(self, subject: str, payload: bytes, reply: str = "") -> None:
        assert subject == "$JS.API.CONSUMER.MSG.NEXT.V2X_FRAMES.c" and reply == "_INBOX.test"
        self.requests.append(json.loads(payload))

    async def deliver(self, msg: _Msg) -> None:
        assert self.cb is not None
        await self.cb(msg)


def _pull(nc: _Client, handled: list[Any], **kw: Any) -> ContinuousPull:
    async def handle(msg: Any) -> None:
        if msg.data == b"boom":
            raise ValueError("a bad frame")
        handled.append(msg)

    return ContinuousPull(nc, "V2X_FRAMES", "c", handle, batch=10, expires_s=2.0, **kw)  # type: ignore[arg-type]


def test_requests_are_renewed_at_half_a_batch_and_after_an_expiry() -> None:
    async def run() -> None:
        nc, handled = _Client(), []
        pull = _pull(nc, handled)
        await pull.start()
        assert nc.requests == [{"batch": 10, "expires": 2_000_000_000}]
        for _ in range(4):
            await nc.deliver(_Msg())
        assert len(nc.requests) == 1 and pull.due == 6
        await nc.deliver(_Msg())  # 5 still due: half a batch, ask for another
        assert len(nc.requests) == 2 and pull.due == 15
        # the first request expires with 5 undelivered: 10 still due, no new request
        await nc.deliver(_Msg(b"", {"Status": "408", "Nats-Pending-Messages": "5"}))
        assert pull.due == 10 and len(nc.requests) == 2
        await nc.deliver(_Msg(b"", {"Status": "100"}))  # a heartbeat changes nothing
        assert pull.due == 10
        await nc.deliver(_Msg(b"", {"Status": "408", "Nats-Pending-Messages": "10"}))
        assert pull.due == 10 and len(nc.requests) == 3  # all expired: a new one
        assert len(handled) == 5 and pull.counts["pull_status_408"] == 2

    asyncio.run(run())


def test_a_handler_error_is_counted_and_the_reading_goes_on() -> None:
    async def run() -> None:
        nc, handled = _Client(), []
        pull = _pull(nc, handled)
        await pull.start()
        await nc.deliver(_Msg(b"boom"))
        await nc.deliver(_Msg())
        assert pull.counts["pull_errors"] == 1 and len(handled) == 1

    asyncio.run(run())


def test_no_consumer_stops_the_requests_until_watch_renews_them() -> None:
    async def run() -> None:
        nc, handled = _Client(), []
        pull = _pull(nc, handled)
        await pull.start()
        await nc.deliver(_Msg(b"", {"Status": "404", "Description": "No Messages"}))
        assert pull.due == 0 and len(nc.requests) == 1
        await pull.watch()  # just heard: not yet
        assert len(nc.requests) == 1
        pull.heard -= 1.5
        await pull.watch()
        assert len(nc.requests) == 2 and pull.due == 10
        pull.heard -= 3.5  # silent past expiry + 1 s: the request was lost with a server
        await pull.watch()
        assert len(nc.requests) == 3 and pull.due == 10
        late = nc.cb  # a message still queued in the inbox when the pull is stopped
        await pull.stop()
        assert late is not None
        await late(_Msg())
        assert len(handled) == 0

    asyncio.run(run())


def test_stream_sequence_reads_both_reply_forms() -> None:
    assert stream_sequence("$JS.ACK.V2X_FRAMES.wrk-1.1.4242.17.1700000000000000000.0") == 4242
    v2 = "$JS.ACK.domain.ACCHASH.V2X_FRAMES.wrk-1.1.4243.17.1700000000000000000.0.rand"
    assert stream_sequence(v2) == 4243
    assert stream_position(v2) == (4243, 1700000000000000000)  # and when it was stored
    v1 = "$JS.ACK.V2X_FRAMES.wrk-1.1.4242.17.1700000000123456789.0"
    assert stream_position(v1) == (4242, 1700000000123456789)
    with pytest.raises(ValueError, match="not a JetStream delivery"):
        stream_sequence("_INBOX.abc")


def _wire(subject: str, reply: str, headers: bytes, data: bytes) -> bytes:
    head = f"HMSG {subject} 1 {reply} {len(headers)} {len(headers) + len(data)}\r\n"
    return head.encode() + headers + data + b"\r\n"


def test_the_plain_path_delivers_what_nats_py_delivers() -> None:
    """``BackboneClient.subscribe_plain``: a frame's headers as nats-py parses them (its own
    parser on the same block), a pull status through nats-py's status parsing; the frame read
    back names the gateway's device, time, kind, set, format and the subject's type."""
    raw = b"\x01\x02"
    block = b"NATS/1.0\r\n"
    for name, value in frame_headers(
        "obu:9", 1_800_000_000_123, raw, kind="rsu", message_set="csae2020", fmt="uper"
    ).items():
        block += f"{name}: {value}\r\n".encode()
    block += b"\r\n"
    assert plain_headers(block) == NatsClient._parse_header_lines(block[10:])

    async def run() -> list[Any]:
        nc = BackboneClient()

        async def no_server(*_: Any) -> None:
            return None

        nc._send_subscribe = no_server  # type: ignore[method-assign]
        got: list[Any] = []

        async def cb(msg: Any) -> None:
            got.append(msg)

        sub = await nc.subscribe_plain("_INBOX.x", cb)
        nc._subs[1] = nc._subs.pop(sub._id)
        nc._plain = {1}
        reply = "$JS.ACK.V2X_FRAMES.c.1.42.1.0.0"
        await nc._ps.parse(_wire("v2x.t.1321202201021202.13.bsm", reply, block, raw))
        status = b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 5\r\n\r\n"
        await nc._ps.parse(_wire("_INBOX.x", "", status, b""))
        for _ in range(5):
            await asyncio.sleep(0)
        return got

    frame_msg, status_msg = asyncio.run(run())
    assert isinstance(frame_msg, PulledMsg) and stream_sequence(frame_msg.reply) == 42
    frame, message_set, fmt = frame_of(frame_msg.subject, frame_msg.headers, frame_msg.data)
    assert (frame.device_id, frame.received_at_ms, frame.payload) == (
        "obu:9",
        1_800_000_000_123,
        raw,
    )
    assert (frame.device_kind.value, frame.message_type, message_set, fmt) == (
        "rsu",
        "BSM",
        "csae2020",
        "uper",
    )
    assert status_msg.headers["Status"] == "408"
    assert status_msg.headers["Nats-Pending-Messages"] == "5"


def test_a_frame_without_its_reading_header_is_refused_by_name() -> None:
    headers = frame_headers("obu-1", 5, b"x", kind="obu", message_set="csae2020", fmt="uper")
    del headers[backbone.HEADER_FRAME]
    with pytest.raises(GatewayError, match="V2X-Frame"):
        frame_of("v2x.t.1.2.bsm", headers, b"x")
    with pytest.raises(GatewayError, match="no frame id"):
        frame_of("v2x.t.1.2.bsm", {backbone.HEADER_MSG_ID: "x", "V2X-Frame": "obu a b"}, b"x")
