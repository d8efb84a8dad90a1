"""Helpers to script scenes in local metres: build reports and drive a scene tick by tick.

Used by the scenario tests of the applications and by anyone who needs a quick scene without
a simulator.
"""

from __future__ import annotations

from typing import Any

from v2xcloud.geo import LocalFrame
from v2xcloud.model import Bsm, ParticipantKind, ParticipantSource, ParticipantState

__all__ = ["TEST_FRAME", "bsm_at", "state_at"]

#: a local frame for tests (Changsha, where the real captures come from)
TEST_FRAME = LocalFrame(origin_lat_deg=28.19, origin_lon_deg=112.97)


def state_at(
    participant_id: str,
    *,
    x_m: float,
    y_m: float,
    t_ms: int,
    speed_mps: float | None = 0.0,
    heading_deg: float | None = 0.0,
    kind: ParticipantKind = ParticipantKind.VEHICLE,
    source: ParticipantSource = ParticipantSource.BSM,
    frame: LocalFrame = TEST_FRAME,
    length_m: float | None = 4.5,
    width_m: float | None = 1.8,
    **fields: Any,
) -> ParticipantState:
    """A ``ParticipantState`` at local ``(x_m, y_m)`` of ``frame``; extra model fields by name."""
    lat, lon = frame.to_wgs84(x_m, y_m)
    return ParticipantState(
        id=participant_id,
        kind=kind,
        source=source,
        timestamp_ms=t_ms,
        lat_deg=float(lat),
        lon_deg=float(lon),
        speed_mps=speed_mps,
        heading_deg=heading_deg,
        length_m=length_m,
        width_m=width_m,
        **fields,
    )


def bsm_at(participant_id: str, *, x_m: float, y_m: float, t_ms: int, **fields: Any) -> Bsm:
    """A ``Bsm`` carrying ``state_at(...)`` (secMark derived from ``t_ms``)."""
    state = state_at(participant_id, x_m=x_m, y_m=y_m, t_ms=t_ms, **fields)
    return Bsm(msg_count=(t_ms // 100) % 128, sec_mark_ms=t_ms % 60_000, participant=state)
