"""Drivers for the RSM JSON that OpenV2X-compatible RSUs publish on ``V2X/RSU/{esn}/RSM/UP``.

Shapes derived from OpenV2X's edge service (open-v2x/cerebrum, Apache-2.0):
``transform_driver/driver_lib/drivers.py`` (``rsm_std`` takes the payload as is;
``rsm_dawnline`` converts the "dawnline" vendor list into it), ``post_process_algo/
post_process.py`` (``rsm2frame`` reads it) and the test frames of ``scenario_algo`` and
``pre_process_ai_algo`` (``ptcType`` names, speeds and headings in wire units).

``"openv2x-rsm"``, the standard shape: CSAE field names and CSAE wire units in JSON::

    {"name": ..., "id": "<RSU id>", "content": {"rsms": [
        {"refPos": {"lat": 1e-7 deg, "lon": 1e-7 deg, "ele": 0.1 m | null},
         "participants": [{"ptcType": "motor" | "non-motor" | "pedestrian" | "unknown" | "rsu"
                                      (or the enum index 0..4),
                           "ptcId": 0..65535, "source": SourceType name or index,
                           "secMark": ms within the minute, "pos": {"lat", "lon", "ele"} absolute,
                           "speed": 0.02 m/s, "heading": 0.0125 deg, "lane": n,
                           "size": {"width": cm, "length": cm, "height": 5 cm}}]}]}}

``"openv2x-dawnline"``, the vendor list OpenV2X converts from (SI units)::

    [{"dev_pos": {"lat": deg, "lon": deg},
      "content": [{"ptcType", "ptcId", "global_track_id", "timeStamp": UTC ms,
                   "pos_lat": deg, "pos_lon": deg, "heading": deg, "speed": m/s,
                   "width": m, "length": m, "height": m, "lane", "source"}]}]

Each ``rsms`` entry / list element becomes one ``model.Rsm``; participant ids are
``"<RSU id>/<ptcId>"`` as for UPER RSM objects, the RSU id being the payload's ``id`` (else
the device id). The shapes carry no message count: ``msg_count`` is 0. CSAE "unavailable"
values (speed 8191, heading 28800, secMark ≥ 60000, elevation -4096) become ``None`` / the
arrival time, like the codec does; integers outside the schema's ranges are CONSTRAINT drops.
"""

from __future__ import annotations

from typing import Any

from v2xcloud.codec import MessageSet
from v2xcloud.codec.plausibility import DeploymentArea
from v2xcloud.gateways.base import InboundFrame
from v2xcloud.gateways.drivers._json import BadField, Fields, load_json
from v2xcloud.gateways.drivers.result import DriverOptions, Dropped, Parsed
from v2xcloud.model import (
    DropReason,
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
    Rsm,
    utc_ms_from_sec_mark,
)

__all__ = [
    "is_openv2x_dawnline",
    "is_openv2x_rsm",
    "openv2x_dawnline_from_value",
    "openv2x_rsm_from_value",
    "parse_openv2x_dawnline",
    "parse_openv2x_rsm",
]

_KIND_NAMES = ["unknown", "motor", "non-motor", "pedestrian", "rsu"]  # CSAE ParticipantType
_KINDS = {
    "unknown": ParticipantKind.UNKNOWN,
    "motor": ParticipantKind.VEHICLE,
    "non-motor": ParticipantKind.CYCLIST,
    "pedestrian": ParticipantKind.PEDESTRIAN,
    "rsu": ParticipantKind.RSU,
}
# CSAE SourceType
_SOURCES = ["unknown", "selfinfo", "v2x", "video", "microwaveRadar", "loop", "lidar", "integrated"]
_LAT, _LON = 900_000_001, 1_800_000_001  # 1e-7 deg; ±max+1 is "unavailable"
_ELEVATION_UNAVAILABLE = -4096
_SPEED_UNAVAILABLE, _HEADING_UNAVAILABLE = 8191, 28800
_SEC_MARK_UNAVAILABLE_FROM = 60000


def is_openv2x_rsm(value: Any) -> bool:
    """True for ``{"content": {"rsms": [...]}}``."""
    content = value.get("content") if isinstance(value, dict) else None
    return isinstance(content, dict) and "rsms" in content


