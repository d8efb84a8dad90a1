"""Charging scheduler: assign vehicles that need charge to stations (ports, queue, detour).

Two strategies, evaluated by the same first-come-first-served port simulation:

- ``nearest``: every vehicle drives to its nearest reachable station (the baseline);
- ``balanced``: vehicles, in order of when they could reach their nearest station, each pick
  the reachable station where they would *finish charging* earliest given the ports already
  booked — trading a detour against a queue. ``max_detour_km`` caps the extra distance.

A vehicle that can reach no station is reported as unserved. Times are seconds from now.
"""

from __future__ import annotations

import heapq

import msgspec

from v2xcloud.errors import ConfigError
from v2xcloud.ev.charging import Charger, VehicleEnergy, charging_warning, distances_km
from v2xcloud.model.ev import EvReport
from v2xcloud.model.ev_fleet import ChargePlan, PlannedCharge

__all__ = [
    "Assignment",
    "ChargeRequest",
    "ScheduleResult",
    "compare_strategies",
    "requests_from_reports",
    "schedule",
]


class ChargeRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A vehicle needing charge: where it is, energy it has and energy to charge (kWh)."""

    vin: str
    lat_deg: float
    lon_deg: float
    energy_kwh: float
    charge_kwh: float


#: the model's names for a planned charge and a strategy's outcome (one definition, in model)
Assignment = PlannedCharge
ScheduleResult = ChargePlan


class _Plan(msgspec.Struct, frozen=True):
    req: ChargeRequest
    station: int
    road_km: float
    detour_km: float


def _road_km(
    reqs: list[ChargeRequest], chargers: list[Charger], detour_factor: float
) -> list[list[float]]:
    # plain floats: the plan is encoded as JSON (numpy scalars are not)
    return [(distances_km(r.lat_deg, r.lon_deg, chargers) * detour_factor).tolist() for r in reqs]


def _simulate(plans: list[_Plan], chargers: list[Charger], speed_kmh: float) -> list[Assignment]:
    """FIFO per station: each arrival takes the earliest free port."""
    ports = [[0.0] * c.ports for c in chargers]
    order = sorted(plans, key=lambda p: p.road_km / speed_kmh)
    out = []
    for p in order:
        arrive = p.road_km / speed_kmh * 3600
        free = heapq.heappop(ports[p.station])
        start = max(arrive, free)
        charge = p.req.charge_kwh / chargers[p.station].power_kw * 3600
        heapq.heappush(ports[p.station], start + charge)
        out.append(
            Assignment(
                vin=p.req.vin,
                charger_id=chargers[p.station].id,
                road_km=round(p.road_km, 3),
                detour_km=round(p.detour_km, 3),
                arrive_s=round(arrive, 1),
                wait_s=round(start - arrive, 1),
                charge_s=round(charge, 1),
            )
        )
    return out


def _choose(
    req: ChargeRequest,
    dist: list[float],
    reachable: list[int],
    booked: list[list[float]],
    chargers: list[Charger],
    speed_kmh: float,
    strategy: str,
) -> int:
    if strategy == "nearest":
        return min(reachable, key=lambda j: dist[j])

    def done(j: int) -> float:
        arrive = dist[j] / speed_kmh * 3600
        return max(arrive, booked[j][0]) + req.charge_kwh / chargers[j].power_kw * 3600

    return min(reachable, key=done)


def schedule(
    requests: list[ChargeRequest],
    chargers: list[Charger],
    *,
    strategy: str = "balanced",
    speed_kmh: float = 40.0,
    consumption_kwh_per_km: float = 0.16,
    detour_factor: float = 1.3,
    max_detour_km: float = 15.0,
) -> ScheduleResult:
    """Assign ``requests`` to ``chargers`` with ``strategy`` (``"nearest"`` or ``"balanced"``)."""
    if strategy not in ("nearest", "balanced"):
        raise ConfigError(f"unknown strategy {strategy!r}; use 'nearest' or 'balanced'")
    dists = _road_km(requests, chargers, detour_factor)
    booked = [[0.0] * c.ports for c in chargers]
    plans, unserved = [], []
    for k in sorted(range(len(requests)), key=lambda k: min(dists[k])):
        req, dist = requests[k], dists[k]
        nearest = min(dist)
        reachable = [
            j
            for j, d in enumerate(dist)
            if d * consumption_kwh_per_km <= req.energy_kwh and d - nearest <= max_detour_km
        ]
        if not reachable:
            unserved.append(req.vin)
            continue
        j = _choose(req, dist, reachable, booked, chargers, speed_kmh, strategy)
        start = max(dist[j] / speed_kmh * 3600, heapq.heappop(booked[j]))
        heapq.heappush(booked[j], start + req.charge_kwh / chargers[j].power_kw * 3600)
        plans.append(_Plan(req, j, dist[j], dist[j] - nearest))
    return _summary(strategy, _simulate(plans, chargers, speed_kmh), unserved)


def _summary(strategy: str, done: list[Assignment], unserved: list[str]) -> ScheduleResult:
    n = max(len(done), 1)
    return ScheduleResult(
        strategy=strategy,
        assignments=tuple(done),
        unserved=tuple(unserved),
        mean_wait_s=round(sum(a.wait_s for a in done) / n, 1),
        max_wait_s=max((a.wait_s for a in done), default=0.0),
        mean_done_s=round(sum(a.arrive_s + a.wait_s + a.charge_s for a in done) / n, 1),
        mean_detour_km=round(sum(a.detour_km for a in done) / n, 3),
    )


def compare_strategies(
    requests: list[ChargeRequest], chargers: list[Charger], **settings: float
) -> tuple[ScheduleResult, ScheduleResult]:
    """``(nearest, balanced)`` for the same requests, for reporting waiting time side by side."""
    return (
        schedule(requests, chargers, strategy="nearest", **settings),
        schedule(requests, chargers, strategy="balanced", **settings),
    )


def requests_from_reports(
    reports: list[EvReport],
    chargers: list[Charger],
    *,
    energy: VehicleEnergy | None = None,
    target_soc_pct: float = 80.0,
) -> list[ChargeRequest]:
    """Charge requests for the vehicles whose latest report warns (advise/warning/critical).

    Each asks for the energy from its SOC up to ``target_soc_pct``.
    """
    e = energy or VehicleEnergy()
    latest: dict[str, EvReport] = {}
    for r in reports:
        if r.vin not in latest or r.collected_at_ms > latest[r.vin].collected_at_ms:
            latest[r.vin] = r
    out = []
    for r in latest.values():
        w = charging_warning(r, chargers, energy=e)
        if w is None or w.level == "ok" or r.position is None:
            continue
        assert r.position.lat_deg is not None and r.position.lon_deg is not None
        out.append(
            ChargeRequest(
                vin=r.vin,
                lat_deg=r.position.lat_deg,
                lon_deg=r.position.lon_deg,
                energy_kwh=w.energy_kwh,
                charge_kwh=max(0.0, (target_soc_pct - w.soc_pct) / 100 * e.battery_kwh),
            )
        )
    return out
