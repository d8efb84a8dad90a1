"""Scenario files: one TOML file per scenario, with its network, traffic, hazards and seed.

A scenario names the applications it is meant to trigger (``apps``); background scenarios
name none, and every advisory raised in them is a false alarm. Routes are lists of node
names of the generated network (``["W", "C", "E"]``), so files stay short and readable.

The library holds, per Day-1 app, its first scripted scenario (``fcw_rear_end``, ...) and
variants of the same hazard named ``<app>_<variant>``: other speeds, other geometry (lanes,
a junction on the way, a grid), and the other party seen only by a roadside sensor (it
sends no BSM; ``*_roadside_*``); and busy backgrounds (``background_*``) over grid sizes,
densities, two- and three-lane arterials and connected shares from 30 % to 100 %.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

import msgspec

from v2xcloud.errors import SimulationError
from v2xcloud.sim.attacks import AttackSpec

__all__ = [
    "ActionSpec",
    "AttackSpec",
    "BackgroundSpec",
    "FlowSpec",
    "NetworkSpec",
    "PaymentPointSpec",
    "PedestrianSpec",
    "ReferenceStationSpec",
    "RsuSpec",
    "Scenario",
    "SignSpec",
    "VehicleSpec",
    "attack_library_names",
    "library_names",
    "load_attack_library",
    "load_library",
    "load_scenario",
]

NetworkKind = Literal["straight", "cross", "grid", "merge"]
VehicleType = Literal["car", "car_unaware", "truck", "emergency", "bus"]
ActionKind = Literal[
    "set_speed",  # hold speed_mps (None releases control back to the driver model)
    "slow_down",  # reach speed_mps linearly over duration_s
    "speed_mode",  # SUMO speed mode bits (0 = ignore safe gaps, red lights, limits)
    "change_lane",  # to lane index ``lane`` for duration_s
    "lane_change_mode",  # SUMO lane-change mode bits (0 = change regardless of gaps)
    "signals",  # SUMO signal bits (1 right blinker, 2 left, 8 hazard lights ...)
    "events",  # BSM vehicle event flags to report from now on (names)
    "ignore_foes",  # drive through junction conflicts (red-light runner, no yield)
]


class NetworkSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which network to build: a straight two-way road, a four-arm crossing, a grid, or a
    one-way ``merge``: ``lanes`` + 1 lanes from W over M to A, where the rightmost ends
    (``merge_length_m`` after M), ``lanes`` on to E; with ``has_ramp`` a one-lane on-ramp from
    R joins at M as that rightmost lane (an acceleration lane), without it the rightmost lane
    simply ends at A (a lane drop, e.g. road works)."""

    kind: NetworkKind
    arm_length_m: float = 200.0
    lanes: int = 1
    speed_mps: float = 13.89
    is_signalised: bool = False
    has_sidewalks: bool = False
    grid_size: int = 3
    cycle_s: int = 60
    all_red_s: int = 0  # all-red clearance after each yellow (netconvert --tls.allred.time)
    merge_length_m: float = 150.0
    has_ramp: bool = False


class VehicleSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One scripted vehicle. ``is_connected`` ``None`` means "drawn from connected_share"."""

    id: str
    route: tuple[str, ...]
    depart_s: float = 0.0
    depart_pos_m: float = 0.0
    depart_speed_mps: float = 0.0
    depart_lane: int | None = None
    vtype: VehicleType = "car"
    max_speed_mps: float | None = None
    is_connected: bool | None = None


class FlowSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A steady stream of identical vehicles along ``route``: one every ``period_s`` from
    ``begin_s`` to ``end_s`` (SUMO names them ``<id>.0``, ``<id>.1``, ...)."""

    id: str
    route: tuple[str, ...]
    begin_s: float = 0.0
    end_s: float
    period_s: float
    depart_speed_mps: float = 0.0
    depart_lane: int | None = None
    vtype: VehicleType = "car"


class PedestrianSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One scripted pedestrian walking along ``route`` (node names) from ``depart_pos_m``."""

    id: str
    route: tuple[str, ...]
    depart_s: float = 0.0
    depart_pos_m: float = 0.0
    speed_mps: float = 1.3
    is_careless: bool = False  # steps onto the road without looking (ignores vehicles)
    has_psm: bool = False  # carries a device that sends PSMs (T/CSAE 157-2020) at 10 Hz


class ActionSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A scripted intervention at simulation time ``at_s`` on vehicle ``target``."""

    at_s: float
    target: str
    kind: ActionKind
    speed_mps: float | None = None
    duration_s: float = 0.0
    mode: int | None = None
    lane: int | None = None
    names: tuple[str, ...] = ()


class BackgroundSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Random traffic (seeded): vehicles and pedestrians per hour over the whole network."""

    vehicles_per_hour: float = 0.0
    pedestrians_per_hour: float = 0.0
    emergency_share: float = 0.0
    initial_vehicles: int = 0  # already on the road at time 0 (random free positions)


class PaymentPointSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A roadside payment point (toll gantry, VNFP) at a network node: vehicles within
    ``radius_m`` of it pay ``price_fen`` (0.01 CNY) once per pass."""

    node: str
    gantry_id: int = 1
    radius_m: float = 60.0
    price_fen: int = 500


class ReferenceStationSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A GNSS reference station at a network node sending RTCM corrections every
    ``period_s`` to the platform, which relays them to vehicles within ``range_m``."""

    node: str
    range_m: float = 250.0
    period_s: float = 1.0


class RsuSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A roadside sensor at a network node, perceiving road users within ``range_m``: those
    that send no BSM (a camera feeding an RSM of unconnected road users), or every road user
    with ``perceives_all`` (a roadside radar/lidar, which cannot tell who is connected)."""

    node: str
    range_m: float = 150.0
    perceives_all: bool = False


class SignSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A static traffic sign on the road from node ``road[0]`` to ``road[1]`` (that direction),
    valid over the whole road: the RSU of ``road[1]`` announces it in an RSI once a second
    (``RoadSign`` with the road's lanes as reference path). ``sign_type`` is the GB 5768.2
    code the RSI carries; ``speed_limit_mps`` for speed-limit signs."""

    road: tuple[str, str]
    sign_id: int = 1
    sign_type: int
    speed_limit_mps: float | None = None
    description: str | None = None


class Scenario(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A complete, seeded scenario. Times in seconds of simulation time."""

    name: str
    description: str
    seed: int
    duration_s: float
    network: NetworkSpec
    apps: tuple[str, ...] = ()
    step_s: float = 0.1
    connected_share: float = 1.0
    origin_lat_deg: float = 28.2
    origin_lon_deg: float = 112.9
    is_short: bool = True  # finishes in seconds (``evaluate --short``; CI runs a part of these)
    vehicles: tuple[VehicleSpec, ...] = ()
    flows: tuple[FlowSpec, ...] = ()
    pedestrians: tuple[PedestrianSpec, ...] = ()
    actions: tuple[ActionSpec, ...] = ()
    background: BackgroundSpec = BackgroundSpec()
    rsus: tuple[RsuSpec, ...] = ()
    payment_points: tuple[PaymentPointSpec, ...] = ()  # toll gantries the platform runs (VNFP)
    reference_stations: tuple[ReferenceStationSpec, ...] = ()  # RTCM sources (DGNSS)
    attacks: tuple[AttackSpec, ...] = ()  # misbehaving senders (``sim.attacks``)
    signs: tuple[SignSpec, ...] = ()  # static roadside signs the RSUs announce (IVS)
    # connected vehicles state their intentions (VIR) and follow the platform's coordination
    # (RSC): the closed loop of ``sim.actuation``
    has_intentions: bool = False
    # connected vehicles follow the platform's GLOSA advice (``sim.glosa_effect``); evaluate
    # runs the same traffic again without following it, and reports stops, travel time, fuel
    # and CO2 with and without
    follows_glosa: bool = False


def load_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file.

    Raises ``SimulationError`` naming the file and the offending field.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SimulationError(f"scenario {path}: cannot read: {exc}") from exc
    try:
        scenario = msgspec.convert(raw, Scenario)
    except msgspec.ValidationError as exc:
        raise SimulationError(f"scenario {path}: {exc}") from exc
    _check(scenario, path)
    return scenario


def _check(scenario: Scenario, path: Path) -> None:
    ids = [v.id for v in scenario.vehicles] + [p.id for p in scenario.pedestrians]
    flows = [f.id for f in scenario.flows]
    if len(ids + flows) != len(set(ids + flows)):
        raise SimulationError(f"scenario {path}: participant ids must be unique, got {ids}")
    for action in scenario.actions:
        if action.target not in ids:
            raise SimulationError(
                f"scenario {path}: action at {action.at_s} s targets unknown id {action.target!r}"
            )
    for flow in scenario.flows:
        if flow.period_s <= 0 or flow.end_s < flow.begin_s:
            raise SimulationError(
                f"scenario {path}: flow {flow.id!r} needs period_s > 0 and end_s >= begin_s"
            )
    for attack in scenario.attacks:
        if not 0.0 <= attack.share <= 1.0:
            raise SimulationError(
                f"scenario {path}: attack {attack.kind} share must be within 0..1"
            )
    sign_ids = [s.sign_id for s in scenario.signs]
    if len(sign_ids) != len(set(sign_ids)) or not all(0 <= k <= 255 for k in sign_ids):
        raise SimulationError(
            f"scenario {path}: sign ids must be unique and 0..255, got {sign_ids}"
        )
    if not 0.0 <= scenario.connected_share <= 1.0:
        raise SimulationError(f"scenario {path}: connected_share must be within 0..1")
    if scenario.duration_s <= 0 or scenario.step_s <= 0:
        raise SimulationError(f"scenario {path}: duration_s and step_s must be positive")


def _library_dir() -> Path:
    return Path(str(resources.files("v2xcloud.sim") / "scenarios"))


def attack_library_names() -> list[str]:
    """Names of the scenarios for misbehaviour detection (``scenarios/attacks``), sorted:
    traffic and roadside sensors only; the attacks come from ``evaluate --attacks``."""
    return sorted(p.stem for p in (_library_dir() / "attacks").glob("*.toml"))


def load_attack_library(name: str = "all") -> list[Scenario]:
    """Load one misbehaviour scenario by name, or all of them (``"all"``).

    Raises ``SimulationError`` listing the known names if unknown.
    """
    names = attack_library_names()
    if name == "all":
        return [load_scenario(_library_dir() / "attacks" / f"{n}.toml") for n in names]
    if name not in names:
        raise SimulationError(
            f"unknown attack scenario {name!r}; choose one of: all, {', '.join(names)}"
        )
    return [load_scenario(_library_dir() / "attacks" / f"{name}.toml")]


def library_names() -> list[str]:
    """Names of the scenarios shipped with the package, sorted."""
    return sorted(p.stem for p in _library_dir().glob("*.toml"))


def load_library(name: str = "all") -> list[Scenario]:
    """Load one library scenario by name, or all of them (``"all"``).

    Raises ``ConfigError``-style ``SimulationError`` listing the known names if unknown.
    """
    names = library_names()
    if name == "all":
        return [load_scenario(_library_dir() / f"{n}.toml") for n in names]
    if name not in names:
        raise SimulationError(f"unknown scenario {name!r}; choose one of: all, {', '.join(names)}")
    return [load_scenario(_library_dir() / f"{name}.toml")]