def is_openv2x_dawnline(value: Any) -> bool:
    """True for a list of objects carrying ``dev_pos`` and ``content``."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and "dev_pos" in v and "content" in v for v in value)
    )


def _kind(f: Fields) -> ParticipantKind:
    raw = f.obj.get("ptcType")
    if isinstance(raw, int) and not isinstance(raw, bool):
        if not 0 <= raw < len(_KIND_NAMES):
            raise BadField(DropReason.CONSTRAINT, f"ptcType {raw} is outside 0..4", f.at("ptcType"))
        return _KINDS[_KIND_NAMES[raw]]
    name = f.text("ptcType")
    kind = _KINDS.get(name or "")
    if kind is None:
        raise BadField(
            DropReason.BAD_PAYLOAD,
            f"ptcType {name!r} is none of {_KIND_NAMES}",
            f.at("ptcType"),
        )
    return kind


def _source(f: Fields) -> str | None:
    raw = f.obj.get("source")
    if isinstance(raw, int) and not isinstance(raw, bool):
        return _SOURCES[raw] if 0 <= raw < len(_SOURCES) else "unknown"
    return f.text("source", required=False)


def _latlon(f: Fields, lon_key: str = "lon") -> tuple[float, float]:
    lat = f.integer("lat", lo=-_LAT, hi=_LAT)
    lon = f.integer(lon_key, lo=-_LON, hi=_LON)
    assert lat is not None and lon is not None
    if abs(lat) == _LAT or abs(lon) == _LON:
        raise BadField(DropReason.NO_POSITION, "position marked unavailable", f.path)
    return lat / 1e7, lon / 1e7


def _elevation(f: Fields) -> float | None:
    ele = f.integer("ele", required=False, lo=-4096, hi=61439)
    return None if ele is None or ele == _ELEVATION_UNAVAILABLE else ele / 10


def _scaled(f: Fields, key: str, hi: int, unavailable: int | None, unit: float) -> float | None:
    raw = f.integer(key, required=False, lo=0, hi=hi)
    return None if raw is None or raw == unavailable else raw * unit


def _std_participant(f: Fields, rsu_id: str, received_at_ms: int) -> ParticipantState:
    ptc_id = f.integer("ptcId", lo=0, hi=65535)
    mark = f.integer("secMark", lo=0, hi=65535)
    assert mark is not None
    pos = f.child("pos")
    assert pos is not None
    lat, lon = _latlon(pos)
    size = f.child("size", required=False)
    return ParticipantState(
        id=f"{rsu_id}/{ptc_id}",
        kind=_kind(f),
        source=ParticipantSource.RSM,
        timestamp_ms=received_at_ms
        if mark >= _SEC_MARK_UNAVAILABLE_FROM
        else utc_ms_from_sec_mark(mark, received_at_ms),
        lat_deg=lat,
        lon_deg=lon,
        elevation_m=_elevation(pos),
        speed_mps=_scaled(f, "speed", 8191, _SPEED_UNAVAILABLE, 0.02),
        heading_deg=_scaled(f, "heading", 28800, _HEADING_UNAVAILABLE, 0.0125),
        length_m=_scaled(size, "length", 1023, 0, 0.01) if size else None,
        width_m=_scaled(size, "width", 1023, 0, 0.01) if size else None,
        height_m=_scaled(size, "height", 127, 0, 0.05) if size else None,
        sender_id=rsu_id,
        detection_source=_source(f),
    )


def _std_rsm(f: Fields, rsu_id: str, received_at_ms: int) -> Rsm:
    ref = f.child("refPos")
    assert ref is not None
    ref_lat, ref_lon = _latlon(ref)
    objects = [_std_participant(p, rsu_id, received_at_ms) for p in f.items("participants")]
    return Rsm(
        msg_count=0,
        rsu_id=rsu_id,
        ref_lat_deg=ref_lat,
        ref_lon_deg=ref_lon,
        participants=tuple(objects),
        ref_elevation_m=_elevation(ref),
    )


def parse_openv2x_rsm(
    frame: InboundFrame,
    *,
    message_set: MessageSet,
    area: DeploymentArea | None = None,
    options: DriverOptions | None = None,
) -> Parsed | Dropped:
    """The payload is OpenV2X's standard RSM JSON (CSAE names and wire units)."""
    value = load_json(frame.payload, "openv2x-rsm")
    if isinstance(value, Dropped):
        return value
    return openv2x_rsm_from_value(value, frame)


