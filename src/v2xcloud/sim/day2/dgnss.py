"""The bench's side of differential positioning (DGNSS): each reference station of the
scenario sends RTCM corrections to the platform every ``period_s``, and the probe scores what
the vehicles in range received.

The payloads are synthetic (the relay treats corrections as opaque bytes; a payload names its
station and sequence number so the probe knows when it was generated). Ground truth: every
connected vehicle within a station's range when a correction is generated is owed it.
Figures: share of owed corrections delivered, their age at the vehicle (generation to
arrival; median and 95th percentile), and relayed RTCM bytes per vehicle in range per second.
Without the platform's relay a vehicle has no path to these corrections in the bench (no
direct link to the station is modelled), so no baseline figure is claimed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from v2xcloud.model.day2 import ReferenceStation, Rtcm
from v2xcloud.model.day2_exchange import Outbound
from v2xcloud.sim.cooperation import CooperationScore, Figure
from v2xcloud.sim.day2.probe import ProbeSetup, RunFacts
from v2xcloud.sim.scenario import Scenario

if TYPE_CHECKING:
    from v2xcloud.geo import LocalFrame
    from v2xcloud.sim.snapshot import Snapshot

__all__ = ["DgnssProbe", "reference_stations"]


def reference_stations(
    scenario: Scenario, frame: LocalFrame
) -> list[tuple[ReferenceStation, float, float, float]]:
    """The scenario's reference stations as they register, with their SUMO-plane position
    (m) and correction period (s). Ids ``47`` + the station's number."""
    from v2xcloud.sim.network import network_nodes

    pos = {n: (x, y) for n, x, y, _ in network_nodes(scenario.network)[0]}
    out = []
    for k, spec in enumerate(scenario.reference_stations):
        x, y = pos[spec.node]
        lat, lon = frame.to_wgs84(x, y)
        station = ReferenceStation(station_id=f"{0x47:02x}{k + 1:014x}", lat_deg=float(lat),
                                   lon_deg=float(lon), range_m=spec.range_m)  # fmt: skip
        out.append((station, x, y, spec.period_s))
    return out


class DgnssProbe:
    """Plays the reference stations and scores ``DGNSS`` in one run (module docstring)."""

    app = "DGNSS"

    def __init__(self, setup: ProbeSetup) -> None:
        self.setup = setup
        self.stations = reference_stations(setup.scenario, setup.frame)
        self.generated: dict[bytes, int] = {}  # payload -> generated at (UTC ms)
        self.owed: set[tuple[str, bytes]] = set()  # (vehicle, payload)
        self.ages_ms: dict[tuple[str, bytes], int] = {}
        self.bytes_in = 0
        self.in_range_s = 0.0
        self._seq = 0

    def observe(self, snap: Snapshot, now_ms: int) -> None:
        """Send the due corrections, and note who is in range (owed them)."""
        if not self.stations:
            return
        cars = np.asarray([i for i in range(len(snap.ids)) if not snap.is_pedestrian[i]
                           and self.setup.ids.is_connected(snap.ids[i])], dtype=np.int64)  # fmt: skip
        sim_ms = now_ms - self.setup.epoch_ms
        for station, x, y, period_s in self.stations:
            near = cars[np.hypot(snap.x_m[cars] - x, snap.y_m[cars] - y) <= station.range_m]
            self.in_range_s += near.size * self.setup.scenario.step_s
            if sim_ms % round(period_s * 1000) >= round(self.setup.scenario.step_s * 1000):
                continue
            self._seq += 1
            payload = f"RTCM3 synthetic {station.station_id}:{self._seq}".encode()
            self.generated[payload] = now_ms
            self.owed.update((snap.ids[i], payload) for i in near.tolist())
            if self.setup.uplink is not None:
                msg = Rtcm(msg_count=self._seq % 128, payloads=(payload,))
                self.setup.uplink(msg, station.station_id, now_ms)

    def received(self, sent: Outbound, to: str, arrive_ms: int, size_bytes: int) -> None:
        """A relayed correction reached ``to``: its age there."""
        self.bytes_in += size_bytes
        if isinstance(sent.message, Rtcm):
            for p in sent.message.payloads:
                if p in self.generated:
                    self.ages_ms.setdefault((to, p), arrive_ms - self.generated[p])

    def score(self, facts: RunFacts) -> CooperationScore:
        """Delivery, age at the vehicle and bytes (module docstring)."""
        owed = len(self.owed)
        got = [self.ages_ms[k] for k in self.owed if k in self.ages_ms]
        ages = np.asarray(got, dtype=np.float64)
        figures = (
            Figure(name="owed corrections delivered", unit="%",
                   value=100.0 * len(got) / owed if owed else None, is_lower_better=False),
            Figure(name="age at vehicle, median", unit="ms",
                   value=float(np.median(ages)) if got else None),
            Figure(name="age at vehicle, p95", unit="ms",
                   value=float(np.percentile(ages, 95)) if got else None),
            Figure(name="RTCM bytes per vehicle-second in range", unit="B",
                   value=self.bytes_in / self.in_range_s if self.in_range_s else None),
        )  # fmt: skip
        outcome = (
            f"{len(got)} of {owed} corrections owed to vehicles in range delivered"
            if owed else "no action: no reference station, or no connected vehicle in range"
        )  # fmt: skip
        return CooperationScore(app=self.app, scenario=self.setup.scenario.name,
                                outcome=outcome, figures=figures)  # fmt: skip
