"""Recorded signal states (one row per signal group and instant) → SPAT per instant.

Columns by header name: ``signal_group_id``, ``timestamp_ms`` and ``movement_state`` (J2735
MovementPhaseState names such as ``STOP_AND_REMAIN`` or ``permissive-Movement-Allowed``, in any
case and separator style). Each signal group becomes a SPAT phase with ``phase_id`` = group id.

A recording knows when each state really ended, so the replay fills ``likely_end_s`` (and
``min_end_s``/``max_end_s``) with that recorded change, standing in for the controller's own
prediction, and adds the next state; a state still running when the recording ends has no
end time. J2735 ``pre-Movement`` (red+amber) has no CSAE light state and counts as red.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from v2xcloud.errors import ReplayError
from v2xcloud.model import IntersectionState, LightState, NodeId, PhaseState, SignalPhase, Spat
from v2xcloud.replay._csv import RowIssue, read_rows

__all__ = ["SignalRecording", "light_of_movement_state", "read_signals"]

_REQUIRED = ("signal_group_id", "timestamp_ms", "movement_state")
_LIGHTS = {
    "unavailable": LightState.UNAVAILABLE,
    "dark": LightState.DARK,
    "stopthenproceed": LightState.FLASHING_RED,
    "stopandremain": LightState.RED,
    "premovement": LightState.RED,
    "permissivemovementallowed": LightState.PERMISSIVE_GREEN,
    "protectedmovementallowed": LightState.PROTECTED_GREEN,
    "permissiveclearance": LightState.YELLOW,
    "protectedclearance": LightState.YELLOW,
    "cautionconflictingtraffic": LightState.FLASHING_YELLOW,
}


def light_of_movement_state(name: str) -> LightState | None:
    """CSAE light state of a J2735 movement-state name (any case/separators), else ``None``."""
    return _LIGHTS.get(re.sub(r"[^a-z]", "", name.lower()))


class SignalRecording:
    """Light state per signal group over time, as run-length segments."""

    def __init__(self, samples: dict[int, list[tuple[int, LightState]]]) -> None:
        self._groups: dict[int, tuple[npt.NDArray[np.int64], list[LightState]]] = {}
        self._times: set[int] = set()
        for group, rows in samples.items():
            rows.sort()
            self._times.update(t for t, _ in rows)
            starts = [rows[0][0]]
            lights = [rows[0][1]]
            for t, light in rows[1:]:
                if light != lights[-1]:
                    starts.append(t)
                    lights.append(light)
            # the last segment ends one sample interval after the last sample, unknown
            self._groups[group] = (np.array(starts, dtype=np.int64), lights)

    @property
    def group_ids(self) -> list[int]:
        """Signal group ids, ascending."""
        return sorted(self._groups)

    @property
    def timestamps_ms(self) -> list[int]:
        """Every recorded instant, ascending."""
        return sorted(self._times)

    def light_at(self, group: int, t_ms: int) -> LightState:
        """The light of ``group`` at ``t_ms`` (its last state before, ``UNAVAILABLE`` if none)."""
        starts, lights = self._groups[group]
        k = int(np.searchsorted(starts, t_ms, side="right")) - 1
        return lights[k] if k >= 0 else LightState.UNAVAILABLE

    def phase_at(self, group: int, t_ms: int) -> SignalPhase:
        """The SPAT phase of ``group`` at ``t_ms``: current state and, when known, the next."""
        starts, lights = self._groups[group]
        k = int(np.searchsorted(starts, t_ms, side="right")) - 1
        if k < 0:
            return SignalPhase(phase_id=group, states=(PhaseState(light=LightState.UNAVAILABLE),))
        if k + 1 >= len(lights):
            return SignalPhase(phase_id=group, states=(PhaseState(light=lights[k], start_s=0.0),))
        end_s = (int(starts[k + 1]) - t_ms) / 1000.0
        nxt_dur = (
            (int(starts[k + 2]) - int(starts[k + 1])) / 1000.0 if k + 2 < len(lights) else None
        )
        current = PhaseState(
            light=lights[k],
            start_s=0.0,
            min_end_s=end_s,
            max_end_s=end_s,
            likely_end_s=end_s,
            next_duration_s=None,
        )
        upcoming = PhaseState(
            light=lights[k + 1],
            start_s=end_s,
            likely_end_s=None if nxt_dur is None else end_s + nxt_dur,
            min_end_s=None if nxt_dur is None else end_s + nxt_dur,
            max_end_s=None if nxt_dur is None else end_s + nxt_dur,
        )
        return SignalPhase(phase_id=group, states=(current, upcoming))

    def spat_at(self, t_ms: int, *, node: NodeId, base_ms: int = 0) -> Spat:
        """The SPAT of intersection ``node`` at recorded instant ``t_ms``."""
        phases = tuple(self.phase_at(g, t_ms) for g in self.group_ids)
        state = IntersectionState(node=node, timestamp_ms=base_ms + t_ms, phases=phases)
        return Spat(
            msg_count=(t_ms // 100) % 128, intersections=(state,), timestamp_ms=base_ms + t_ms
        )

    def spats(self, *, node: NodeId, base_ms: int = 0) -> Iterator[Spat]:
        """One SPAT per recorded instant, in time order."""
        for t in self.timestamps_ms:
            yield self.spat_at(t, node=node, base_ms=base_ms)


def read_signals(path: Path) -> tuple[SignalRecording, list[RowIssue]]:
    """Read a signal-phase CSV; returns the recording and the rows it skipped (with reasons).

    Raises ``ReplayError`` if the file is missing, lacks a required column or has no good row.
    """
    header, rows = read_rows(path, required=_REQUIRED)
    col = {name: i for i, name in enumerate(header)}
    samples: dict[int, list[tuple[int, LightState]]] = {}
    issues: list[RowIssue] = []
    for line, cells in rows:
        try:
            group = int(cells[col["signal_group_id"]])
            t = int(float(cells[col["timestamp_ms"]]))
            name = cells[col["movement_state"]]
        except (IndexError, ValueError) as exc:
            issues.append(RowIssue(file=path.name, line=line, reason=f"bad cell ({exc})"))
            continue
        light = light_of_movement_state(name)
        if light is None or t < 0:
            issues.append(
                RowIssue(
                    file=path.name, line=line, reason=f"unknown movement state {name!r} or time {t}"
                )
            )
            continue
        samples.setdefault(group, []).append((t, light))
    if not samples:
        raise ReplayError(f"{path}: no usable signal rows ({len(issues)} malformed)")
    return SignalRecording(samples), issues
