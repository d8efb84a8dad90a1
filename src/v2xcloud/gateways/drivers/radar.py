"""Driver for roadside radar / camera track frames (``"radar"``) on ``V2X/RADAR/{id}/TRACK/UP``.

Shape derived from OpenV2X's edge service (open-v2x/cerebrum, Apache-2.0): its radar topics
(``V2X/RADAR/+/{TRACK|CROSS|STATUS|FLOW|EVENT}/UP`` in ``transform_driver/app.py``) and the
radar emulator frame of its function test ``function_test/mwr.tavern.yaml``::

    {"timeStamp": "2022-10-31 15:33:47" | UTC ms, "number": 3, "deviceId": ...,
     "targets": [{"targetId": 26219, "targetType": 3,
                  "latitude": 39.0740576, "longitude": 115.9397254,     (WGS-84 degrees)
                  "speed": -23.99, "headingAngle": 164.05,              (m/s, deg cw from north)
                  "acceleration": 0.69, "laneNo": 3,                    (m/s²)
                  "targetLength": 4.5, "targetWidth": 1.8, "targetHeight": 1.5,   (m)
                  "confidenceLevel": 100, "rcs": ..., "height": 0.0}], ...}

A frame becomes one ``model.Rsm`` from the radar: each target a participant with id
``"<device id>/<targetId>"`` at its reported position, ``detection_source``
``"microwaveRadar"``. The speed's sign says whether the target approaches or leaves the
radar; the heading gives the direction, so the magnitude is kept (OpenV2X's own RSM
conversion does the same). ``targetType`` maps through ``DriverOptions.radar_kinds`` (an
unknown type stays a participant of kind UNKNOWN); the speed unit through
``radar_speed_scale``. A zoneless ``timeStamp`` text is local time at
``local_utc_offset_min``; a number is UTC (ms, or s when below 1e11); none means arrival time.
The frame's reference point is the device position it carries (``lamp_latitude``/
``lamp_longitude``, else ``latitude``/``longitude``), else its first target. ``laneNo``,
``rcs`` and ``confidenceLevel`` have no place in the model and are not kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from v2xcloud.codec import MessageSet
from v2xcloud.codec.plausibility import DeploymentArea
from v2xcloud.gateways.base import InboundFrame
from v2xcloud.gateways.drivers._json import BadField, Fields, load_json
from v2xcloud.gateways.drivers.result import DriverOptions, Dropped, Parsed
from v2xcloud.model import DropReason, ParticipantKind, ParticipantSource, ParticipantState, Rsm

__all__ = ["TRACK_TYPES", "is_radar_frame", "parse_radar", "radar_from_value"]

TRACK_TYPES = frozenset({"TRACK", None})  # topic types whose radar frames carry tracks
_SHAPE = "radar"
_DEFAULT = DriverOptions()


def is_radar_frame(value: Any) -> bool:
    """True for an object with a ``targets`` list."""
    return isinstance(value, dict) and isinstance(value.get("targets"), list)


def _parse_time_text(text: str, where: str, offset_min: int) -> int:
    try:
        stamp = dt.datetime.fromisoformat(text)  # "2022-10-31 15:33:47[.000]", "...T...Z", ...
    except ValueError:
        raise BadField(
            DropReason.BAD_PAYLOAD, f"timeStamp {text!r} is not 'YYYY-MM-DD HH:MM:SS[.fff]'", where
        ) from None
    if stamp.tzinfo is None:  # written without a zone: the deployment's local time
        stamp = stamp.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset_min)))
    return round(stamp.timestamp() * 1000)


def _frame_time(top: Fields, received_at_ms: int, offset_min: int) -> int:
    raw = top.obj.get("timeStamp")
    if raw is None:
        return received_at_ms
    if isinstance(raw, str) and not raw.strip().replace(".", "", 1).isdigit():
        return _parse_time_text(raw.strip(), top.at("timeStamp"), offset_min)
    stamp = top.number("timeStamp", lo=0)
    assert stamp is not None
    return round(stamp if stamp >= 1e11 else stamp * 1000)


def _kind(f: Fields, kinds: dict[int, ParticipantKind]) -> ParticipantKind:
    code = f.integer("targetType", required=False)
    return ParticipantKind.UNKNOWN if code is None else kinds.get(code, ParticipantKind.UNKNOWN)


def _target(f: Fields, device: str, t_ms: int, options: DriverOptions) -> ParticipantState:
    target_id = f.text("targetId")
    lat, lon = f.number("latitude"), f.number("longitude")
    speed = f.number("speed", required=False)
    assert lat is not None and lon is not None
    return ParticipantState(
        id=f"{device}/{target_id}",
        kind=_kind(f, options.radar_kinds),
        source=ParticipantSource.RSM,
        timestamp_ms=t_ms,
        lat_deg=lat,
        lon_deg=lon,
        speed_mps=None if speed is None else abs(speed) * options.radar_speed_scale,
        heading_deg=f.number("headingAngle", required=False),
        accel_long_mps2=f.number("acceleration", required=False),
        length_m=f.number("targetLength", required=False),
        width_m=f.number("targetWidth", required=False),
        height_m=f.number("targetHeight", required=False),
        sender_id=device,
        detection_source="microwaveRadar",
    )


def _reference(top: Fields, first: ParticipantState) -> tuple[float, float]:
    for lat_key, lon_key in (("lamp_latitude", "lamp_longitude"), ("latitude", "longitude")):
        if top.has(lat_key) and top.has(lon_key):
            lat, lon = top.number(lat_key), top.number(lon_key)
            assert lat is not None and lon is not None
            return lat, lon
    return first.lat_deg, first.lon_deg


def _frame(top: Fields, frame: InboundFrame, options: DriverOptions) -> tuple[Rsm, ...]:
    t_ms = _frame_time(top, frame.received_at_ms, options.local_utc_offset_min)
    targets = top.items("targets")
    number = top.integer("number", required=False, lo=0)
    if number is not None and number != len(targets):
        raise BadField(
            DropReason.BAD_PAYLOAD,
            f"number says {number} targets, the frame holds {len(targets)}",
            top.at("number"),
        )
    states = [_target(t, frame.device_id, t_ms, options) for t in targets]
    if not states:
        return ()
    ref_lat, ref_lon = _reference(top, states[0])
    rsm = Rsm(
        msg_count=0,
        rsu_id=frame.device_id,
        ref_lat_deg=ref_lat,
        ref_lon_deg=ref_lon,
        participants=tuple(states),
    )
    return (rsm,)


def parse_radar(
    frame: InboundFrame,
    *,
    message_set: MessageSet,
    area: DeploymentArea | None = None,
    options: DriverOptions | None = None,
) -> Parsed | Dropped:
    """The payload is a roadside radar/camera track frame; its targets become participants.

    Frames on the radar's FLOW, STATUS, EVENT or CROSS topics carry statistics and device
    state, not tracks: they are dropped as UNSUPPORTED_MESSAGE (counted, kept).
    """
    if (not_tracks := _not_tracks(frame)) is not None:
        return not_tracks
    value = load_json(frame.payload, _SHAPE)
    if isinstance(value, Dropped):
        return value
    return radar_from_value(value, frame, options=options)


def _not_tracks(frame: InboundFrame) -> Dropped | None:
    if frame.message_type in TRACK_TYPES:
        return None
    return Dropped(
        reason=DropReason.UNSUPPORTED_MESSAGE,
        detail=f"radar {frame.message_type} frames carry no tracks for the scene",
        shape=_SHAPE,
    )


def radar_from_value(
    value: Any, frame: InboundFrame, *, options: DriverOptions | None = None
) -> Parsed | Dropped:
    """``parse_radar`` of an already parsed JSON value."""
    if (not_tracks := _not_tracks(frame)) is not None:
        return not_tracks
    try:
        models = _frame(Fields(value, "$"), frame, options or _DEFAULT)
    except BadField as exc:
        return exc.dropped(_SHAPE)
    return Parsed(models=models, shape=_SHAPE)
