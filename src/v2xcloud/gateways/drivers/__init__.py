"""Payload drivers: one per vendor shape, each turning a device's payload into SI models.

Whatever the shape — UPER bytes, hex text of UPER, lossless CSAE JSON, OpenV2X RSU JSON or a
roadside radar's track frame — the scene receives the same ``model.Bsm``, ``Rsm``, ``Spat``,
``MapData``, ``Rsi`` or ``ParticipantState`` the in-process codec path gives it, so it cannot
tell the path. A driver never raises for a bad payload: it returns ``Dropped`` with the one
``DropReason`` vocabulary, where in the payload (``$.targets[2].latitude``, ``byte 17``) and a
sentence; ``Dropped.dead_letter(frame)`` keeps the payload as received.

Drivers check what belongs to a payload's format — its structure, types and the wire ranges
of scaled integers. Whether a position, speed or heading is *possible* is judged once, by the
codec's validity stage (``codec.plausibility``): inside ``decode`` for the byte shapes and the
CSAE JSON shape, and by ``Runtime.ingest`` (``codec.check_model``) for models built from
vendor JSON, which dead-letters an impossible one as ``implausible``.

The device registry's "vendor shape" names a driver (``DRIVERS``); ``"auto"`` (or None) detects
it from the payload: JSON by its structure, hex text by its characters, else UPER. The gateway's
ingest path calls::

    from v2xcloud.gateways.drivers import Parsed, parse

    result = parse(frame, message_set=MessageSet(device.message_set), shape=device.shape)
    if isinstance(result, Parsed):
        for model in result.models:
            runtime.ingest(model, received_at_ms=frame.received_at_ms, source=frame.device_id,
                           raw=frame.payload)
    else:
        runtime.dead_letter(result.dead_letter(frame))   # counted per result.reason

>>> from v2xcloud.gateways import DeviceKind, InboundFrame
>>> frame = InboundFrame(payload=b'{"timeStamp": 1700000000000, "targets": [{"targetId": 7,'
...     b' "targetType": 1, "latitude": 39.9, "longitude": 116.4, "speed": 1.2,'
...     b' "headingAngle": 90}]}', device_id="radar-1", device_kind=DeviceKind.RADAR,
...     message_type="TRACK", transport="mqtt", channel="V2X/RADAR/radar-1/TRACK/UP",
...     received_at_ms=1700000000050)
>>> result = parse(frame, message_set=MessageSet.CSAE2020)
>>> result.shape, [(p.id, p.kind.value, p.lat_deg) for p in result.models[0].participants]
('radar', [('radar-1/7', 'pedestrian', 39.9)])
>>> parse(frame, message_set=MessageSet.CSAE2020, shape="uper").reason.value
'malformed'
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from v2xcloud.codec import MessageSet
from v2xcloud.codec.plausibility import DeploymentArea
from v2xcloud.errors import ConfigError
from v2xcloud.failures import FailureLog
from v2xcloud.gateways.base import InboundFrame
from v2xcloud.gateways.drivers import csae_json, openv2x, radar
from v2xcloud.gateways.drivers._json import BOM
from v2xcloud.gateways.drivers.csae_json import is_csae_json, parse_csae_json
from v2xcloud.gateways.drivers.openv2x import (
    is_openv2x_dawnline,
    is_openv2x_rsm,
    parse_openv2x_dawnline,
    parse_openv2x_rsm,
)
from v2xcloud.gateways.drivers.radar import is_radar_frame, parse_radar
from v2xcloud.gateways.drivers.result import DriverOptions, Dropped, Parsed, SceneModel
from v2xcloud.gateways.drivers.uper import parse_hex, parse_uper
from v2xcloud.model import DropReason

__all__ = [
    "DRIVERS",
    "DRIVER_FAILURES",
    "Driver",
    "DriverOptions",
    "Dropped",
    "Parsed",
    "SceneModel",
    "check_shape",
    "detect_shape",
    "parse",
    "register_driver",
]

logger = logging.getLogger(__name__)

#: drivers that raised instead of returning ``Dropped`` (a bug), counted per ``driver:NAME``
DRIVER_FAILURES = FailureLog(logger=logger)


class Driver(Protocol):
    """One payload shape: ``(frame, *, message_set, area, options) -> Parsed | Dropped``."""

    def __call__(
        self,
        frame: InboundFrame,
        *,
        message_set: MessageSet,
        area: DeploymentArea | None = None,
        options: DriverOptions | None = None,
    ) -> Parsed | Dropped: ...


DRIVERS: dict[str, Driver] = {
    "uper": parse_uper,
    "hex": parse_hex,
    "csae-json": parse_csae_json,
    "openv2x-rsm": parse_openv2x_rsm,
    "openv2x-dawnline": parse_openv2x_dawnline,
    "radar": parse_radar,
}

_BUILTIN = dict(DRIVERS)  # a shape re-registered by name is called as registered
# JSON shapes in the order they are tried by ``detect_shape``
_JSON_SHAPES: list[tuple[str, Callable[[Any], bool]]] = [
    ("csae-json", is_csae_json),
    ("openv2x-rsm", is_openv2x_rsm),
    ("openv2x-dawnline", is_openv2x_dawnline),
    ("radar", is_radar_frame),
]
FromValue = Callable[
    [Any, InboundFrame, MessageSet, DeploymentArea | None, DriverOptions | None], Parsed | Dropped
]
# the JSON drivers' second half, so a payload parsed once for detection is not parsed again
_FROM_VALUE: dict[str, FromValue] = {
    "csae-json": lambda v, f, s, a, o: csae_json.csae_json_from_value(v, f, message_set=s, area=a),
    "openv2x-rsm": lambda v, f, s, a, o: openv2x.openv2x_rsm_from_value(v, f),
    "openv2x-dawnline": lambda v, f, s, a, o: openv2x.openv2x_dawnline_from_value(v, f),
    "radar": lambda v, f, s, a, o: radar.radar_from_value(v, f, options=o),
}
_NOT_JSON = object()
_HEX_TEXT = b"0123456789abcdefABCDEF \t\r\n"
_WHITESPACE = b" \t\r\n"


def register_driver(name: str, driver: Driver) -> None:
    """Add (or replace) a driver under a vendor-shape name the device registry may use."""
    if name == "auto":
        raise ConfigError("'auto' is reserved for detection; name the driver differently")
    DRIVERS[name] = driver


def check_shape(shape: str | None) -> None:
    """Raise ``ConfigError`` unless ``shape`` is empty/None/``"auto"`` or a registered driver."""
    if shape and shape != "auto" and shape not in DRIVERS:
        choices = ", ".join(["auto", *sorted(DRIVERS)])
        raise ConfigError(f"unknown vendor shape {shape!r}; choose one of {choices}")


def _detect(payload: bytes) -> tuple[str, Any] | Dropped:
    """(driver name, the parsed JSON value or ``_NOT_JSON``), or a drop for unknown JSON."""
    text = payload.removeprefix(BOM)
    if text.lstrip(_WHITESPACE)[:1] in (b"{", b"["):
        try:
            value = msgspec.json.decode(text)
        except msgspec.DecodeError:
            pass  # not JSON: UPER may begin with these bytes too
        else:
            shape = next((name for name, test in _JSON_SHAPES if test(value)), None)
            if shape is None:
                return Dropped(
                    reason=DropReason.BAD_PAYLOAD,
                    detail="JSON of no known shape (CSAE MessageFrame, OpenV2X RSM, radar frame)",
                    where="$",
                )
            return shape, value
    body = payload.strip(_WHITESPACE)
    if body and not body.removeprefix(b"0x").translate(None, _HEX_TEXT):
        return "hex", _NOT_JSON
    return "uper", _NOT_JSON


def detect_shape(payload: bytes) -> str | Dropped:
    """The driver name for a payload: JSON shapes by their structure, hex text by its
    characters, anything else UPER. JSON that fits no known shape is a BAD_PAYLOAD drop.

    A UPER MessageFrame may begin with the bytes of ``{`` or ``[``, so JSON is taken only if
    the payload parses as JSON; hex text only if every byte is a hex digit or whitespace.
    """
    detected = _detect(payload)
    return detected if isinstance(detected, Dropped) else detected[0]


def parse(
    frame: InboundFrame,
    *,
    message_set: MessageSet,
    shape: str | None = None,
    area: DeploymentArea | None = None,
    options: DriverOptions | None = None,
) -> Parsed | Dropped:
    """Turn one inbound payload into SI models with the named driver (None, ``""`` or
    ``"auto"``: detect it).

    ``message_set`` is the device's; ``area`` switches on the codec's strict MAP/RSI
    plausibility check; ``options`` are the device's JSON-driver settings. Never raises for
    a bad payload; raises ``ConfigError`` for a shape no driver has (see ``check_shape``).
    A driver raising (a bug) is counted in ``DRIVER_FAILURES``, logged once, and returned
    as ``INTERNAL_ERROR``.
    """
    if not frame.payload:
        return Dropped(reason=DropReason.EMPTY, detail="no bytes", shape=shape or "auto")
    value = _NOT_JSON
    if not shape or shape == "auto":
        detected = _detect(frame.payload)
        if isinstance(detected, Dropped):
            return detected
        shape, value = detected
    check_shape(shape)
    try:
        if value is not _NOT_JSON and DRIVERS[shape] is _BUILTIN.get(shape):
            return _FROM_VALUE[shape](value, frame, message_set, area, options)
        return DRIVERS[shape](frame, message_set=message_set, area=area, options=options)
    except Exception as exc:  # a driver bug must not take the gateway down: log and count
        DRIVER_FAILURES.record(f"driver:{shape}", exc)
        return Dropped(
            reason=DropReason.INTERNAL_ERROR, detail=f"{type(exc).__name__}: {exc}", shape=shape
        )
