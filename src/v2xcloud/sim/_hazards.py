"""Scripted hazards: apply one scenario action to the running simulation through libsumo."""

from __future__ import annotations

from typing import Any

from v2xcloud.errors import SimulationError
from v2xcloud.sim.scenario import ActionSpec

__all__ = ["apply"]


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
    veh = traci.vehicle
    try:
        if action.kind == "set_speed":
            veh.setSpeed(vid, -1.0 if action.speed_mps is None else action.speed_mps)
        elif action.kind == "slow_down":
            veh.slowDown(vid, action.speed_mps or 0.0, action.duration_s)
        elif action.kind == "speed_mode":
            veh.setSpeedMode(vid, 31 if action.mode is None else action.mode)
        elif action.kind == "change_lane":
            veh.changeLane(vid, action.lane or 0, action.duration_s or 5.0)
        elif action.kind == "lane_change_mode":
            veh.setLaneChangeMode(vid, 1621 if action.mode is None else action.mode)
        elif action.kind == "signals":
            if action.mode is None:
                forced_signals.pop(vid, None)
            else:
                forced_signals[vid] = action.mode
        elif action.kind == "events":
            vehicle_events[vid] = frozenset(action.names)
        elif action.kind == "ignore_foes":
            veh.setType(vid, "car_reckless")  # junction-model foe/red-light parameters
            veh.setSpeedMode(
                vid, 0b00111
            )  # keep safe-gap/accel limits, ignore right of way and red
    except traci.TraCIException as exc:
        raise SimulationError(
            f"action {action.kind!r} at {action.at_s} s on {vid!r}: {exc}"
        ) from exc
