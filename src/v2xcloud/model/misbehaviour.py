"""Misbehaviour detection's vocabulary: the named checks, their evidence and the report.

The check names follow the misbehaviour-detection literature (the VeReMi / VeReMi-extension
detector family: range plausibility, speed plausibility, position consistency, position–speed
consistency, position–heading consistency, intersection, sudden appearance, beacon frequency)
plus the platform's own cross-checks (roadside perception, data replay, Sybil). The rules that
produce them live in ``security.misbehaviour``; the store and the API only carry them.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

__all__ = ["MisbehaviourCheck", "MisbehaviourEvidence", "MisbehaviourReport"]


class MisbehaviourCheck(StrEnum):
    """One plausibility or consistency check; the value is the tag the store and API use."""

    RANGE_PLAUSIBILITY = "range_plausibility"  # farther from the receiving RSU than it hears
    SPEED_PLAUSIBILITY = "speed_plausibility"  # a speed no road vehicle reaches
    ACCELERATION_PLAUSIBILITY = "acceleration_plausibility"  # speed change beyond tyre grip
    POSITION_CONSISTENCY = "position_consistency"  # a jump farther than any speed allows
    POSITION_SPEED_CONSISTENCY = "position_speed_consistency"  # moved ≠ reported speeds
    POSITION_HEADING_CONSISTENCY = "position_heading_consistency"  # moves against its heading
    SUDDEN_APPEARANCE = "sudden_appearance"  # first heard deep inside an RSU's coverage
    INTERSECTION = "intersection"  # two bodies in the same place at the same time
    BEACON_FREQUENCY = "beacon_frequency"  # more reports a second than the standard allows
    PERCEPTION_CONTRADICTION = "perception_contradiction"  # roadside perception disagrees
    DATA_REPLAY = "data_replay"  # content already reported (by another sender, or earlier)
    SYBIL = "sybil"  # several ids moving as one body


class MisbehaviourEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """One failed check on one report: which, when (the report's generation time, UTC ms),
    a sentence with the numbers, and the other party where there is one (an overlapping or
    look-alike sender, an RSU whose perception disagrees)."""

    check: MisbehaviourCheck
    at_ms: int
    detail: str
    other_id: str | None = None


class MisbehaviourReport(msgspec.Struct, frozen=True, kw_only=True):
    """A sender found misbehaving: who (participant id and, when the frame was signed, the
    certificate digest, HashedId8 hex), when it was flagged (UTC ms, platform time), the
    reason (the check with the most evidence), the evidence that passed the flag rule, and
    the gateway source it arrived through."""

    sender_id: str
    flagged_at_ms: int
    reason: MisbehaviourCheck
    evidence: tuple[MisbehaviourEvidence, ...]
    certificate_digest: str | None = None
    source: str | None = None
