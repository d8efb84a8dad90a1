"""The V2V safety applications together over a synthetic Manhattan grid: CPU per frame.

Usage::

    .venv/bin/python benchmarks/apps.py                    # every size, latency at 1,000
    .venv/bin/python benchmarks/apps.py --sizes 100 1000 --frames 30

The road: a square grid of streets 150 m apart, two lanes each way (lane centres 1.75 m and
5.25 m from the street axis), vehicles 22 m apart in every lane at 6–14 m/s (one speed per
lane), driving straight through unsignalised crossings; pedestrians walk on the pavements
and across streets. Everything is seeded. Each frame (10 Hz) every participant sends one
report (BSM, PSM for pedestrians); the runtime ingests them and ticks: the scene update plus
all ten applications (eleven app objects: BSW and LCW are separate). Figures are CPU time of
this process (``time.process_time``, one core); the machine is shared, so they vary.

The latency part runs 1,000 participants at 10 Hz with each report arriving at a random
moment within the 100 ms period after 10–30 ms in transit, and reports arrival → advisory
leaving the tick (p50/p99) as the runtime measures it: the wait for the next tick plus the
tick's processing. Three tick modes: full ticks every 100 ms and every 50 ms (every pair
evaluated each tick), and incremental ticks every 25 ms (``Scene(focus_refresh_ms=150)``:
each tick evaluates the pairs touching fresh reports). ``cpu_ms_per_100ms`` is what each
mode costs per 100 ms of traffic. With full ticks a hazard that appears by extrapolation is
counted from the newest report of the pair, so their p50 stays near half a report period
whatever the tick; incremental ticks only act on fresh reports.

``--map`` runs each size a second time with a MAP of every crossing (each street's lanes into
it as ingress lanes ending 12 m before the crossing's centre, each going straight, left and
right to the exit lanes beyond it; ``twin.movements`` then predicts ICW/LTA along these
movements) and prints that run's CPU beside the first as a ratio (same process, same traffic).

The garbage collector matters at 10,000: the scene releases each tick's pair tables
(``SceneView.release``), and ``Advisory``/``ParticipantState`` are untracked (``gc=False``),
so full collections no longer land in the ticks.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass

import numpy as np

from v2xcloud.apps import V2V_APPS
from v2xcloud.model import (
    Connection,
    Lane,
    MapData,
    MapLink,
    MapNode,
    NodeId,
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
)
from v2xcloud.runtime import Runtime
from v2xcloud.twin.testing import TEST_FRAME

BLOCK_M = 150.0
SPACING_M = 22.0
LANE_OFFSETS_M = (1.75, 5.25)
T0_MS = 1_700_000_000_000


@dataclass
class Fleet:
    """Movers in local metres: positions, velocities, kinds; moved with ``advance``."""

    x: np.ndarray
    y: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    ids: list[str]
    is_ped: np.ndarray

    def advance(self, dt_s: float) -> None:
        self.x = self.x + self.vx * dt_s
        self.y = self.y + self.vy * dt_s


def manhattan(vehicles: int, pedestrians: int, seed: int) -> Fleet:
    """``vehicles`` picked from every 22 m lane slot of a grid just large enough, + pedestrians."""
    rng = np.random.default_rng(seed)
    streets = max(1, math.ceil(math.sqrt(vehicles * SPACING_M / (8 * BLOCK_M))))
    side_m = streets * BLOCK_M
    xs, ys, vxs, vys = [], [], [], []
    slots = np.arange(0.0, side_m, SPACING_M)
    for k in range(streets):
        axis = k * BLOCK_M + BLOCK_M / 2
        for sign in (1.0, -1.0):  # +: north/east bound on the right of the axis
            for offset in LANE_OFFSETS_M:
                for vertical in (True, False):
                    speed = rng.uniform(6.0, 14.0)
                    along = (slots + rng.uniform(0, SPACING_M)) % side_m
                    across = np.full(slots.size, axis + sign * offset * (1 if vertical else -1))
                    if vertical:  # north/south street
                        xs.append(across), ys.append(along)
                        (
                            vxs.append(np.zeros(slots.size)),
                            vys.append(np.full(slots.size, sign * speed)),
                        )
                    else:
                        xs.append(along), ys.append(across)
                        (
                            vxs.append(np.full(slots.size, sign * speed)),
                            vys.append(np.zeros(slots.size)),
                        )
    x, y, vx, vy = (np.concatenate(a) for a in (xs, ys, vxs, vys))
    pick = rng.choice(x.size, size=min(vehicles, x.size), replace=False)
    x, y, vx, vy = x[pick], y[pick], vx[pick], vy[pick]
    ped = _pedestrians(rng, pedestrians, streets)
    ids = [f"{k:016x}" for k in range(x.size)] + [f"ped{k:05d}" for k in range(pedestrians)]
    return Fleet(
        x=np.concatenate([x, ped[0]]),
        y=np.concatenate([y, ped[1]]),
        vx=np.concatenate([vx, ped[2]]),
        vy=np.concatenate([vy, ped[3]]),
        ids=ids,
        is_ped=np.concatenate([np.zeros(x.size, bool), np.ones(pedestrians, bool)]),
    )


def _pedestrians(rng: np.random.Generator, n: int, streets: int) -> tuple[np.ndarray, ...]:
    """Half walk along a pavement (9 m off the axis), half cross a street."""
    axis = rng.integers(0, streets, n) * BLOCK_M + BLOCK_M / 2
    along = rng.uniform(0, streets * BLOCK_M, n)
    crossing = np.arange(n) % 2 == 1
    x = np.where(crossing, axis - 9.0, axis + 9.0)
    vx = np.where(crossing, 1.3, 0.0)
    vy = np.where(crossing, 0.0, 1.4)
    return x, along, vx, vy


def grid_map(streets: int, *, half_box_m: float = 12.0, lane_m: float = 50.0) -> list[MapData]:
    """One MAP per crossing of the ``manhattan`` grid (module docstring)."""
    out = []
    turns = ("maneuverStraightAllowed", "maneuverLeftAllowed", "maneuverRightAllowed")

    def ll(x: float, y: float) -> tuple[float, float]:
        lat, lon = TEST_FRAME.to_wgs84(x, y)
        return float(lat), float(lon)

    # unit vectors of the four directions of travel (east, north, west, south) and their rights
    dirs = [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)]
    for i in range(streets):
        for j in range(streets):
            cx, cy = i * BLOCK_M + BLOCK_M / 2, j * BLOCK_M + BLOCK_M / 2
            node = NodeId(region=1, id=i * streets + j + 1)
            ingress, egress = [], []
            for d, (ux, uy) in enumerate(dirs):
                rx, ry = uy, -ux  # right of the direction of travel
                for k, off in enumerate(LANE_OFFSETS_M):
                    ax, ay = cx - ux * half_box_m + rx * off, cy - uy * half_box_m + ry * off
                    bx, by = cx + ux * half_box_m + rx * off, cy + uy * half_box_m + ry * off
                    out_id = 100 + 10 * d + k
                    egress.append(
                        Lane(
                            lane_id=out_id,
                            lane_type="vehicle",
                            points=(ll(bx, by), ll(bx + ux * lane_m, by + uy * lane_m)),
                        )
                    )
                    # exits: straight on (same direction), left (d + 1), right (d - 1)
                    conns = tuple(
                        Connection(
                            remote_node=node,
                            remote_lane_id=100 + 10 * ((d + turn) % 4) + k,
                            maneuvers=frozenset({name}),
                        )
                        for turn, name in zip((0, 1, 3), turns, strict=True)
                    )
                    lane = Lane(
                        lane_id=10 * d + k + 1,
                        lane_type="vehicle",
                        maneuvers=frozenset(turns),
                        connections=conns,
                        points=(ll(ax - ux * lane_m, ay - uy * lane_m), ll(ax, ay)),
                    )
                    ingress.append(
                        MapLink(upstream_node=NodeId(region=1, id=10_000 + d), lanes=(lane,))
                    )
            links = (*ingress, MapLink(upstream_node=node, name="egress", lanes=tuple(egress)))
            lat, lon = ll(cx, cy)
            out.append(
                MapData(
                    msg_count=1,
                    nodes=(MapNode(id=node, lat_deg=lat, lon_deg=lon, in_links=links),),
                )
            )
    return out


def reports(fleet: Fleet, t_ms: int) -> list[ParticipantState]:
    """One report per participant at ``t_ms`` (the codec's output, built outside the timing)."""
    lat, lon = TEST_FRAME.to_wgs84(fleet.x, fleet.y)
    speed = np.hypot(fleet.vx, fleet.vy)
    heading = np.mod(np.degrees(np.arctan2(fleet.vx, fleet.vy)), 360.0)
    out = []
    for k, pid in enumerate(fleet.ids):
        ped = bool(fleet.is_ped[k])
        out.append(
            ParticipantState(
                id=pid,
                kind=ParticipantKind.PEDESTRIAN if ped else ParticipantKind.VEHICLE,
                source=ParticipantSource.PSM if ped else ParticipantSource.BSM,
                timestamp_ms=t_ms,
                lat_deg=float(lat[k]),
                lon_deg=float(lon[k]),
                elevation_m=20.0,
                speed_mps=float(speed[k]),
                heading_deg=float(heading[k]),
                length_m=0.5 if ped else 4.6,
                width_m=0.5 if ped else 1.8,
            )
        )
    return out


def throughput(
    vehicles: int, pedestrians: int, frames: int, seed: int, *, with_map: bool = False
) -> dict[str, float]:
    """CPU ms per 10 Hz frame (ingest every report + tick), after two warm-up frames."""
    fleet = manhattan(vehicles, pedestrians, seed)
    streets = max(1, math.ceil(math.sqrt(vehicles * SPACING_M / (8 * BLOCK_M))))
    batches = []
    for f in range(frames + 2):
        batches.append(reports(fleet, T0_MS + 100 * f))
        fleet.advance(0.1)
    runtime = Runtime(frame=TEST_FRAME, apps=[cls() for cls in V2V_APPS])
    if with_map:
        for message in grid_map(streets):
            runtime.ingest(message, received_at_ms=T0_MS, source="rsu")
    ingest_ms, tick_ms, advisories = [], [], 0
    for f, batch in enumerate(batches):
        now = T0_MS + 100 * f + 40
        c0 = time.process_time()
        for state in batch:
            runtime.ingest(state, received_at_ms=now - 20, source="gw")
        c1 = time.process_time()
        out = runtime.tick(now)
        c2 = time.process_time()
        if f >= 2:
            ingest_ms.append((c1 - c0) * 1000)
            tick_ms.append((c2 - c1) * 1000)
            advisories += len(out)
    n = len(fleet.ids)
    per_frame = [a + b for a, b in zip(ingest_ms, tick_ms, strict=True)]
    median = statistics.median(per_frame)
    return {
        "participants": n,
        "ms_per_frame": median,
        "ms_per_frame_p90": float(np.percentile(per_frame, 90)),
        "ingest_ms": statistics.median(ingest_ms),
        "tick_ms": statistics.median(tick_ms),
        "updates_per_s": n / (median / 1000.0),
        "advisories_per_frame": advisories / len(per_frame),
    }


#: incremental ticks: a row out of focus this long is evaluated anyway (extrapolated)
FOCUS_REFRESH_MS = 150


def latency(
    vehicles: int, seconds: float, seed: int, tick_ms: int = 100, incremental: bool = False
) -> dict[str, object]:
    """Arrival → advisory out, p50/p99, with 10 Hz reports arriving spread over each period
    and the runtime ticking every ``tick_ms``.

    Full ticks evaluate every pair each tick; the apps' hold and look-ahead follow the tick.
    Incremental ticks (``Scene(focus_refresh_ms=...)``) evaluate the pairs touching fresh
    reports (or rows out of focus for ``FOCUS_REFRESH_MS``): every pair at least every
    ``FOCUS_REFRESH_MS + tick_ms``, which is then the apps' evaluation period.
    """
    rng = np.random.default_rng(seed + 1)
    fleet = manhattan(vehicles, 0, seed)
    period_ms = FOCUS_REFRESH_MS + tick_ms if incremental else tick_ms
    config = {"tick_ms": period_ms, "lookahead_s": period_ms / 1000}
    apps = [cls(cls.config_type(**config)) for cls in V2V_APPS]
    options = {"focus_refresh_ms": FOCUS_REFRESH_MS} if incremental else None
    runtime = Runtime(frame=TEST_FRAME, apps=apps, scene_options=options)
    n = len(fleet.ids)
    phase = rng.uniform(0, 100, n)
    late: list[tuple[float, int, ParticipantState]] = []  # arrivals after their period's tick
    cpu_s = 0.0
    periods = int(seconds * 10)
    for period in range(periods):
        start = T0_MS + 100 * period
        batch = reports(fleet, start)  # stamped at the start of its period
        arrivals = start + phase + rng.uniform(10, 30, n)
        due = [*late, *((float(arrivals[k]), k, batch[k]) for k in range(n))]
        due.sort(key=lambda item: item[0])
        for now in range(start + tick_ms, start + 101, tick_ms):
            for arrival, k, state in due:
                if now - tick_ms < arrival <= now:
                    runtime.ingest(state, received_at_ms=int(arrival), source=fleet.ids[k])
            c0 = time.process_time()
            runtime.tick(now)
            cpu_s += time.process_time() - c0
        late = [item for item in due if item[0] > start + 100]
        fleet.advance(0.1)
    stats = runtime.stats()
    return {
        "latency_ms": stats["latency_ms"],
        "tick_cpu_ms": stats["tick_ms"],
        "cpu_ms_per_100ms": round(cpu_s * 1000 / periods, 2),
        "advisories": stats["advisories_out"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", nargs="*", default=["10", "30", "100", "100+20", "1000", "10000"]
    )
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--map", action="store_true", help="also run each size with a MAP")
    args = parser.parse_args()
    print(
        f"{'size':>8} {'n':>6} {'ms/frame':>9} {'p90':>7} {'ingest':>7} {'tick':>7} {'updates/s':>11} {'adv/frame':>9}"
    )
    for size in args.sizes:
        vehicles, _, peds = size.partition("+")
        frames = args.frames if int(vehicles) < 5000 else max(5, args.frames // 3)
        r = throughput(int(vehicles), int(peds or 0), frames, args.seed)
        print(
            f"{size:>8} {r['participants']:>6} {r['ms_per_frame']:>9.2f} {r['ms_per_frame_p90']:>7.2f} "
            f"{r['ingest_ms']:>7.2f} {r['tick_ms']:>7.2f} {r['updates_per_s']:>11,.0f} {r['advisories_per_frame']:>9.1f}"
        )
        if args.map:
            m = throughput(int(vehicles), int(peds or 0), frames, args.seed, with_map=True)
            print(
                f"{size + ' MAP':>8} {m['participants']:>6} {m['ms_per_frame']:>9.2f} "
                f"{m['ms_per_frame_p90']:>7.2f} {m['ingest_ms']:>7.2f} {m['tick_ms']:>7.2f} "
                f"{m['updates_per_s']:>11,.0f} {m['advisories_per_frame']:>9.1f}   "
                f"MAP/no MAP {m['ms_per_frame'] / r['ms_per_frame']:.2f}, "
                f"{1000 * m['ms_per_frame'] / m['participants']:.1f} us/update"
            )
    if args.latency_seconds > 0:
        for tick_ms, incremental in ((100, False), (50, False), (25, True)):
            lat = latency(1000, args.latency_seconds, args.seed, tick_ms, incremental)
            kind = "incremental" if incremental else "full"
            print(f"latency at 1,000 participants, 10 Hz reports, {tick_ms} ms {kind} ticks:")
            print(f"    {lat}")


if __name__ == "__main__":
    main()
