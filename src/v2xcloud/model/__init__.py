"""Frozen domain types in SI units: what every layer above the wire talks in.

May import: nothing of ours (only the standard library and msgspec). The model knows no wire
format: scaled integers, sentinels and epoch offsets are converted by ``codec``.
Units are in the names (``speed_mps``, ``heading_deg``); times are integer UTC milliseconds.
"""

from v2xcloud.model.advisory import Advisory, AdvisoryLevel
from v2xcloud.model.alarm import CLEARED_BY, Alarm, AlarmSeverity, AlarmSource, AlarmState
from v2xcloud.model.device import Device, DeviceKind, DeviceState
from v2xcloud.model.drop import DeadLetter, DropReason
from v2xcloud.model.ev import (
    EvAlarm,
    EvCellVoltages,
    EvEngine,
    EvExtremes,
    EvFuelCell,
    EvMotor,
    EvOperatorAlarm,
    EvPosition,
    EvProbeTemps,
    EvRawUnit,
    EvReport,
    EvSignature,
    EvTableUnit,
    EvVehicle,
)
from v2xcloud.model.map import Connection, Lane, MapData, MapLink, MapNode, Movement, NodeId
from v2xcloud.model.messages import Bsm, Rsm
from v2xcloud.model.misbehaviour import (
    MisbehaviourCheck,
    MisbehaviourEvidence,
    MisbehaviourReport,
)
from v2xcloud.model.participant import (
    BrakeState,
    EmergencyState,
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
    PathPoint,
)
from v2xcloud.model.road import RoadEvent, RoadSign, Rsi
from v2xcloud.model.signal import (
    IntersectionState,
    IntersectionView,
    LightState,
    PhaseState,
    SignalPhase,
    Spat,
)
from v2xcloud.model.thresholds import MOVING_MPS, STANDSTILL_MPS
from v2xcloud.model.time import utc_ms_from_moy, utc_ms_from_sec_mark

__all__ = [
    "CLEARED_BY",
    "MOVING_MPS",
    "STANDSTILL_MPS",
    "Advisory",
    "AdvisoryLevel",
    "Alarm",
    "AlarmSeverity",
    "AlarmSource",
    "AlarmState",
    "BrakeState",
    "Bsm",
    "Connection",
    "DeadLetter",
    "Device",
    "DeviceKind",
    "DeviceState",
    "DropReason",
    "EmergencyState",
    "EvAlarm",
    "EvCellVoltages",
    "EvEngine",
    "EvExtremes",
    "EvFuelCell",
    "EvMotor",
    "EvOperatorAlarm",
    "EvPosition",
    "EvProbeTemps",
    "EvRawUnit",
    "EvReport",
    "EvSignature",
    "EvTableUnit",
    "EvVehicle",
    "IntersectionState",
    "IntersectionView",
    "Lane",
    "LightState",
    "MapData",
    "MapLink",
    "MapNode",
    "MisbehaviourCheck",
    "MisbehaviourEvidence",
    "MisbehaviourReport",
    "Movement",
    "NodeId",
    "ParticipantKind",
    "ParticipantSource",
    "ParticipantState",
    "PathPoint",
    "PhaseState",
    "RoadEvent",
    "RoadSign",
    "Rsi",
    "Rsm",
    "SignalPhase",
    "Spat",
    "utc_ms_from_moy",
    "utc_ms_from_sec_mark",
]
