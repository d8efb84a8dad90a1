"""Per-message SI models whose content is participants (BSM, RSM)."""

from __future__ import annotations

import msgspec

from v2xcloud.model.participant import ParticipantState

__all__ = ["Bsm", "Rsm"]


# gc=False: values only (no reference cycles); one per report or tick, untracked they add
# nothing to the cyclic GC's collections
class Bsm(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A BSM in SI units: the sender's own state. ``sec_mark_ms`` is kept as sent."""

    msg_count: int
    sec_mark_ms: int | None
    participant: ParticipantState


class Rsm(msgspec.Struct, frozen=True, kw_only=True):
    """An RSM in SI units: what one RSU perceives. Participant positions are absolute."""

    msg_count: int
    rsu_id: str
    ref_lat_deg: float
    ref_lon_deg: float
    participants: tuple[ParticipantState, ...]
    ref_elevation_m: float | None = None
