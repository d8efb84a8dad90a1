"""Drive SUMO through libsumo: build the scenario, step it, apply hazards, read ground truth.

libsumo runs one simulation per process; :class:`SumoBridge` refuses a second concurrent
start. Per-vehicle state is read through subscriptions (one call per step for all vehicles).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from v2xcloud.errors import SimulationError
from v2xcloud.sim import _hazards
from v2xcloud.sim.network import build_network
from v2xcloud.sim.scenario import ActionSpec, Scenario
from v2xcloud.sim.snapshot import Snapshot, TlsState
from v2xcloud.sim.traffic import write_routes

__all__ = ["SumoBridge"]

logger = logging.getLogger(__name__)

_V = (
    0x42,
    0x40,
    0x43,
    0x72,
    0x44,
    0x4D,
    0x5B,
    0x51,
    0x4F,
    0x8C,
)  # pos speed angle acc len wid sig lane type time-loss
_P = (0x42, 0x40, 0x43)  # position, speed, angle


class SumoBridge:
    """A running SUMO simulation of one scenario, stepped by the caller.

    ``work_dir`` receives the generated network, routes and SUMO's SSM/collision output;
    ``has_ssm`` False leaves SUMO's conflict device off (benchmarks of the chain alone);
    ``has_trips`` writes SUMO's trip records with every vehicle's emissions to ``trip_path``
    (``--tripinfo-output``, unfinished trips too; the emissions device on every vehicle).
    Raises ``SimulationError`` if SUMO cannot start or another bridge is running.
    """

    _active: ClassVar[bool] = False

    def __init__(
        self, *, scenario: Scenario, work_dir: Path, has_ssm: bool = True, has_trips: bool = False
    ) -> None:
        self.scenario = scenario
        self.has_ssm = has_ssm
        self.has_trips = has_trips
        self.work_dir = work_dir
        self.net_path = work_dir / "net.net.xml"
        self.ssm_path = work_dir / "ssm.xml"
        self.collision_path = work_dir / "collisions.xml"
        self.trip_path = work_dir / "trips.xml"
        self._sumo: Any = None
        self._pending = sorted(scenario.actions, key=lambda a: a.at_s)
        self._departed: set[str] = set()
        self._just_departed: tuple[str, ...] = ()
        self.vehicle_events: dict[str, frozenset[str]] = {}
        self.forced_signals: dict[str, int] = {}
        self.unknown_turns = 0  # next_turn asked of a vehicle SUMO could not answer for
        self._max_speeds = {
            v.id: v.max_speed_mps for v in scenario.vehicles if v.max_speed_mps is not None
        }

    def start(self) -> None:
        """Generate network and traffic, then start SUMO."""
        if SumoBridge._active:
            raise SimulationError("a SUMO bridge is already running in this process; close it")
        build_network(self.scenario.network, self.work_dir)
        routes = write_routes(self.scenario, self.work_dir)
        import libsumo  # deferred: loading libsumo is slow and prints a pyarrow note

        try:
            libsumo.start(self._command(routes))
        except libsumo.TraCIException as exc:
            raise SimulationError(f"SUMO failed to start {self.scenario.name}: {exc}") from exc
        self._sumo = libsumo
        SumoBridge._active = True

    def _command(self, routes: Path) -> list[str]:
        sc = self.scenario
        return [
            "sumo", "-n", str(self.net_path), "-r", str(routes),
            "--step-length", f"{sc.step_s}", "--seed", str(sc.seed),
            "--end", f"{sc.duration_s}", "--no-step-log", "true", "--no-warnings", "true",
            "--device.ssm.probability", "1" if self.has_ssm else "0",
            "--device.ssm.measures", "TTC DRAC PET",
            "--device.ssm.thresholds", "3.0 3.0 2.0", "--device.ssm.range", "80",
            "--device.ssm.trajectories", "true", "--device.ssm.file", str(self.ssm_path),
            "--collision-output", str(self.collision_path), "--collision.action", "warn",
            "--collision.check-junctions", "true", "--time-to-teleport", "-1",
            "--ignore-route-errors", "true",  # background trips without a path are dropped
        ] + (["--tripinfo-output", str(self.trip_path),
              "--tripinfo-output.write-unfinished", "true",
              "--device.emissions.probability", "1"] if self.has_trips else [])  # fmt: skip

    def step(self) -> Snapshot:
        """Advance one step, apply the hazard actions now due, and return the ground truth."""
        if self._sumo is None:
            raise SimulationError("bridge not started; call start() first")
        traci = self._sumo
        try:
            traci.simulationStep()
        except (traci.TraCIException, traci.FatalTraCIError) as exc:
            raise SimulationError(f"SUMO failed in {self.scenario.name}: {exc}") from exc
        self._just_departed = traci.simulation.getDepartedIDList()
        for vid in self._just_departed:
            traci.vehicle.subscribe(vid, _V)
            if vid in self._max_speeds:
                traci.vehicle.setMaxSpeed(vid, self._max_speeds[vid])
        self._apply_due(traci, traci.simulation.getTime())
        snap = self._snapshot(traci)
        for vid in self._just_departed:  # insertion is no real acceleration: unavailable
            k = snap.index.get(vid)
            if k is not None:
                snap.accel_mps2[k] = np.nan
        for vid, bits in self.forced_signals.items():
            k = snap.index.get(vid)
            if k is not None:
                snap.signals[k] |= bits
                traci.vehicle.setSignals(vid, int(snap.signals[k]))
        return snap

    def _apply_due(self, traci: Any, now_s: float) -> None:
        """Apply due actions; one whose vehicle has not been inserted yet (busy road) waits."""
        self._departed.update(traci.simulation.getDepartedIDList())
        waiting = []
        for action in self._pending:
            if action.at_s > now_s + 1e-9:
                waiting.append(action)
            elif action.target in self._departed:
                _hazards.apply(traci, action, self.vehicle_events, self.forced_signals)
            else:
                waiting.append(action)
        self._pending = waiting

    @property
    def unapplied_actions(self) -> list[ActionSpec]:
        """Actions still waiting (their vehicle never got onto the road); reported, not lost."""
        return list(self._pending)

    def _snapshot(self, traci: Any) -> Snapshot:
        vres = traci.vehicle.getAllSubscriptionResults()
        pids = traci.person.getIDList()
        pres = {
            p: {
                k: f(p)
                for k, f in zip(
                    _P,
                    (traci.person.getPosition, traci.person.getSpeed, traci.person.getAngle),
                    strict=True,
                )
            }
            for p in pids
        }
        ids = list(vres) + list(pids)
        n_v = len(vres)
        rows = list(vres.values())
        pos = [r[0x42] for r in rows] + [pres[p][0x42] for p in pids]
        xy = np.array(pos, dtype=np.float64).reshape(-1, 2)
        vals = [r[0x40] for r in rows] + [pres[p][0x40] for p in pids]
        angle = [r[0x43] for r in rows] + [pres[p][0x43] for p in pids]
        zeros = [0.0] * len(pids)
        collisions = tuple((c.collider, c.victim) for c in traci.simulation.getCollisions())
        return Snapshot(
            time_s=traci.simulation.getTime(),
            ids=ids,
            is_pedestrian=np.arange(len(ids)) >= n_v,
            x_m=xy[:, 0],
            y_m=xy[:, 1],
            speed_mps=np.array(vals, dtype=np.float64),
            heading_deg=np.array(angle, dtype=np.float64) % 360.0,
            accel_mps2=np.array([r[0x72] for r in rows] + zeros, dtype=np.float64),
            length_m=np.array([r[0x44] for r in rows] + [0.4] * len(pids), dtype=np.float64),
            width_m=np.array([r[0x4D] for r in rows] + [0.6] * len(pids), dtype=np.float64),
            signals=np.array([r[0x5B] for r in rows] + [0] * len(pids), dtype=np.int64),
            lane_ids=[r[0x51] for r in rows] + [""] * len(pids),
            vtypes=[r[0x4F] for r in rows] + ["ped"] * len(pids),
            tls=self._tls(traci),
            collisions=collisions,
            time_loss_s=np.array([r[0x8C] for r in rows] + zeros, dtype=np.float64),
        )

    def _tls(self, traci: Any) -> tuple[TlsState, ...]:
        return tuple(
            TlsState(
                tls_id=t,
                state=traci.trafficlight.getRedYellowGreenState(t),
                next_switch_s=traci.trafficlight.getNextSwitch(t),
                phase_index=traci.trafficlight.getPhase(t),
            )
            for t in traci.trafficlight.getIDList()
        )

    def controlled_links(self) -> dict[str, list[tuple[str, str]]]:
        """Per traffic light: (incoming lane, outgoing lane) for each signal index."""
        traci = self._sumo
        return {
            t: [
                links[0][:2] if links else ("", "")
                for links in traci.trafficlight.getControlledLinks(t)
            ]
            for t in traci.trafficlight.getIDList()
        }

    def next_turn(self, vid: str) -> tuple[str, float, float] | None:
        """Vehicle ``vid``'s next junction on its route: (SUMO link direction: ``s`` straight,
        ``l``/``L`` left, ``r``/``R`` right, ``t`` U-turn; metres to it along its lane; the
        speed it means to drive there, m/s: the lane's limit times its own speed factor),
        ``None`` inside a junction, with no junction ahead, or for a
        vehicle SUMO no longer has."""
        traci = self._sumo
        if traci is None:
            return None
        try:
            lane = traci.vehicle.getLaneID(vid)
            if not lane or lane.startswith(":"):
                return None
            links = traci.vehicle.getNextLinks(vid)
            if not links:
                return None
            to_m = traci.lane.getLength(lane) - traci.vehicle.getLanePosition(vid)
            return str(links[0][6]), float(to_m), float(traci.vehicle.getAllowedSpeed(vid))
        except traci.TraCIException as exc:
            if not self.unknown_turns:
                logger.info("next turn of %s unknown (first of such): %s", vid, exc)
            self.unknown_turns += 1
            return None

    @property
    def traci(self) -> Any:
        """The running simulation's TraCI interface (libsumo), for the bench's controllers.

        Raises ``SimulationError`` before ``start`` or after ``close``."""
        if self._sumo is None:
            raise SimulationError("bridge not started; call start() first")
        return self._sumo

    @property
    def is_running(self) -> bool:
        """True until the scenario's end time or until all traffic has left."""
        traci = self._sumo
        return traci is not None and traci.simulation.getTime() < self.scenario.duration_s - 1e-9

    def close(self) -> None:
        """Stop SUMO and flush its output files (SSM, collisions). Safe to call twice."""
        if self._sumo is not None:
            self._sumo.close()
            self._sumo = None
            SumoBridge._active = False
