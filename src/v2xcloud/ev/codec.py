"""Whole GB/T 32960.3 messages: bytes <-> :class:`Message` (frame header + typed body).

>>> from v2xcloud.ev.codec import decode, encode
>>> msg = decode(encode(Message(command=0x07, vin="LTEST000000000001")))
>>> (msg.command, msg.body)
(7, None)

The body is an :class:`~v2xcloud.model.ev.EvReport` for real-time (0x02) and re-sent (0x03)
commands, one of the ``ev.commands`` types for the others, or ``bytes`` when the data unit
is encrypted (encryption other than 0x01: the platform holds no keys, so it is kept as is).
"""

from __future__ import annotations

from typing import Any

import msgspec

from v2xcloud.ev import commands
from v2xcloud.ev._wire import fail
from v2xcloud.ev.frame import Frame, Response, decode_frame, encode_frame
from v2xcloud.ev.realtime import decode_report, encode_report
from v2xcloud.model import DropReason
from v2xcloud.model.ev import EvReport

__all__ = ["Message", "decode", "decode_frame_body", "encode", "to_json_dict"]

Body = EvReport | commands.Body | bytes


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """A decoded message; ``is_bcc_ok`` is false only for frames decoded leniently."""

    command: int
    vin: str
    body: Body = None
    response: int = Response.COMMAND
    encryption: int = 0x01
    layout: int = 2016
    is_bcc_ok: bool = True


_COMMANDS = {
    2016: {*range(0x01, 0x09), 0x80, 0x81, 0x82},
    2025: {*range(0x01, 0x0C), 0x80, 0x81, 0x82},
}
_RESPONSES = {int(r) for r in Response}


def _check_codes(frame: Frame) -> None:
    if frame.command not in _COMMANDS[frame.layout]:
        raise fail(
            DropReason.BAD_COMMAND,
            f"command 0x{frame.command:02x} is not defined in the {frame.layout} layout",
            2,
        )
    if frame.response not in _RESPONSES:
        raise fail(
            DropReason.BAD_RESPONSE, f"response flag 0x{frame.response:02x} is not defined", 3
        )


def decode_frame_body(frame: Frame) -> Message:
    """Decode the data unit of an already checked frame.

    Raises ``Gb32960Error``: ``bad_command``/``bad_response`` for undefined codes, and the
    data-unit reasons of ``ev.realtime`` and ``ev.commands``.
    """
    _check_codes(frame)
    body: Body
    if frame.encryption != 0x01 and frame.data:
        body = frame.data
    elif frame.command in (0x02, 0x03) and frame.response == Response.COMMAND:
        body = decode_report(
            frame.data, vin=frame.vin, layout=frame.layout, is_resent=frame.command == 0x03
        )
    else:
        body = commands.read_body(frame.command, frame.response, frame.data, layout=frame.layout)
    return Message(
        command=frame.command,
        vin=frame.vin,
        body=body,
        response=frame.response,
        encryption=frame.encryption,
        layout=frame.layout,
        is_bcc_ok=frame.is_bcc_ok,
    )


def decode(data: bytes, *, lenient: bool = False) -> Message:
    """Decode one whole frame; raises ``Gb32960Error`` with reason and byte offset.

    ``lenient=True`` accepts a BCC mismatch (diagnostics only; see ``ev.frame``).
    """
    return decode_frame_body(decode_frame(data, lenient=lenient))


def encode(msg: Message) -> bytes:
    """Encode a message to one frame with length and BCC; raises ``EncodeError``."""
    if isinstance(msg.body, EvReport):
        data = encode_report(msg.body)
    elif isinstance(msg.body, bytes):
        data = msg.body
    else:
        data = commands.write_body(msg.body, layout=msg.layout)
    return encode_frame(
        command=msg.command,
        vin=msg.vin,
        data=data,
        response=msg.response,
        encryption=msg.encryption,
        layout=msg.layout,
    )


def _hex_bytes(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, dict):
        return {k: _hex_bytes(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_hex_bytes(v) for v in obj]
    return obj


def to_json_dict(msg: Message) -> dict[str, Any]:
    """A JSON-ready dict of the message (bytes as hex, ``body_type`` names the body's type)."""
    out: dict[str, Any] = _hex_bytes(msgspec.to_builtins(msg, builtin_types=(bytes,)))
    out["body_type"] = type(msg.body).__name__ if msg.body is not None else None
    return out
