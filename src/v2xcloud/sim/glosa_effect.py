"""GLOSA's effect in SUMO: connected vehicles follow the platform's speed advice, and the same
traffic is run again without following it.

``GlosaFollower`` takes each GLOSA advisory the platform issues to a connected vehicle, after
the channel's latency (the advisory's way down to the vehicle), and drives that vehicle by it
through traci: the advisory's band ``advised_min_mps``..``advised_max_mps`` over the distance
it was computed for (``to_stop_m``) is an arrival window at the stop line,
``[issued + to_stop / max, issued + to_stop / min]``; every step the vehicle drives at a
speed that still arrives inside that window from where it is now (SUMO's distance to the
signal): as fast as the driver would go (the lane's limit times its
speed factor) but not faster than arrives at the window's start nor than the advised maximum,
and not slower than still arrives before the window's end; it gets there at a
comfortable rate (``comfort_decel_mps2``/``comfort_accel_mps2``, as a driver following
advice would, not SUMO's emergency braking), with SUMO's safety layer on (speed mode 31: a
vehicle never drives into the one ahead nor through a red light because of advice). A newer
advisory replaces the one followed; the vehicle is released to its driver model when it has
passed the signal's stop line (the next traffic light on its route is another one), when the
advice expired without a refresh, or when no speed in the band can still make the window.

``TripTable`` reads SUMO's own trip records (``--tripinfo-output`` with the emissions device
on every vehicle): travel time (``duration``), stops (``waitingCount``: how often the speed fell
to 0.1 m/s or below from above), fuel and CO2 over the trip (``fuel_abs``, ``CO2_abs``, mg since
SUMO 1.14) from SUMO's default emission model (the vehicle type's default class, HBEFA-based;
the run names the class it saw). ``effect_score`` turns the with-run and the baseline (the
same scenario and seed, vehicles not following) into GLOSA's ``CooperationScore``: per advised
vehicle (the vehicles that received advice in the with-run, compared with themselves in the
baseline) and over every vehicle of the run, the means of stops, travel time, fuel and CO2.
"""

from __future__ import annotations

import heapq
import logging
import math
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from v2xcloud.errors import SimulationError
from v2xcloud.sim.cooperation import CooperationScore, Figure

__all__ = [
    "GlosaFollower",
    "Trip",
    "effect_figures",
    "effect_score",
    "parse_advice",
    "read_trips",
]

logger = logging.getLogger(__name__)

_SPEED_MODE_DEFAULT = 31  # SUMO: safe speed, accel/decel limits, right of way, red lights
_MAX_PENDING = 50_000  # advisories waiting for their delivery time (oldest dropped, counted)
_MAX_ADVISED = 100_000  # vehicles remembered as advised in one run (a run never has more)


@dataclass(frozen=True)
class Advice:
    """One GLOSA advisory as a vehicle receives it: the signal (SUMO traffic light id), the
    arrival window at its stop line (simulation s), the band's top speed and the advice's end."""

    tls: str
    earliest_s: float
    latest_s: float
    max_mps: float
    expires_s: float


def parse_advice(
    values: dict[str, float], other_id: str | None, *, issued_s: float, expires_s: float,
    tls_of_node: dict[int, str],
) -> Advice | None:  # fmt: skip
    """The ``Advice`` in a GLOSA advisory's values (``advised_min_mps``, ``advised_max_mps``,
    ``to_stop_m``) and ``other_id`` (``"node:N/phase:P"``); ``None`` when a value is missing,
    not positive, or the node is not one of the run's traffic lights."""
    try:
        lo, hi = float(values["advised_min_mps"]), float(values["advised_max_mps"])
        to_stop = float(values["to_stop_m"])
        node = int((other_id or "").split("/", 1)[0].removeprefix("node:"))
    except (KeyError, ValueError):
        return None
    tls = tls_of_node.get(node)
    if tls is None or not (0.0 < lo <= hi) or to_stop <= 0 or not math.isfinite(hi):
        return None
    return Advice(
        tls=tls,
        earliest_s=issued_s + to_stop / hi,
        latest_s=issued_s + to_stop / lo,
        max_mps=hi,
        expires_s=expires_s,
    )


