"""Turn a ground-truth snapshot into BSMs (connected vehicles) and RSMs (roadside sensors)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

from v2xcloud.geo import LocalFrame
from v2xcloud.model import (
    BrakeState,
    Bsm,
    EmergencyState,
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
    Rsm,
)
from v2xcloud.model.day2 import Psm
from v2xcloud.sim.identities import IdentityMap
from v2xcloud.sim.snapshot import BRAKE_LIGHT_BIT, SIGNAL_BITS, Snapshot

__all__ = ["HARD_BRAKING_MPS2", "RSM_MAX_OBJECTS", "ParticipantEncoder", "RoadsideSensor"]

RSM_MAX_OBJECTS = 16  # an RSM carries 1..16 participants (T/CSAE 53-2020)
HARD_BRAKING_MPS2 = -4.0  # an OBU flags eventHardBraking below this acceleration
_VEHICLE_CLASS = {"truck": 25, "emergency": 60, "bg_emergency": 60}  # CSAE BasicVehicleClass
_EMERGENCY = EmergencyState(response_type="emergency", siren="inUse", lights="inUse")


@dataclass(frozen=True)
class RoadsideSensor:
    """A roadside sensor (camera/lidar) at ``(x_m, y_m)`` reporting through RSU ``rsu_id``."""

    rsu_id: str
    x_m: float
    y_m: float
    range_m: float
    perceives_all: bool = False  # also road users that send BSMs (a radar, not a camera feed)


class ParticipantEncoder:
    """Builds model messages from snapshots; ``events`` are scripted BSM event flags by SUMO id."""

    def __init__(
        self,
        *,
        frame: LocalFrame,
        ids: IdentityMap,
        epoch_ms: int,
        events: dict[str, frozenset[str]],
    ) -> None:
        self._frame = frame
        self._ids = ids
        self._epoch_ms = epoch_ms
        self._events = events
        self._count = 0
        empty = np.zeros(0)
        self._cached: tuple[Snapshot | None, npt.NDArray[np.float64], npt.NDArray[np.float64]] = (
            None,
            empty,
            empty,
        )

    def _state(
        self, snap: Snapshot, i: int, *, pid: str, source: ParticipantSource
    ) -> ParticipantState:
        sumo_id = snap.ids[i]
        lats, lons = self._latlon(snap)
        lat, lon = float(lats[i]), float(lons[i])
        is_ped = bool(snap.is_pedestrian[i])
        signals = int(snap.signals[i])
        accel = float(snap.accel_mps2[i])  # NaN on the step a vehicle enters: unavailable
        events = set(self._events.get(sumo_id, frozenset()))
        if signals & 4:
            events.add("eventHazardLights")
        if accel <= HARD_BRAKING_MPS2:
            events.add("eventHardBraking")
        vtype = snap.vtypes[i]
        return ParticipantState(
            id=pid,
            kind=ParticipantKind.PEDESTRIAN if is_ped else ParticipantKind.VEHICLE,
            source=source,
            timestamp_ms=self._epoch_ms + snap.time_ms,
            lat_deg=lat,
            lon_deg=lon,
            speed_mps=float(snap.speed_mps[i]),
            heading_deg=float(snap.heading_deg[i]),
            accel_long_mps2=None if is_ped or not math.isfinite(accel) else accel,
            length_m=float(snap.length_m[i]),
            width_m=float(snap.width_m[i]),
            vehicle_class=None if is_ped else _VEHICLE_CLASS.get(vtype, 10),
            position_accuracy_m=1.0,
            brakes=None
            if is_ped
            else BrakeState(pedal="on" if signals & BRAKE_LIGHT_BIT else "off"),
            vehicle_events=frozenset(events),
            exterior_lights=frozenset(n for bit, n in SIGNAL_BITS.items() if signals & bit),
            emergency=_EMERGENCY if _VEHICLE_CLASS.get(vtype) == 60 else None,
        )

    def _latlon(self, snap: Snapshot) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Geo positions of the whole snapshot, projected once per step."""
        if self._cached[0] is not snap:
            self._cached = (snap, *self._frame.to_wgs84(snap.x_m, snap.y_m))
        return self._cached[1], self._cached[2]

    def _next_count(self) -> int:
        self._count = (self._count + 1) % 128
        return self._count

    def bsms(self, snap: Snapshot) -> list[tuple[str, Bsm]]:
        """(SUMO id, BSM) for every connected vehicle in the snapshot."""
        out = []
        sec_mark = (self._epoch_ms + snap.time_ms) % 60_000
        for i, sumo_id in enumerate(snap.ids):
            if not self._ids.is_connected(sumo_id, is_pedestrian=bool(snap.is_pedestrian[i])):
                continue
            state = self._state(
                snap, i, pid=self._ids.bsm_id(sumo_id), source=ParticipantSource.BSM
            )
            out.append(
                (
                    sumo_id,
                    Bsm(msg_count=self._next_count(), sec_mark_ms=sec_mark, participant=state),
                )
            )
        return out

    def psms(self, snap: Snapshot, carriers: frozenset[str]) -> list[tuple[str, Psm]]:
        """(SUMO id, PSM) for every pedestrian in ``carriers`` (SUMO ids of those with a PSM
        device) in the snapshot; its id is a temporary id like a BSM's."""
        out = []
        for i in np.flatnonzero(snap.is_pedestrian):
            sumo_id = snap.ids[i]
            if sumo_id not in carriers:
                continue
            pid = self._ids.bsm_id(sumo_id)
            state = self._state(snap, int(i), pid=pid, source=ParticipantSource.PSM)
            psm = Psm(
                msg_count=self._next_count(),
                participant=state,
                user_type="aPEDESTRIAN",
                overall_radius_m=0.5,
            )
            out.append((sumo_id, psm))
        return out

    def rsms(self, snap: Snapshot, sensor: RoadsideSensor) -> list[tuple[list[str], Rsm]]:
        """What ``sensor`` perceives (road users in range: the non-connected ones, or all of
        them if it ``perceives_all``): (SUMO ids, RSM) per RSM, at most ``RSM_MAX_OBJECTS``
        objects each (the message's limit); none if it sees nothing."""
        near = np.hypot(snap.x_m - sensor.x_m, snap.y_m - sensor.y_m) <= sensor.range_m
        seen: list[str] = []
        states: list[ParticipantState] = []
        for i in np.flatnonzero(near):
            sumo_id = snap.ids[i]
            if not sensor.perceives_all and self._ids.is_connected(
                sumo_id, is_pedestrian=bool(snap.is_pedestrian[i])
            ):
                continue
            pid = self._ids.rsm_id(sensor.rsu_id, sumo_id)
            state = self._state(snap, int(i), pid=pid, source=ParticipantSource.RSM)
            states.append(_as_perceived(state, sensor.rsu_id))
            seen.append(sumo_id)
        lat_a, lon_a = self._frame.to_wgs84(sensor.x_m, sensor.y_m)
        lat, lon = float(lat_a), float(lon_a)
        out = []
        for k in range(0, len(states), RSM_MAX_OBJECTS):
            rsm = Rsm(
                msg_count=self._next_count(),
                rsu_id=sensor.rsu_id,
                ref_lat_deg=lat,
                ref_lon_deg=lon,
                participants=tuple(states[k : k + RSM_MAX_OBJECTS]),
            )
            out.append((seen[k : k + RSM_MAX_OBJECTS], rsm))
        return out


def _as_perceived(state: ParticipantState, rsu_id: str) -> ParticipantState:
    """An RSM object: same state, marked as perceived by ``rsu_id`` (no BSM-only fields)."""
    return msgspec.structs.replace(
        state, sender_id=rsu_id, detection_source="integrated", brakes=None
    )
