"""Signal timing from SPAT messages."""

from __future__ import annotations

from enum import StrEnum

import msgspec

from v2xcloud.model.map import MapNode, NodeId

__all__ = [
    "IntersectionState",
    "IntersectionView",
    "LightState",
    "PhaseState",
    "SignalPhase",
    "Spat",
]


class LightState(StrEnum):
    """CSAE ``LightState`` (same names as J2735 MovementPhaseState)."""

    UNAVAILABLE = "unavailable"
    DARK = "dark"
    FLASHING_RED = "flashing-red"
    RED = "red"
    FLASHING_GREEN = "flashing-green"
    PERMISSIVE_GREEN = "permissive-green"
    PROTECTED_GREEN = "protected-green"
    YELLOW = "yellow"
    FLASHING_YELLOW = "flashing-yellow"

    @property
    def is_green(self) -> bool:
        return self in (
            LightState.PERMISSIVE_GREEN,
            LightState.PROTECTED_GREEN,
            LightState.FLASHING_GREEN,
        )

    @property
    def is_red(self) -> bool:
        return self in (LightState.RED, LightState.FLASHING_RED)


# gc=False: values only (no reference cycles); one per report or tick, untracked they add
# nothing to the cyclic GC's collections
class PhaseState(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One light state of a phase and when it holds.

    Counting-down timing: seconds relative to the SPAT's own time (``start_s`` 0 means "now").
    UTC timing is converted to the same relative seconds by the codec.
    """

    light: LightState
    start_s: float | None = None
    min_end_s: float | None = None
    max_end_s: float | None = None
    likely_end_s: float | None = None
    time_confidence: int | None = None
    next_start_s: float | None = None
    next_duration_s: float | None = None


# gc=False: values only (no reference cycles); one per report or tick, untracked they add
# nothing to the cyclic GC's collections
class SignalPhase(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A signal phase (``PhaseID``) with its current and upcoming light states, current first."""

    phase_id: int
    states: tuple[PhaseState, ...]


# gc=False: values only (no reference cycles); one per report or tick, untracked they add
# nothing to the cyclic GC's collections
class IntersectionState(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The signal state of one intersection."""

    node: NodeId
    status: frozenset[str] = frozenset()  # IntersectionStatusObject bit names
    timestamp_ms: int | None = None
    phases: tuple[SignalPhase, ...] = ()


# gc=False: values only (no reference cycles); one per report or tick, untracked they add
# nothing to the cyclic GC's collections
class Spat(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A SPAT message in SI units."""

    msg_count: int
    intersections: tuple[IntersectionState, ...]
    timestamp_ms: int | None = None
    name: str | None = None


class IntersectionView(msgspec.Struct, frozen=True, kw_only=True):
    """One intersection as the platform holds it: its MAP node (``None`` until a MAP names it),
    its latest signal state (``None`` until a SPAT names it), when that SPAT arrived (platform
    UTC ms) and its reference point in the deployment's local frame (metres east/north)."""

    node_id: NodeId
    node: MapNode | None = None
    signal: IntersectionState | None = None
    signal_received_ms: int | None = None
    x_m: float | None = None
    y_m: float | None = None
