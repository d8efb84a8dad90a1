"""The bench's side of VNFP (near-field payment): each connected vehicle's OBU answers the
platform's VPMs over the run's channel, and the probe scores the transactions.

The OBU: a service offer (RST) is answered by its VSI; a debit (``setTollDataRq``) is paid
once per serial number — a repeated debit with a serial number it has paid is answered again
(``noError``) without paying — and answered by ``action-response``; the result shown
(``setMMIRq``) is noted. Ground truth: every connected vehicle that came within a payment
point's radius owes one payment for that pass. Figures: passes paid (%), passes paid twice or
more (must be 0), payments the platform booked against those the OBUs made, the median time
from entering the zone to the driver seeing the result, and VPMs per pass (retries included).
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from v2xcloud.model.day2 import PaymentPoint, Vpm
from v2xcloud.model.day2_exchange import Outbound
from v2xcloud.sim.cooperation import CooperationScore, Figure
from v2xcloud.sim.day2.probe import ProbeSetup, RunFacts
from v2xcloud.sim.scenario import Scenario

if TYPE_CHECKING:
    from v2xcloud.geo import LocalFrame
    from v2xcloud.sim.snapshot import Snapshot

__all__ = ["VnfpProbe", "payment_points"]


def payment_points(
    scenario: Scenario, frame: LocalFrame
) -> list[tuple[PaymentPoint, float, float]]:
    """The scenario's payment points as the platform registers them, with their SUMO-plane
    position (m). RSU ids ``50`` + the point's number."""
    from v2xcloud.sim.network import network_nodes

    pos = {n: (x, y) for n, x, y, _ in network_nodes(scenario.network)[0]}
    out = []
    for k, spec in enumerate(scenario.payment_points):
        x, y = pos[spec.node]
        lat, lon = frame.to_wgs84(x, y)
        point = PaymentPoint(
            rsu_id=f"{0x50:02x}{k + 1:014x}", gantry_id=spec.gantry_id, lat_deg=float(lat),
            lon_deg=float(lon), radius_m=spec.radius_m, price_fen=spec.price_fen,
        )  # fmt: skip
        out.append((point, x, y))
    return out


class VnfpProbe:
    """Plays every connected OBU and scores ``VNFP`` in one run (module docstring)."""

    app = "VNFP"

    def __init__(self, setup: ProbeSetup) -> None:
        self.setup = setup
        self.points = payment_points(setup.scenario, setup.frame)
        self.entered: dict[tuple[str, str], int] = {}  # (rsu, vehicle) -> first step inside, ms
        self.paid: Counter[tuple[str, str]] = Counter()  # debits an OBU paid, per pass
        self.seen_sn: dict[str, set[int]] = {}  # vehicle -> serial numbers paid (idempotency)
        self.shown: dict[tuple[str, str], tuple[int, str]] = {}  # pass -> (first MMI ms, result)
        self.messages: Counter[tuple[str, str]] = Counter()  # VPMs that reached the vehicle
        self.repeated_debits = 0
        self._count = 0

    def observe(self, snap: Snapshot, now_ms: int) -> None:
        """Who is inside which zone (connected vehicles owe a payment)."""
        if not self.points:
            return
        cars = [i for i in range(len(snap.ids)) if not snap.is_pedestrian[i]
                and self.setup.ids.is_connected(snap.ids[i])]  # fmt: skip
        if not cars:
            return
        idx = np.asarray(cars)
        for point, x, y in self.points:
            near = np.hypot(snap.x_m[idx] - x, snap.y_m[idx] - y) <= point.radius_m
            for i in idx[near].tolist():
                self.entered.setdefault((point.rsu_id, snap.ids[i]), now_ms)

    def received(self, sent: Outbound, to: str, arrive_ms: int, size_bytes: int) -> None:
        """The OBU of ``to`` answers a VPM (see the module docstring)."""
        msg = sent.message
        if not isinstance(msg, Vpm) or msg.rsu_id is None:
            return
        key = (msg.rsu_id, to)
        self.messages[key] += 1
        obu = self.setup.ids.bsm_id(to)
        if msg.step == "initialzation-request":
            self._answer(to, arrive_ms, step="initialzation-response", obu=obu, rsu=msg.rsu_id)
        elif msg.step == "action-request" and msg.action == "setTollDataRq":
            paid = self.seen_sn.setdefault(to, set())
            if msg.transaction_sn in paid:
                self.repeated_debits += 1
            else:
                assert msg.transaction_sn is not None
                paid.add(msg.transaction_sn)
                self.paid[key] += 1
            self._answer(to, arrive_ms, step="action-response", obu=obu, rsu=msg.rsu_id,
                         action="setTollDataRs", result="noError")  # fmt: skip
        elif msg.step == "action-request" and msg.action == "setMMIRq":
            self.shown.setdefault(key, (arrive_ms, msg.result or ""))

    def _answer(self, to: str, now_ms: int, *, step: str, obu: str, rsu: str, **kw: str) -> None:
        if self.setup.uplink is None:
            return
        self._count = (self._count + 1) % 128
        reply = Vpm(msg_count=self._count, step=step, time_ms=now_ms, obu_id=obu, rsu_id=rsu,
                    **kw)  # type: ignore[arg-type]  # fmt: skip
        self.setup.uplink(reply, to, now_ms)

    def score(self, facts: RunFacts) -> CooperationScore:
        """Passes paid, paid twice, booked vs paid, time to the result, VPMs per pass."""
        owed = sorted(self.entered)
        n = len(owed)
        once = sum(1 for k in owed if self.paid[k] == 1)
        twice = sum(1 for k in self.paid if self.paid[k] > 1)
        done = [(self.shown[k][0] - self.entered[k]) / 1000 for k in owed
                if k in self.shown and self.shown[k][1] == "ok"]  # fmt: skip
        per_pass = [self.messages[k] for k in owed]
        figures = (
            Figure(name="passes paid once", unit="%", value=100.0 * once / n if n else None,
                   is_lower_better=False),
            Figure(name="passes paid twice", unit="", value=float(twice)),
            Figure(name="OBU debits repeated (not paid again)", unit="",
                   value=float(self.repeated_debits)),
            Figure(name="zone entry to result shown, median", unit="s",
                   value=statistics.median(done) if done else None),
            Figure(name="VPMs to the vehicle per pass", unit="",
                   value=statistics.mean(per_pass) if per_pass else None),
        )  # fmt: skip
        if not n:
            outcome = "no action: no connected vehicle passed a payment point"
        else:
            outcome = (f"{once} of {n} passes paid exactly once, {twice} paid twice; "
                       f"{self.repeated_debits} repeated debits answered without paying")  # fmt: skip
        return CooperationScore(app=self.app, scenario=self.setup.scenario.name,
                                outcome=outcome, figures=figures)  # fmt: skip
