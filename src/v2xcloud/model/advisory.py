"""Advisories: what the applications tell road users."""

from __future__ import annotations

from enum import IntEnum

import msgspec

__all__ = ["Advisory", "AdvisoryLevel"]


class AdvisoryLevel(IntEnum):
    """How urgent an advisory is; higher is more urgent."""

    INFO = 1  # information and efficiency advice (GLOSA, IVS)
    WARNING = 2  # a hazard to be aware of (TTC under the warning threshold)
    IMMINENT = 3  # act now (TTC under the imminent threshold)


# gc=False: only scalars, strings and containers of them, so no reference cycles; thousands live
# at once in the scene and the runtime, and untracked they do not slow the cyclic GC down
class Advisory(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One application's advice to one road user (``ego_id``) about a hazard or situation.

    ``app`` is the application code ("FCW", "GLOSA", ...); ``other_id`` the participant or
    object that causes it; ``ttc_s`` the time to collision or to the conflict point, seconds;
    ``lat_deg``/``lon_deg`` where the hazard is; ``issued_ms``/``expires_ms`` UTC ms.
    ``values`` carries app-specific figures with their units in the key (``"advised_speed_mps"``).
    """

    app: str
    level: AdvisoryLevel
    ego_id: str
    issued_ms: int
    expires_ms: int
    other_id: str | None = None
    ttc_s: float | None = None
    lat_deg: float | None = None
    lon_deg: float | None = None
    detail: str = ""
    values: dict[str, float] = msgspec.field(default_factory=dict)