def openv2x_rsm_from_value(value: Any, frame: InboundFrame) -> Parsed | Dropped:
    """``parse_openv2x_rsm`` of an already parsed JSON value."""
    try:
        top = Fields(value, "$")
        rsu_id = top.text("id", required=False) or frame.device_id
        content = top.child("content")
        assert content is not None
        rsms = [_std_rsm(r, rsu_id, frame.received_at_ms) for r in content.items("rsms")]
    except BadField as exc:
        return exc.dropped("openv2x-rsm")
    return Parsed(models=tuple(rsms), shape="openv2x-rsm")


def _dawnline_time(f: Fields, received_at_ms: int) -> int:
    stamp = f.integer("timeStamp", lo=0)
    assert stamp is not None
    if stamp >= 100_000_000_000:  # UTC milliseconds
        return stamp
    return utc_ms_from_sec_mark(stamp % 60000, received_at_ms)  # ms within the minute


def _dawnline_participant(f: Fields, rsu_id: str, received_at_ms: int) -> ParticipantState:
    ptc_id = f.text("global_track_id", required=False) or f.text("ptcId")
    lat, lon = f.number("pos_lat"), f.number("pos_lon")
    speed = f.number("speed", required=False)
    assert lat is not None and lon is not None
    return ParticipantState(
        id=f"{rsu_id}/{ptc_id}",
        kind=_kind(f),
        source=ParticipantSource.RSM,
        timestamp_ms=_dawnline_time(f, received_at_ms),
        lat_deg=lat,
        lon_deg=lon,
        speed_mps=None if speed is None else abs(speed),
        heading_deg=f.number("heading"),
        length_m=f.number("length", required=False),
        width_m=f.number("width", required=False),
        height_m=f.number("height", required=False),
        sender_id=rsu_id,
        detection_source=_source(f),
    )


def _dawnline_rsm(f: Fields, rsu_id: str, received_at_ms: int) -> Rsm:
    dev = f.child("dev_pos")
    assert dev is not None
    ref_lat, ref_lon = dev.number("lat"), dev.number("lon")
    assert ref_lat is not None and ref_lon is not None
    objects = [_dawnline_participant(p, rsu_id, received_at_ms) for p in f.items("content")]
    return Rsm(
        msg_count=0,
        rsu_id=rsu_id,
        ref_lat_deg=ref_lat,
        ref_lon_deg=ref_lon,
        participants=tuple(objects),
    )


def parse_openv2x_dawnline(
    frame: InboundFrame,
    *,
    message_set: MessageSet,
    area: DeploymentArea | None = None,
    options: DriverOptions | None = None,
) -> Parsed | Dropped:
    """The payload is the "dawnline" vendor list (SI units, one element per device)."""
    value: Any = load_json(frame.payload, "openv2x-dawnline")
    if isinstance(value, Dropped):
        return value
    return openv2x_dawnline_from_value(value, frame)


def openv2x_dawnline_from_value(value: Any, frame: InboundFrame) -> Parsed | Dropped:
    """``parse_openv2x_dawnline`` of an already parsed JSON value."""
    if not isinstance(value, list):
        return Dropped(
            reason=DropReason.BAD_PAYLOAD,
            detail=f"expected a list of devices, got {type(value).__name__}",
            where="$",
            shape="openv2x-dawnline",
        )
    try:
        rsms = [
            _dawnline_rsm(Fields(v, f"$[{i}]"), frame.device_id, frame.received_at_ms)
            for i, v in enumerate(value)
        ]
    except BadField as exc:
        return exc.dropped("openv2x-dawnline")
    return Parsed(models=tuple(rsms), shape="openv2x-dawnline")
