"""Stable V2X identities for simulated road users, and the way back for scoring.

A connected vehicle's BSM id is 8 bytes (16 hex digits); a roadside-perceived object is
``"<rsu id hex>/<ptcId>"`` exactly as the codec names RSM objects. Which vehicles are
connected is drawn once per vehicle from the scenario seed, so reruns agree.
"""

from __future__ import annotations

import zlib

__all__ = ["IdentityMap"]

_BSM_PREFIX = 0x5A  # first byte of every simulated BSM id, to spot them in logs


class IdentityMap:
    """Assigns BSM ids and RSM object ids to SUMO ids, and resolves them back.

    ``forced`` pins the connected flag of named vehicles (scripted hazard vehicles).
    """

    def __init__(self, *, seed: int, connected_share: float, forced: dict[str, bool]) -> None:
        self._seed = seed
        self._share = connected_share
        self._forced = forced
        self._bsm: dict[str, str] = {}
        self._ptc: dict[str, int] = {}
        self._back: dict[str, str] = {}
        self._connected: dict[str, bool] = {}

    def is_connected(self, sumo_id: str, *, is_pedestrian: bool = False) -> bool:
        """Whether this vehicle sends BSMs (pedestrians never do)."""
        if is_pedestrian:
            return False
        flag = self._connected.get(sumo_id)
        if flag is None:
            forced = self._forced.get(sumo_id)
            draw = zlib.crc32(f"{self._seed}:{sumo_id}".encode()) / 0xFFFFFFFF
            flag = forced if forced is not None else draw < self._share
            self._connected[sumo_id] = flag
        return flag

    def bsm_id(self, sumo_id: str) -> str:
        """The 16-hex-digit BSM id of a vehicle (assigned on first use)."""
        pid = self._bsm.get(sumo_id)
        if pid is None:
            pid = f"{_BSM_PREFIX:02x}{len(self._bsm) + 1:014x}"
            self._bsm[sumo_id] = pid
            self._back[pid] = sumo_id
        return pid

    def ptc_id(self, sumo_id: str) -> int:
        """The RSM ``ptcId`` (1..65535) of a perceived participant, stable for the run."""
        ptc = self._ptc.get(sumo_id)
        if ptc is None:
            ptc = len(self._ptc) % 65535 + 1
            self._ptc[sumo_id] = ptc
        return ptc

    def rsm_id(self, rsu_id: str, sumo_id: str) -> str:
        """The participant id the platform gives an RSM object: ``"<rsu>/<ptcId>"``."""
        pid = f"{rsu_id}/{self.ptc_id(sumo_id)}"
        self._back[pid] = sumo_id
        return pid

    def sumo_id(self, participant_id: str | None) -> str | None:
        """The SUMO id behind a platform participant id, or ``None`` if unknown."""
        if participant_id is None:
            return None
        return self._back.get(participant_id)