class GlosaFollower:
    """Connected vehicles following GLOSA advice in SUMO (see the module docstring).

    ``tls_of_node``: MAP node number → SUMO traffic light id; ``latency_s``: the advisory's
    way to the vehicle. ``advised`` holds the vehicles that followed at least one advisory;
    ``stats`` counts received, followed, released (by reason) and refused commands.
    """

    def __init__(
        self,
        *,
        traci: Any,
        tls_of_node: dict[int, str],
        step_s: float,
        latency_s: float = 0.0,
        comfort_decel_mps2: float = 2.0,
        comfort_accel_mps2: float = 1.5,
    ) -> None:
        self.traci = traci
        self.tls_of_node = tls_of_node
        self.step_s = step_s
        self.latency_s = latency_s
        self.comfort_decel_mps2 = comfort_decel_mps2
        self.comfort_accel_mps2 = comfort_accel_mps2
        self.active: dict[str, Advice] = {}  # vehicle -> the advice it follows
        self.advised: set[str] = set()
        self.stats: Counter[str] = Counter()
        self.emission_class = "-"  # SUMO's emission class of the first vehicle followed
        self._pending: list[tuple[float, int, str, Advice]] = []
        self._seq = 0

    def advise(
        self,
        vehicle: str,
        values: dict[str, float],
        other_id: str | None,
        *,
        issued_s: float,
        expires_s: float,
    ) -> None:
        """A GLOSA advisory for ``vehicle`` (SUMO id) issued at ``issued_s``; it arrives
        ``latency_s`` later. An advisory the follower cannot read is counted and dropped."""
        advice = parse_advice(
            values, other_id, issued_s=issued_s, expires_s=expires_s, tls_of_node=self.tls_of_node
        )
        if advice is None:
            self.stats["unreadable"] += 1
            return
        if len(self._pending) >= _MAX_PENDING:
            heapq.heappop(self._pending)
            self.stats["dropped_pending"] += 1
        self._seq += 1
        heapq.heappush(self._pending, (issued_s + self.latency_s, self._seq, vehicle, advice))
        self.stats["received"] += 1

    def step(self, now_s: float) -> None:
        """Deliver the advisories due at ``now_s``, then hold or release every follower."""
        present = set(self.traci.vehicle.getIDList())
        while self._pending and self._pending[0][0] <= now_s + 1e-9:
            _, _, vid, advice = heapq.heappop(self._pending)
            if vid not in present:
                self.stats["vehicle_gone"] += 1
                continue
            self.active[vid] = advice
            if not self.advised:
                self.emission_class = str(self.traci.vehicle.getEmissionClass(vid))
            if len(self.advised) < _MAX_ADVISED:
                self.advised.add(vid)
            self.stats["followed"] += 1
        for vid in list(self.active):
            if vid not in present:
                del self.active[vid]
                continue
            try:
                reason = self._hold(vid, self.active[vid], now_s)
                if reason is not None:
                    del self.active[vid]
                    self.traci.vehicle.setSpeed(vid, -1.0)
                    self.stats[f"released_{reason}"] += 1
            except self.traci.TraCIException as exc:
                self.active.pop(vid, None)
                if not self.stats["traci_refused"]:
                    logger.warning("SUMO refused a GLOSA speed command for %s: %s", vid, exc)
                self.stats["traci_refused"] += 1

    def _hold(self, vid: str, advice: Advice, now_s: float) -> str | None:
        """Apply ``advice`` to ``vid`` this step; the reason to release it, or ``None``."""
        veh = self.traci.vehicle
        if now_s >= advice.expires_s:
            return "expired"
        ahead = veh.getNextTLS(vid)
        if not ahead or ahead[0][0] != advice.tls:
            return "passed"
        distance = float(ahead[0][2])
        v = float(veh.getSpeed(vid))
        top = advice.max_mps
        if advice.earliest_s > now_s + 1e-3:
            top = min(top, distance / (advice.earliest_s - now_s))
        low = distance / (advice.latest_s - now_s) if advice.latest_s > now_s + 1e-3 else math.inf
        if low > advice.max_mps + 1e-6:
            return "infeasible"  # the window cannot be made any more
        desired = float(veh.getAllowedSpeed(vid)) * float(veh.getSpeedFactor(vid))
        target = max(min(desired, top), min(low, desired))
        if target < v:
            command = max(target, v - self.comfort_decel_mps2 * self.step_s)
        else:
            command = min(target, v + self.comfort_accel_mps2 * self.step_s)
        veh.setSpeed(vid, max(0.0, command))
        return None


