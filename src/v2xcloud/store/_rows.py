"""Model objects ⇄ table columns, shared by both backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from v2xcloud.model import (
    Advisory,
    DeadLetter,
    DropReason,
    MisbehaviourReport,
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
    RoadEvent,
)
from v2xcloud.store.records import EvReportRecord

PARTICIPANT_COLUMNS = (
    "timestamp_ms",
    "id",
    "kind",
    "source",
    "lat_deg",
    "lon_deg",
    "elevation_m",
    "speed_mps",
    "heading_deg",
    "accel_long_mps2",
    "length_m",
    "width_m",
)
ADVISORY_COLUMNS = (
    "issued_ms",
    "expires_ms",
    "app",
    "level",
    "ego_id",
    "lat_deg",
    "lon_deg",
    "doc",
)
EVENT_COLUMNS = ("recorded_ms", "event_id", "event_type", "source", "lat_deg", "lon_deg", "doc")
DEAD_LETTER_COLUMNS = ("received_ms", "reason", "source", "detail", "raw", "location")
EV_REPORT_COLUMNS = ("received_ms", "vin", "payload")
MISBEHAVIOUR_COLUMNS = ("flagged_ms", "sender_id", "reason", "certificate_digest", "source", "doc")

_encoder = msgspec.json.Encoder()


def participant_rows(states: Sequence[ParticipantState]) -> list[tuple[Any, ...]]:
    return [
        (
            s.timestamp_ms,
            s.id,
            s.kind.value,
            s.source.value,
            s.lat_deg,
            s.lon_deg,
            s.elevation_m,
            s.speed_mps,
            s.heading_deg,
            s.accel_long_mps2,
            s.length_m,
            s.width_m,
        )
        for s in states
    ]


def participant_from_row(row: Sequence[Any]) -> ParticipantState:
    return ParticipantState(
        timestamp_ms=int(row[0]),
        id=row[1],
        kind=ParticipantKind(row[2]),
        source=ParticipantSource(row[3]),
        lat_deg=row[4],
        lon_deg=row[5],
        elevation_m=row[6],
        speed_mps=row[7],
        heading_deg=row[8],
        accel_long_mps2=row[9],
        length_m=row[10],
        width_m=row[11],
    )


def advisory_rows(advisories: Sequence[Advisory]) -> list[tuple[Any, ...]]:
    return [
        (
            a.issued_ms,
            a.expires_ms,
            a.app,
            int(a.level),
            a.ego_id,
            a.lat_deg,
            a.lon_deg,
            _encoder.encode(a).decode(),
        )
        for a in advisories
    ]


def event_rows(events: Sequence[RoadEvent], recorded_ms: int) -> list[tuple[Any, ...]]:
    return [
        (
            recorded_ms,
            e.event_id,
            e.event_type,
            e.source,
            e.lat_deg,
            e.lon_deg,
            _encoder.encode(e).decode(),
        )
        for e in events
    ]


def dead_letter_rows(letters: Sequence[DeadLetter]) -> list[tuple[Any, ...]]:
    return [
        (d.received_at_ms, d.reason.value, d.source, d.detail, bytes(d.raw), d.where)
        for d in letters
    ]


def dead_letter_from_row(row: Sequence[Any]) -> DeadLetter:
    return DeadLetter(
        received_at_ms=int(row[0]),
        reason=DropReason(row[1]),
        source=row[2],
        detail=row[3],
        raw=bytes(row[4]),
        where=row[5],
    )


def misbehaviour_rows(reports: Sequence[MisbehaviourReport]) -> list[tuple[Any, ...]]:
    return [
        (
            r.flagged_at_ms,
            r.sender_id,
            r.reason.value,
            r.certificate_digest,
            r.source,
            _encoder.encode(r).decode(),
        )
        for r in reports
    ]


def ev_report_rows(reports: Sequence[EvReportRecord]) -> list[tuple[Any, ...]]:
    return [(r.received_ms, r.vin, _encoder.encode(r.payload).decode()) for r in reports]


def decode_doc(doc: str | bytes, kind: type[Any]) -> Any:
    return msgspec.json.decode(doc, type=kind)
