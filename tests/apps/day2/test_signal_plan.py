"""The priority planner on any plan: every change keeps the safe limits (clearances whole,
greens no shorter than the minimum, no longer than the maximum extension, only stages up to
the requester's green touched) and gives the requester its green earlier or longer."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from v2xcloud.apps.day2.signal_plan import match_stage, plan_priority
from v2xcloud.model import NodeId
from v2xcloud.model.signal_plan import PriorityLimits, SignalPlan, Stage

NODE = NodeId(region=1, id=1)
LIMITS = PriorityLimits(min_green_s=10.0, max_extension_s=15.0, lead_s=2.0, clear_s=3.0)


def _two_way(green_s: float = 25.0) -> SignalPlan:
    """E-W green, yellow, all red, N-S green, yellow, all red (groups 1 E-W, 2 N-S)."""
    return SignalPlan(
        node=NODE,
        stages=(
            Stage(duration_s=green_s, green_groups=frozenset({1})),
            Stage(duration_s=3.0, green_groups=frozenset(), yellow_groups=frozenset({1})),
            Stage(duration_s=2.0, green_groups=frozenset()),
            Stage(duration_s=green_s, green_groups=frozenset({2})),
            Stage(duration_s=3.0, green_groups=frozenset(), yellow_groups=frozenset({2})),
            Stage(duration_s=2.0, green_groups=frozenset()),
        ),
    )


def test_no_change_when_the_programme_already_serves() -> None:
    plan = _two_way()
    assert (
        plan_priority(plan, stage=0, elapsed_s=2.0, group=1, arrival_s=10.0, limits=LIMITS) is None
    )
    # red now, but the programmed green starts 3 s before arrival: nothing to advance
    assert (
        plan_priority(plan, stage=3, elapsed_s=20.0, group=1, arrival_s=15.0, limits=LIMITS) is None
    )


def test_extension_of_the_running_green() -> None:
    plan = _two_way()
    change = plan_priority(plan, stage=0, elapsed_s=20.0, group=1, arrival_s=9.0, limits=LIMITS)
    assert change is not None and change.kind == "extend"
    assert change.durations == ((0, 32.0),)  # ends 12 s from now: arrival 9 s + 3 s to clear
    too_far = plan_priority(plan, stage=0, elapsed_s=24.0, group=1, arrival_s=20.0, limits=LIMITS)
    assert too_far is not None and too_far.kind == "advance"  # 18 s > 15 s: next green early


def test_early_green_cuts_the_conflicting_green_to_the_minimum() -> None:
    plan = _two_way()
    change = plan_priority(plan, stage=3, elapsed_s=4.0, group=1, arrival_s=12.0, limits=LIMITS)
    assert change is not None and change.kind == "advance"
    assert change.durations == ((3, 10.0),)  # no shorter than 10 s: green at 11 s, not 10 s
    assert change.gain_s == 15.0


def test_pedestrian_clearance_is_no_green_to_stretch() -> None:
    walk = Stage(duration_s=20.0, green_groups=frozenset({1, 9}))
    ped_clear = Stage(duration_s=5.0, green_groups=frozenset({1}))
    plan = SignalPlan(node=NODE, stages=(walk, ped_clear, *_two_way().stages[1:]))
    assert plan.is_clearance(1) and not plan.is_clearance(0)
    change = plan_priority(plan, stage=0, elapsed_s=18.0, group=1, arrival_s=10.0, limits=LIMITS)
    assert change is not None and change.durations == ((0, 26.0),)  # the walk, not the clearance
    late = plan_priority(plan, stage=1, elapsed_s=1.0, group=1, arrival_s=10.0, limits=LIMITS)
    assert late is not None and late.kind == "advance"  # only the clearance left: next green


def test_early_green_never_cuts_a_clearance() -> None:
    walk = Stage(duration_s=10.0, green_groups=frozenset({1, 9}))  # already the minimum
    ped_clear = Stage(duration_s=15.0, green_groups=frozenset({1}))  # long, still kept whole
    plan = SignalPlan(node=NODE, stages=(walk, ped_clear, *_two_way().stages[1:]))
    change = plan_priority(plan, stage=0, elapsed_s=2.0, group=2, arrival_s=5.0, limits=LIMITS)
    assert change is None  # nothing may be cut: the walk is at its minimum


def test_match_stage() -> None:
    plan = _two_way()
    assert match_stage(plan, frozenset({2}), frozenset()) == 3
    assert match_stage(plan, frozenset(), frozenset({2})) == 4
    assert match_stage(plan, frozenset({1, 2}), frozenset()) is None


@st.composite
def plans(draw: st.DrawFn) -> SignalPlan:
    n_green = draw(st.integers(2, 4))
    stages: list[Stage] = []
    for g in range(1, n_green + 1):
        if draw(st.booleans()):  # a walk for crossing group g + 10, then its clearance
            walk = frozenset({g, g + 10})
            stages.append(Stage(duration_s=draw(st.floats(5.0, 40.0)), green_groups=walk))
            stages.append(Stage(duration_s=draw(st.floats(3.0, 20.0)), green_groups=frozenset({g})))
        else:
            stages.append(Stage(duration_s=draw(st.floats(5.0, 40.0)), green_groups=frozenset({g})))
        stages.append(
            Stage(duration_s=draw(st.floats(2.0, 4.0)), green_groups=frozenset(),
                  yellow_groups=frozenset({g}))
        )  # fmt: skip
        if draw(st.booleans()):
            stages.append(Stage(duration_s=draw(st.floats(1.0, 3.0)), green_groups=frozenset()))
    return SignalPlan(node=NODE, stages=tuple(stages))


@settings(max_examples=300, deadline=None)
@given(plan=plans(), data=st.data())
def test_every_change_keeps_the_limits(plan: SignalPlan, data: st.DataObject) -> None:
    stage = data.draw(st.integers(0, len(plan.stages) - 1))
    elapsed = data.draw(st.floats(0.0, plan.stages[stage].duration_s))
    group = data.draw(st.sampled_from(sorted({g for s in plan.stages for g in s.green_groups})))
    arrival = data.draw(st.floats(0.0, 60.0))
    change = plan_priority(plan, stage=stage, elapsed_s=elapsed, group=group, arrival_s=arrival,
                           limits=LIMITS)  # fmt: skip
    if change is None:
        return
    assert change.first_stage == stage and change.gain_s > 0.0
    new = dict(change.durations)
    n = len(plan.stages)
    reach = max((k - stage) % n for k in new)
    for k, duration in new.items():
        programmed = plan.stages[k].duration_s
        assert not plan.is_clearance(k), (k, plan)
        assert duration >= min(programmed, LIMITS.min_green_s) - 1e-9
        assert duration <= programmed + LIMITS.max_extension_s + 1e-9
        if k == stage:
            assert duration >= elapsed - 1e-9  # never ends a stage in the past
        if change.kind == "advance":
            assert group not in plan.stages[k].green_groups and duration < programmed
        else:
            assert group in plan.stages[k].green_groups and duration > programmed
    # the requester's green starts earlier (advance) or ends later (extend) by gain_s, and
    # every stage up to it still runs in this pass (none skipped: no group starved)
    before = _green_times(plan, stage, elapsed, group, {})
    after = _green_times(plan, stage, elapsed, group, new)
    if change.kind == "advance":
        assert abs((before[0] - after[0]) - change.gain_s) < 1e-6
    else:
        assert abs((after[1] - before[1]) - change.gain_s) < 1e-6
    assert reach < n


def _green_times(
    plan: SignalPlan, stage: int, elapsed: float, group: int, new: dict[int, float]
) -> tuple[float, float]:
    """(start of the group's next green after the running one, end of the running green run
    or of that next green) in seconds from now, with ``new`` durations for one pass."""
    n = len(plan.stages)
    t = -elapsed
    start = end = None
    was_green = group in plan.stages[stage].green_groups
    for j in range(2 * n):
        k = (stage + j) % n
        duration = new.get(k, plan.stages[k].duration_s) if j < n else plan.stages[k].duration_s
        is_green = group in plan.stages[k].green_groups
        if was_green and not is_green and end is None:
            end = t
            was_green = False
        elif is_green and not was_green and start is None:
            start = t
            was_green = True
        t += duration
    return (start if start is not None else t), (end if end is not None else t)
