"""A signalised junction's timing plan, and the timing changes priority makes to it.

The platform knows each signalised junction's fixed-time plan, as a traffic-management centre
knows the programmes of its signal controllers: a cycle of stages, each with a duration and
the signal groups (MAP ``phase_id`` = SPAT phase) it shows green or yellow. A priority changes
only durations (``TimingChange``), never the order of stages, within ``PriorityLimits``.
"""

from __future__ import annotations

import msgspec

from v2xcloud.model.map import NodeId

__all__ = ["PriorityLimits", "SignalPlan", "Stage", "TimingChange"]


class Stage(msgspec.Struct, frozen=True, kw_only=True):
    """One stage of a plan: ``duration_s`` and the groups it shows green and yellow."""

    duration_s: float
    green_groups: frozenset[int]
    yellow_groups: frozenset[int] = frozenset()


class SignalPlan(msgspec.Struct, frozen=True, kw_only=True):
    """A junction's fixed-time plan: ``stages`` in cycle order (at least one)."""

    node: NodeId
    stages: tuple[Stage, ...]

    @property
    def cycle_s(self) -> float:
        """The programmed cycle length (s)."""
        return sum(s.duration_s for s in self.stages)

    def is_clearance(self, index: int) -> bool:
        """Whether stage ``index`` is a clearance interval, which no change may shorten or
        lengthen: any yellow, all red, or a stage that only takes greens away from the one
        before it (e.g. the pedestrian clearance after the walk)."""
        stage = self.stages[index]
        if stage.yellow_groups or not stage.green_groups:
            return True
        return stage.green_groups < self.stages[index - 1].green_groups


class TimingChange(msgspec.Struct, frozen=True, kw_only=True):
    """New total durations (s) of some stages of ``node``'s plan: ``durations`` as (stage
    index, s), counted from stage ``first_stage`` (the stage running when it was planned) for
    one pass; every other stage runs as programmed. ``kind`` is "extend" or "advance";
    ``group`` the requester's signal group; ``gain_s`` how much longer (extend) or earlier
    (advance) that group's green is."""

    node: NodeId
    first_stage: int
    durations: tuple[tuple[int, float], ...]
    kind: str
    group: int
    gain_s: float


class PriorityLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Safe limits of a priority change (seconds). ``lead_s``: the requester's green should
    start this long before it arrives; ``clear_s``: and last this long after (to pass)."""

    min_green_s: float = 10.0
    max_extension_s: float = 15.0
    lead_s: float = 2.0
    clear_s: float = 3.0
