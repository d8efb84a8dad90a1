"""What the bench needs of a Day-2 application's scorer (a probe): the shape every one has.

A probe watches one Day-2 application through a run: the ground truth of every step
(``observe``), each message the application sent as it reaches a road user over the down-link
(``received``), and at the end turns what it saw into the application's ``CooperationScore``
(``score``). The bench (``sim.day2.bench``) fills in the message counts itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from v2xcloud.geo import LocalFrame
from v2xcloud.model.day2_exchange import Outbound
from v2xcloud.sim.cooperation import CooperationScore
from v2xcloud.sim.episodes import Episode
from v2xcloud.sim.identities import IdentityMap
from v2xcloud.sim.scenario import Scenario

if TYPE_CHECKING:
    from v2xcloud.sim.signal_control import SignalControl
    from v2xcloud.sim.snapshot import Snapshot

__all__ = ["Day2Probe", "ProbeFactory", "ProbeSetup", "RunFacts"]


@dataclass(frozen=True)
class ProbeSetup:
    """What a probe is built from: the scenario, the identities (BSM id ⇄ SUMO id), the
    local frame (SUMO plane = the platform's local metres), the run's epoch (UTC ms of
    simulation time 0), the bench's signal controllers (``None``: no traffic light) and the
    channel's latency (ms, each way)."""

    scenario: Scenario
    ids: IdentityMap
    frame: LocalFrame
    epoch_ms: int
    signal_control: SignalControl | None = None
    latency_ms: float = 0.0
    #: ``uplink(model, sumo_id, now_ms)``: a road user sends a message to the platform over
    #: the run's channel (an OBU answering a VPM); ``None``: the probe cannot answer
    uplink: Callable[[Any, str, int], None] | None = None


@dataclass(frozen=True)
class RunFacts:
    """What the whole run established, handed to ``score``: ground-truth episodes and
    collisions (SUMO ids, simulation seconds) and the vehicle-hours driven."""

    episodes: list[Episode]
    collisions: list[tuple[str, str, float]] = field(default_factory=list)
    vehicle_hours: float = 0.0
    duration_s: float = 0.0


class Day2Probe(Protocol):
    """One Day-2 application's scorer in one run."""

    @property
    def app(self) -> str:
        """The application code it scores."""
        ...

    def observe(self, snap: Snapshot, now_ms: int) -> None:
        """Ground truth at one step (``now_ms``: its UTC ms on the wire)."""
        ...

    def received(self, sent: Outbound, to: str, arrive_ms: int, size_bytes: int) -> None:
        """``sent`` reached road user ``to`` (SUMO id) at ``arrive_ms`` as ``size_bytes`` of
        UPER."""
        ...

    def score(self, facts: RunFacts) -> CooperationScore:
        """The application's figures for this run (message counts are the bench's)."""
        ...


#: builds the probe of one application for one run
ProbeFactory = Callable[[ProbeSetup], Day2Probe]