@dataclass(frozen=True)
class Trip:
    """One vehicle's trip as SUMO recorded it: travel time (s), stops, fuel and CO2 (g), and
    whether it reached its destination before the run ended."""

    duration_s: float
    stops: int
    fuel_g: float
    co2_g: float
    is_finished: bool


def read_trips(path: Path) -> dict[str, Trip]:
    """SUMO's ``--tripinfo-output`` (with ``--tripinfo-output.write-unfinished`` and the
    emissions device): vehicle id → ``Trip``. Raises ``SimulationError`` naming the file when
    it is missing, corrupt, or a trip lacks its duration, waitingCount or emissions."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise SimulationError(f"trip output {path} unreadable: {exc}") from exc
    out: dict[str, Trip] = {}
    for k, trip in enumerate(root.iter("tripinfo")):
        emissions = trip.find("emissions")
        try:
            if emissions is None:
                raise KeyError("emissions")
            out[trip.attrib["id"]] = Trip(
                duration_s=float(trip.attrib["duration"]),
                stops=int(trip.attrib["waitingCount"]),
                fuel_g=float(emissions.attrib["fuel_abs"]) / 1000.0,
                co2_g=float(emissions.attrib["CO2_abs"]) / 1000.0,
                is_finished=float(trip.attrib.get("arrival", "-1")) >= 0,
            )
        except (KeyError, ValueError) as exc:
            raise SimulationError(
                f"trip output {path}: trip #{k + 1} ({trip.attrib.get('id', '?')}) lacks {exc}"
            ) from exc
    return out


def _means(trips: list[Trip]) -> tuple[float | None, float | None, float | None, float | None]:
    if not trips:
        return None, None, None, None
    n = len(trips)
    return (
        sum(t.stops for t in trips) / n,
        sum(t.duration_s for t in trips) / n,
        sum(t.fuel_g for t in trips) / n,
        sum(t.co2_g for t in trips) / n,
    )


def effect_figures(trips: dict[str, Trip], advised: frozenset[str]) -> tuple[Figure, ...]:
    """Mean stops, travel time, fuel and CO2 of the ``advised`` vehicles and of every vehicle
    (the same names in the with-run and the baseline, so ``with_baseline`` pairs them)."""
    out: list[Figure] = []
    groups = (
        ("advised vehicle", [t for v, t in trips.items() if v in advised]),
        ("vehicle", list(trips.values())),
    )
    for who, rows in groups:
        stops, duration, fuel, co2 = _means(rows)
        out += [
            Figure(name=f"stops per {who}", unit="", value=stops),
            Figure(name=f"travel time per {who}", unit="s", value=duration),
            Figure(name=f"fuel per {who}", unit="g", value=fuel),
            Figure(name=f"CO2 per {who}", unit="g", value=co2),
        ]
    return tuple(out)


def effect_score(
    scenario: str,
    trips: dict[str, Trip],
    advised: frozenset[str],
    *,
    emission_class: str,
    stats: dict[str, int],
) -> CooperationScore:
    """GLOSA's ``CooperationScore`` of one run (``baseline`` filled in by ``with_baseline``)."""
    unfinished = sum(not t.is_finished for v, t in trips.items() if v in advised)
    followed = stats.get("followed", 0)
    released = ", ".join(
        f"{k.removeprefix('released_')} {v}" for k, v in sorted(stats.items())
        if k.startswith("released_")
    )  # fmt: skip
    outcome = (
        f"{len(advised)} connected vehicles followed {followed} GLOSA advisories "
        f"(released: {released or 'none'}; {unfinished} still driving at the end); "
        f"emission class {emission_class}"
        if advised
        else "no action: no vehicle received GLOSA advice"
    )
    return CooperationScore(
        app="GLOSA", scenario=scenario, outcome=outcome, figures=effect_figures(trips, advised)
    )
