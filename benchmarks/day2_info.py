"""The cost of the information-sharing Day-2 apps per tick, against a Day-1 app in the same run.

Usage::

    .venv/bin/python benchmarks/day2_info.py                 # 100, 1,000 and 5,000 vehicles
    .venv/bin/python benchmarks/day2_info.py --sizes 1000 --ticks 50

A straight multi-lane road 2 km long per 1,000 vehicles, connected vehicles (BSM) every 10 m
in four lanes at 10-20 m/s, and one unconnected road user seen by a roadside sensor (RSM)
every 40 m, seeded. One scene update per tick; then, on that same view, the CPU time
(``time.process_time``, this process) of: sensor data sharing (SDS: relevance of every
perceived object to every vehicle, one SSM per vehicle with something to share), the RTCM
relay (DGNSS, one correction a tick to the vehicles within 250 m of a station every 500 m)
and, for scale, forward collision warning (FCW). Prints ms per tick (median over ``--ticks``)
and each app's time as a ratio to FCW's in the same run (the machine is shared: compare the
ratios, not the absolute figures).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from v2xcloud.apps import ForwardCollisionWarning
from v2xcloud.apps.day2 import DifferentialPositioning, Request, SensorDataSharing
from v2xcloud.model import ParticipantSource, Rsm
from v2xcloud.model.day2 import ReferenceStation, Rtcm
from v2xcloud.twin import Scene
from v2xcloud.twin.testing import TEST_FRAME, bsm_at, state_at

RSU = "5200000000000001"


def _scene(n: int, t_ms: int, rng: np.random.Generator) -> Scene:
    scene = Scene(TEST_FRAME)
    length = 2000.0 * max(1, n // 1000)
    for k in range(n):
        x = (k // 4) * 10.0 % length
        y = 3.5 * (k % 4)
        scene.ingest(
            bsm_at(f"{k:016x}", x_m=x, y_m=y, t_ms=t_ms, speed_mps=float(rng.uniform(10, 20)),
                   heading_deg=90.0),
            received_at_ms=t_ms, source=f"obu{k}",
        )  # fmt: skip
    objects = [
        state_at(f"{RSU}/{j + 1}", x_m=20.0 + 40.0 * j, y_m=-3.0, t_ms=t_ms,
                 source=ParticipantSource.RSM, sender_id=RSU, speed_mps=1.0)
        for j in range(int(length // 40.0))
    ]  # fmt: skip
    lat, lon = TEST_FRAME.to_wgs84(0.0, 0.0)
    for start in range(0, len(objects), 16):
        rsm = Rsm(msg_count=1, rsu_id=RSU, ref_lat_deg=float(lat), ref_lon_deg=float(lon),
                  participants=tuple(objects[start : start + 16]))  # fmt: skip
        scene.ingest(rsm, received_at_ms=t_ms, source=RSU)
    return scene


def _stations(n: int) -> list[Request]:
    out = []
    for k in range(max(1, n // 250)):
        lat, lon = TEST_FRAME.to_wgs84(500.0 * k, 0.0)
        station = ReferenceStation(station_id=f"47{k:014x}", lat_deg=float(lat),
                                   lon_deg=float(lon), range_m=250.0)  # fmt: skip
        out.append(Request(message=station, source=station.station_id, received_at_ms=0))
    return out


def run(n: int, ticks: int) -> dict[str, float]:
    """Median CPU ms per tick of SDS, DGNSS and FCW over ``n`` vehicles."""
    rng = np.random.default_rng(7)
    scene = _scene(n, 0, rng)
    sds, dgnss, fcw = SensorDataSharing(), DifferentialPositioning(), ForwardCollisionWarning()
    stations = _stations(n)
    dgnss.on_tick(scene.update(0), stations, 0)
    times: dict[str, list[float]] = {"SDS": [], "DGNSS": [], "FCW": []}
    sent = 0
    for k in range(1, ticks + 1):
        now = 100 * k
        view = scene.update(now)
        fixes = [Request(message=Rtcm(msg_count=k % 128, payloads=(b"\xd3\x00",)),
                         source=s.source, received_at_ms=now) for s in stations]  # fmt: skip
        t0 = time.process_time()
        sent += len(sds.on_tick(view, [], now))
        t1 = time.process_time()
        dgnss.on_tick(view, fixes, now)
        t2 = time.process_time()
        fcw.on_tick(view, now)
        t3 = time.process_time()
        for name, ms in (("SDS", t1 - t0), ("DGNSS", t2 - t1), ("FCW", t3 - t2)):
            times[name].append(ms * 1000)
    med = {k: statistics.median(v) for k, v in times.items()}
    med["SSM per tick"] = sent / ticks
    return med


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--ticks", type=int, default=20)
    args = parser.parse_args()
    print(f"{'vehicles':>8}  {'SDS ms':>8}  {'DGNSS ms':>8}  {'FCW ms':>8}  "
          f"{'SDS/FCW':>7}  {'DGNSS/FCW':>9}  {'SSM/tick':>8}")  # fmt: skip
    for n in args.sizes:
        m = run(n, args.ticks)
        print(f"{n:>8}  {m['SDS']:>8.2f}  {m['DGNSS']:>8.2f}  {m['FCW']:>8.2f}  "
              f"{m['SDS'] / m['FCW']:>7.2f}  {m['DGNSS'] / m['FCW']:>9.2f}  "
              f"{m['SSM per tick']:>8.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
