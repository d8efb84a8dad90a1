"""The safe changes priority may make to a junction's timing plan (``model.signal_plan``).

A priority request becomes a ``TimingChange``: new durations for the current and upcoming
stages, never anything else (the order of stages is kept). The safe limits
(``PriorityLimits``):

- clearance stages (any yellow, all red, or a stage that only takes greens away from the one
  before it, e.g. the pedestrian clearance after the walk) keep their programmed duration;
- a green stage is shortened to no less than ``min_green_s`` (and never below what it has
  already shown): an early green for the requester;
- a green is lengthened by at most ``max_extension_s`` beyond its programmed end: a green
  extension of the run's last stage that is no clearance; the stages after it run as
  programmed;
- only the stages up to the requester's green are touched, so every conflicting group is still
  served in that cycle, at least for ``min_green_s`` (no starvation; the app also grants one
  change per junction per cycle).

``plan_priority`` is pure: tests check every limit on any plan.
"""

from __future__ import annotations

from v2xcloud.model.signal_plan import PriorityLimits, SignalPlan, TimingChange

__all__ = ["PriorityLimits", "match_stage", "plan_priority"]


def match_stage(plan: SignalPlan, green: frozenset[int], yellow: frozenset[int]) -> int | None:
    """The index of the stage showing exactly ``green`` and ``yellow`` (``None``: none does)."""
    for k, stage in enumerate(plan.stages):
        if stage.green_groups == green and stage.yellow_groups == yellow:
            return k
    return None


def plan_priority(
    plan: SignalPlan,
    *,
    stage: int,
    elapsed_s: float,
    group: int,
    arrival_s: float,
    limits: PriorityLimits,
) -> TimingChange | None:
    """The smallest safe change that gives ``group`` green when its requester arrives in
    ``arrival_s`` seconds, while stage ``stage`` has run ``elapsed_s``; ``None`` when the
    programmed timing already does, or no change within ``limits`` can."""
    n = len(plan.stages)
    if not any(group in s.green_groups for s in plan.stages):
        return None
    order = [(stage + k) % n for k in range(2 * n)]  # two cycles: the next green may be
    starts, t = [], -elapsed_s  # the running stage's next run
    for k in order:  # programmed start of each upcoming stage, seconds from now
        starts.append(t)
        t += plan.stages[k].duration_s
    if group in plan.stages[stage].green_groups:
        change = _extend(plan, order, starts, group, arrival_s, limits)
        if (
            change is not None
            or _green_end(plan, order, starts, group) >= arrival_s + limits.clear_s
        ):
            return change
    return _advance(plan, order, starts, elapsed_s, group, arrival_s, limits)


def _green_end(plan: SignalPlan, order: list[int], starts: list[float], group: int) -> float:
    """When the current run of ``group``'s green ends (s from now), as programmed."""
    j = 0
    while j + 1 < len(plan.stages) and group in plan.stages[order[j + 1]].green_groups:
        j += 1
    return starts[j] + plan.stages[order[j]].duration_s


def _extend(
    plan: SignalPlan,
    order: list[int],
    starts: list[float],
    group: int,
    arrival_s: float,
    limits: PriorityLimits,
) -> TimingChange | None:
    end = _green_end(plan, order, starts, group)
    needed = arrival_s + limits.clear_s - end
    if needed <= 0.0 or needed > limits.max_extension_s:
        return None
    run = [order[0]]
    while len(run) < len(plan.stages) and group in plan.stages[order[len(run)]].green_groups:
        run.append(order[len(run)])
    open_ = [k for k in run if not plan.is_clearance(k)]
    if not open_:
        return None  # only a clearance of the group's green is left: it is kept whole
    last = open_[-1]  # the run's last green stage that is no clearance: it is lengthened
    return TimingChange(
        node=plan.node,
        first_stage=order[0],
        durations=((last, plan.stages[last].duration_s + needed),),
        kind="extend",
        group=group,
        gain_s=needed,
    )


def _advance(
    plan: SignalPlan,
    order: list[int],
    starts: list[float],
    elapsed_s: float,
    group: int,
    arrival_s: float,
    limits: PriorityLimits,
) -> TimingChange | None:
    """Shorten the green stages before ``group``'s next green (current first) to no less
    than ``min_green_s``, by just enough for that green to start ``lead_s`` before arrival."""
    first_green = 0
    while first_green < len(order) and group in plan.stages[order[first_green]].green_groups:
        first_green += 1  # skip the rest of a run the group is in now (it ends first)
    while first_green < len(order) and group not in plan.stages[order[first_green]].green_groups:
        first_green += 1
    if first_green >= len(order):
        return None
    excess = starts[first_green] - max(0.0, arrival_s - limits.lead_s)
    if excess <= 0.0:
        return None  # the programmed green comes in time
    durations, gained = [], 0.0
    for j in range(first_green):
        k = order[j]
        stage = plan.stages[k]
        if plan.is_clearance(k) or group in stage.green_groups:
            continue
        floor = max(limits.min_green_s, elapsed_s if j == 0 else 0.0)
        cut = min(stage.duration_s - floor, excess - gained)
        if cut > 0.0:
            durations.append((k, stage.duration_s - cut))
            gained += cut
        if gained >= excess:
            break
    if gained <= 0.0:
        return None
    return TimingChange(
        node=plan.node,
        first_stage=order[0],
        durations=tuple(durations),
        kind="advance",
        group=group,
        gain_s=gained,
    )
