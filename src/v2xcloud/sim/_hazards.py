"""Scripted hazards: apply one scenario action to the running simulation through libsumo."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from v2xcloud.errors import SimulationError
from v2xcloud.sim.scenario import ActionSpec

__all__ = ["apply"]

_DEFAULT_SPEED_MODE = 31  # SUMO: safe speed, accel and decel limits, right of way, red lights
_DEFAULT_LANE_CHANGE_MODE = 1621
_RECKLESS_SPEED_MODE = 0b00111  # keeps safe gaps and limits; ignores right of way and red


def _set_speed(veh: Any, vid: str, a: ActionSpec) -> None:
    veh.setSpeed(vid, -1.0 if a.speed_mps is None else a.speed_mps)


def _slow_down(veh: Any, vid: str, a: ActionSpec) -> None:
    veh.slowDown(vid, a.speed_mps or 0.0, a.duration_s)


def _speed_mode(veh: Any, vid: str, a: ActionSpec) -> None:
    veh.setSpeedMode(vid, _DEFAULT_SPEED_MODE if a.mode is None else a.mode)


def _change_lane(veh: Any, vid: str, a: ActionSpec) -> None:
    veh.changeLane(vid, a.lane or 0, a.duration_s or 5.0)


def _lane_change_mode(veh: Any, vid: str, a: ActionSpec) -> None:
    veh.setLaneChangeMode(vid, _DEFAULT_LANE_CHANGE_MODE if a.mode is None else a.mode)


def _ignore_foes(veh: Any, vid: str, a: ActionSpec) -> None:
    veh.setType(vid, "car_reckless")  # its vType carries the junction-model foe/red parameters
    veh.setSpeedMode(vid, _RECKLESS_SPEED_MODE)


_VEHICLE_ACTIONS: dict[str, Callable[[Any, str, ActionSpec], None]] = {
    "set_speed": _set_speed,
    "slow_down": _slow_down,
    "speed_mode": _speed_mode,
    "change_lane": _change_lane,
    "lane_change_mode": _lane_change_mode,
    "ignore_foes": _ignore_foes,
}


def apply(
    traci: Any,
    action: ActionSpec,
    vehicle_events: dict[str, frozenset[str]],
    forced_signals: dict[str, int],
) -> None:
    """Carry out ``action``; ``vehicle_events`` collects BSM event flags per SUMO id and
    ``forced_signals`` the signal bits to hold (SUMO recomputes signals every step).

    Raises ``SimulationError`` if the target is not in the simulation at that time.
    """
    vid = action.target
    if vid not in traci.vehicle.getIDList():
        raise SimulationError(
            f"action {action.kind!r} at {action.at_s} s: vehicle {vid!r} is not on the road "
            "(check depart_s and route length)"
        )
    if action.kind == "events":
        vehicle_events[vid] = frozenset(action.names)
    elif action.kind == "signals":
        if action.mode is None:
            forced_signals.pop(vid, None)
        else:
            forced_signals[vid] = action.mode
    else:
        try:
            _VEHICLE_ACTIONS[action.kind](traci.vehicle, vid, action)
        except traci.TraCIException as exc:
            raise SimulationError(
                f"action {action.kind!r} at {action.at_s} s on {vid!r}: {exc}"
            ) from exc
