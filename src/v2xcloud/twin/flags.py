"""Integer codes for participant kinds and bit flags for what a participant reports.

The scene keeps these as numpy columns so an application can select, say, every braking
vehicle with one mask: ``(view.flags & Flag.HARD_BRAKING) != 0``.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

from v2xcloud.model import ParticipantKind, ParticipantSource, ParticipantState

__all__ = [
    "KIND_CODES",
    "SOURCE_CODES",
    "Flag",
    "Kind",
    "SourceCode",
    "flags_of",
    "kind_code",
    "source_code",
]


class Kind(IntEnum):
    """``ParticipantKind`` as a small integer column."""

    UNKNOWN = 0
    VEHICLE = 1
    CYCLIST = 2
    PEDESTRIAN = 3
    RSU = 4


class SourceCode(IntEnum):
    """``ParticipantSource`` as a small integer column."""

    BSM = 0
    RSM = 1
    PSM = 2
    SIM = 3


class Flag(IntFlag):
    """What a participant's latest report says, one bit each."""

    NONE = 0
    BRAKE_PEDAL = 1 << 0
    HARD_BRAKING = 1 << 1  # eventHardBraking
    HAZARD_LIGHTS = 1 << 2  # hazardSignalOn light or eventHazardLights
    ABS = 1 << 3  # eventABSactivated or brakes.abs engaged
    TRACTION = 1 << 4  # eventTractionControlLoss or brakes.traction engaged
    STABILITY = 1 << 5  # eventStabilityControlactivated or brakes.stability engaged
    DISABLED = 1 << 6  # eventDisabledVehicle, flat tyre, air bag deployed
    EMERGENCY = 1 << 7  # emergency vehicle on an emergency call (siren/lights in use)
    LEFT_SIGNAL = 1 << 8
    RIGHT_SIGNAL = 1 << 9
    HAZMAT = 1 << 10  # eventHazardousMaterials
    STOP_LINE_VIOLATION = 1 << 11
    PERCEIVED = 1 << 12  # also seen by a roadside unit (RSM cross-check)
    PERCEPTION_ONLY = 1 << 13  # known only from roadside perception


_KIND = {
    ParticipantKind.UNKNOWN: Kind.UNKNOWN,
    ParticipantKind.VEHICLE: Kind.VEHICLE,
    ParticipantKind.CYCLIST: Kind.CYCLIST,
    ParticipantKind.PEDESTRIAN: Kind.PEDESTRIAN,
    ParticipantKind.RSU: Kind.RSU,
}
_SOURCE = {
    ParticipantSource.BSM: SourceCode.BSM,
    ParticipantSource.RSM: SourceCode.RSM,
    ParticipantSource.PSM: SourceCode.PSM,
    ParticipantSource.SIM: SourceCode.SIM,
}
#: plain int codes for fast per-report lookups
KIND_CODES: dict[ParticipantKind, int] = {k: int(v) for k, v in _KIND.items()}
SOURCE_CODES: dict[ParticipantSource, int] = {k: int(v) for k, v in _SOURCE.items()}

_EVENTS = {
    "eventHardBraking": Flag.HARD_BRAKING,
    "eventHazardLights": Flag.HAZARD_LIGHTS,
    "eventABSactivated": Flag.ABS,
    "eventTractionControlLoss": Flag.TRACTION,
    "eventStabilityControlactivated": Flag.STABILITY,
    "eventDisabledVehicle": Flag.DISABLED,
    "eventFlatTire": Flag.DISABLED,
    "eventAirBagDeployment": Flag.DISABLED,
    "eventHazardousMaterials": Flag.HAZMAT,
    "eventStopLineViolation": Flag.STOP_LINE_VIOLATION,
}
_LIGHTS = {
    "hazardSignalOn": Flag.HAZARD_LIGHTS,
    "leftTurnSignalOn": Flag.LEFT_SIGNAL,
    "rightTurnSignalOn": Flag.RIGHT_SIGNAL,
}
_ENGAGED = ("engaged", "on")


def kind_code(kind: ParticipantKind) -> int:
    """Integer code of a participant kind."""
    return int(_KIND[kind])


def source_code(source: ParticipantSource) -> int:
    """Integer code of a participant source."""
    return int(_SOURCE[source])


# the same bits as plain ints (an ``IntFlag`` or-ed per report costs an enum call each time)
_EVENT_BITS = {name: int(flag) for name, flag in _EVENTS.items()}
_LIGHT_BITS = {name: int(flag) for name, flag in _LIGHTS.items()}
_BRAKE_PEDAL, _ABS, _TRACTION = int(Flag.BRAKE_PEDAL), int(Flag.ABS), int(Flag.TRACTION)
_STABILITY, _EMERGENCY = int(Flag.STABILITY), int(Flag.EMERGENCY)


def flags_of(state: ParticipantState) -> int:
    """The ``Flag`` bits of one report (0 for a report without events, lights or extensions)."""
    bits = 0
    for name in state.vehicle_events:
        bits |= _EVENT_BITS.get(name, 0)
    for name in state.exterior_lights:
        bits |= _LIGHT_BITS.get(name, 0)
    brakes = state.brakes
    if brakes is not None:
        if brakes.pedal == "on":
            bits |= _BRAKE_PEDAL
        if brakes.abs == "engaged":
            bits |= _ABS
        if brakes.traction == "engaged":
            bits |= _TRACTION
        if brakes.stability == "engaged":
            bits |= _STABILITY
    em = state.emergency
    if em is not None and (
        em.response_type == "emergency" or em.siren == "inUse" or em.lights == "inUse"
    ):
        bits |= _EMERGENCY
    return bits
