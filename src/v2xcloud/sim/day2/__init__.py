"""The test bench's side of the Day-2 applications: carrying what they send to the road users
and scoring each by its effect.

``bench.Day2Bench`` takes the platform's outbound Day-2 messages every tick, encodes and
re-decodes them (with the published reference schema when the run names one), carries them
over a seeded down-link to their recipients and feeds each app's probe; ``probe`` defines what
a probe is. ``PROBES`` is the one registry: application code → probe factory. A Day-2 app the
platform runs without a probe here is run, but not scored.
"""

from __future__ import annotations

from v2xcloud.sim.day2.bench import Day2Bench, ReferenceCheck
from v2xcloud.sim.day2.dgnss import DgnssProbe
from v2xcloud.sim.day2.junction import JunctionProbe
from v2xcloud.sim.day2.manoeuvres import LaneChangeProbe
from v2xcloud.sim.day2.probe import Day2Probe, ProbeFactory, ProbeSetup, RunFacts
from v2xcloud.sim.day2.pvp import PriorityProbe
from v2xcloud.sim.day2.sds import SdsProbe
from v2xcloud.sim.day2.vnfp import VnfpProbe
from v2xcloud.sim.day2.vsp import VruPassageProbe

#: application code -> the factory of its probe
PROBES: dict[str, ProbeFactory] = {
    "PVP": PriorityProbe,
    "VSP": VruPassageProbe,
    "CLC": lambda setup: LaneChangeProbe(setup, "CLC"),
    "CVM": lambda setup: LaneChangeProbe(setup, "CVM"),
    "SDS": SdsProbe,
    "CIP": JunctionProbe,
    "VNFP": VnfpProbe,
    "DGNSS": DgnssProbe,
}

#: apps whose probe measures its baseline in the same run (the app changes nobody's driving,
#: so the traffic without it is the same): ``evaluate`` runs their scenarios once
INTRINSIC_BASELINE: frozenset[str] = frozenset({"SDS", "VNFP", "DGNSS"})


def probes_for(codes: set[str], setup: ProbeSetup) -> list[Day2Probe]:
    """One probe per application in ``codes`` that has one, in registry order."""
    return [factory(setup) for code, factory in PROBES.items() if code in codes]


__all__ = [
    "INTRINSIC_BASELINE",
    "PROBES",
    "Day2Bench",
    "Day2Probe",
    "DgnssProbe",
    "ProbeFactory",
    "ProbeSetup",
    "ReferenceCheck",
    "RunFacts",
    "SdsProbe",
    "VnfpProbe",
    "probes_for",
]
