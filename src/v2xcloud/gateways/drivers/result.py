"""What a payload driver returns: ``Parsed`` (models for the scene) or ``Dropped`` (why not).

A driver never raises for a bad payload. ``Dropped`` names the reason with the one
``DropReason`` vocabulary, where in the payload (a JSON path such as ``$.targets[3].latitude``
or ``byte 17``) and a sentence; ``dead_letter`` turns it into the ``DeadLetter`` kept by the
platform, with the payload exactly as received.
"""

from __future__ import annotations

import msgspec

from v2xcloud.gateways.base import InboundFrame
from v2xcloud.model import (
    Bsm,
    DeadLetter,
    DropReason,
    MapData,
    ParticipantKind,
    ParticipantState,
    Rsi,
    Rsm,
    Spat,
)

__all__ = ["DriverOptions", "Dropped", "Parsed", "SceneModel"]

SceneModel = Bsm | Rsm | Spat | MapData | Rsi | ParticipantState
"""The SI models a driver hands to the scene (the ones ``twin.Scene.ingest`` holds)."""


class Parsed(msgspec.Struct, frozen=True, kw_only=True):
    """A payload turned into SI models. ``shape`` names the driver that read it.

    ``models`` may be empty: a radar frame with no targets is valid and says nothing new.
    """

    models: tuple[SceneModel, ...]
    shape: str


class Dropped(msgspec.Struct, frozen=True, kw_only=True):
    """A payload that gives no model: the reason, where in the payload, a sentence, and the
    driver that refused it (``"auto"`` when no shape could be recognised)."""

    reason: DropReason
    detail: str
    where: str | None = None
    shape: str = "auto"

    def dead_letter(self, frame: InboundFrame) -> DeadLetter:
        """The dead letter for this drop: the frame's raw payload, sender and arrival time."""
        return DeadLetter(
            raw=frame.payload,
            source=frame.device_id,
            received_at_ms=frame.received_at_ms,
            reason=self.reason,
            detail=f"{self.shape}: {self.detail}",
            where=self.where,
        )


# the common roadside radar / camera target classes: 0 unknown, 1 pedestrian, 2 bicycle,
# 3 motorcycle, 4 car, 5 truck, 6 bus, 7 articulated truck (motorcycles are motor vehicles)
_RADAR_KINDS: dict[int, ParticipantKind] = {
    1: ParticipantKind.PEDESTRIAN,
    2: ParticipantKind.CYCLIST,
    **{code: ParticipantKind.VEHICLE for code in range(3, 8)},
}


class DriverOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Per-device settings of the JSON drivers (the device registry holds them).

    ``radar_kinds`` maps a radar's integer ``targetType`` to a ``ParticipantKind``; a type not
    in it is kept as ``UNKNOWN``, never dropped. ``radar_speed_scale`` turns the radar's speed
    unit into m/s (1.0 for m/s, ``1 / 3.6`` for a radar reporting km/h).
    ``local_utc_offset_min`` is the offset of local times written without a zone
    (``"2022-10-31 15:33:47"``), +480 for China Standard Time.
    """

    radar_kinds: dict[int, ParticipantKind] = msgspec.field(
        default_factory=lambda: dict(_RADAR_KINDS)
    )
    radar_speed_scale: float = 1.0
    local_utc_offset_min: int = 480
