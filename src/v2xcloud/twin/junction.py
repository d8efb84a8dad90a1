"""A signalised junction: MAP geometry joined with its latest SPAT, in a local metric frame.

Ingress lanes (lanes with connections that are not crosswalks) are compiled into
``geo.approach.ApproachLanes`` so a whole tick of vehicles is matched at once; the SPAT's
counting-down times are aged by the time elapsed since the SPAT was stamped.
"""

from __future__ import annotations

import msgspec
import numpy as np

from v2xcloud.geo.approach import ApproachLanes, LaneMatch
from v2xcloud.geo.frame import LocalFrame
from v2xcloud.model import Connection, IntersectionState, Lane, LightState, MapLink, MapNode

__all__ = ["TURN_ON_RED", "Junction", "PhaseTiming"]

TURN_ON_RED = frozenset({"maneuverRightTurnOnRedAllowed", "maneuverLeftTurnOnRedAllowed"})


class PhaseTiming(msgspec.Struct, frozen=True, kw_only=True):
    """A phase's light now and, in seconds from now, when it changes (``None``: unknown)."""

    light: LightState
    remaining_s: float | None
    next_light: LightState | None = None
    next_end_s: float | None = None

    def green_windows(self, horizon_s: float) -> list[tuple[float, float]]:
        """Green intervals (start, end) in seconds from now within ``horizon_s``."""
        windows = []
        end_now = horizon_s if self.remaining_s is None else min(self.remaining_s, horizon_s)
        if self.light.is_green:
            windows.append((0.0, end_now))
        if (
            self.next_light is not None
            and self.next_light.is_green
            and self.remaining_s is not None
        ):
            end = horizon_s if self.next_end_s is None else min(self.next_end_s, horizon_s)
            if self.remaining_s < end:
                windows.append((self.remaining_s, end))
        return windows


def _limit_mps(lane: Lane, link: MapLink) -> float | None:
    limits = [
        s.speed_mps
        for s in (*lane.speed_limits, *link.speed_limits)
        if s.kind in ("vehicleMaxSpeed", "maxSpeedInSchoolZone", "maxSpeedInConstructionZone")
    ]
    return min(limits) if limits else None


class Junction:
    """One MAP node with its signal state; lane indices refer to ``lanes``."""

    def __init__(self, node: MapNode, frame: LocalFrame) -> None:
        self.node = node
        self.frame = frame
        self.lanes: list[Lane] = []
        self.speed_limit_mps: list[float | None] = []
        polylines = []
        for link in node.in_links:
            for lane in link.lanes:
                if not lane.connections or lane.lane_type == "crosswalk" or len(lane.points) < 2:
                    continue
                lat = np.array([p[0] for p in lane.points])
                lon = np.array([p[1] for p in lane.points])
                x, y = frame.to_local(lat, lon)
                polylines.append(np.column_stack([x, y]))
                self.lanes.append(lane)
                self.speed_limit_mps.append(_limit_mps(lane, link))
        self.approach = ApproachLanes(polylines)
        self._signals: IntersectionState | None = None
        self._signals_ms = 0

    def update_signals(self, state: IntersectionState, *, received_ms: int) -> None:
        """Take a new signal state; its times count from its own stamp (or ``received_ms``)."""
        self._signals = state
        self._signals_ms = state.timestamp_ms if state.timestamp_ms is not None else received_ms

    def take_signals_from(self, other: Junction) -> None:
        """Carry the signal state over from the junction this one replaces."""
        self._signals, self._signals_ms = other._signals, other._signals_ms

    @property
    def has_signals(self) -> bool:
        """Whether a SPAT has been joined."""
        return self._signals is not None

    def match(self, x_m: np.ndarray, y_m: np.ndarray, heading_deg: np.ndarray) -> LaneMatch:
        """Match local positions (with headings) to this junction's ingress lanes."""
        return self.approach.match(x_m, y_m, heading_deg)

    def phase(self, phase_id: int | None, now_ms: int) -> PhaseTiming | None:
        """The timing of ``phase_id`` at ``now_ms``, or ``None`` without SPAT or phase."""
        if self._signals is None or phase_id is None:
            return None
        age_s = max(0.0, (now_ms - self._signals_ms) / 1000.0)
        for phase in self._signals.phases:
            if phase.phase_id != phase_id or not phase.states:
                continue
            cur = phase.states[0]
            end = cur.likely_end_s if cur.likely_end_s is not None else cur.min_end_s
            nxt = phase.states[1] if len(phase.states) > 1 else None
            nxt_end = None if nxt is None else nxt.likely_end_s
            return PhaseTiming(
                light=cur.light,
                remaining_s=None if end is None else max(0.0, end - age_s),
                next_light=None if nxt is None else nxt.light,
                next_end_s=None if nxt_end is None else max(0.0, nxt_end - age_s),
            )
        return None

    def movements(self, lane_index: int) -> tuple[Connection, ...]:
        """Connections (movements with their phases) of an ingress lane."""
        return self.lanes[lane_index].connections

    def main_movement(self, lane_index: int) -> Connection:
        """The lane's straight-on connection if it has one, else its first."""
        conns = self.lanes[lane_index].connections
        for conn in conns:
            if "maneuverStraightAllowed" in conn.maneuvers:
                return conn
        return conns[0]
