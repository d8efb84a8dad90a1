"""The bench's signal control in SUMO: a timing change shortens the conflicting green to the
minimum, clearance phases keep their length, the SPAT shows the new times, and the phase log
catches any phase that broke a limit."""

from __future__ import annotations

from pathlib import Path

import libsumo
import pytest

from v2xcloud.geo import LocalFrame
from v2xcloud.model.signal_plan import SignalPlan, Stage, TimingChange
from v2xcloud.sim.bridge import SumoBridge
from v2xcloud.sim.scenario import load_scenario
from v2xcloud.sim.signal_control import PhaseLog, PhaseRun, SignalControl
from v2xcloud.sim.signals import SignalEncoder

pytestmark = pytest.mark.slow

SCENARIO = """
name = "signal_control"
description = "a signalised crossing with cross traffic"
seed = 3
duration_s = 60.0
[network]
kind = "cross"
arm_length_m = 200.0
lanes = 2
is_signalised = true
cycle_s = 60
all_red_s = 2
[[flows]]
id = "sn"
route = ["S", "C", "N"]
end_s = 50.0
period_s = 5.0
depart_speed_mps = 12.0
"""


def _run(tmp_path: Path, *, change_at_s: float | None) -> tuple[SignalControl, list[object]]:
    path = tmp_path / "sc.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    bridge = SumoBridge(scenario=load_scenario(path), work_dir=tmp_path, has_ssm=False)
    bridge.start()
    spats = []
    try:
        enc = SignalEncoder(
            net_path=str(bridge.net_path),
            frame=LocalFrame(origin_lat_deg=28.2, origin_lon_deg=112.9),
            epoch_ms=0,
        )
        control = SignalControl(enc.signal_plans())
        plan = control.plans["C"]
        while bridge.is_running:
            snap = bridge.step()
            control.step(libsumo, snap.time_s)
            if change_at_s is not None and abs(snap.time_s - change_at_s) < 1e-6:
                control.apply(
                    TimingChange(node=plan.node, first_stage=3, durations=((3, 10.0),),
                                 kind="advance", group=3, gain_s=15.0)
                )  # fmt: skip
            if abs(snap.time_s - (change_at_s or 0.0) - 0.5) < 1e-6:
                spats = enc.spats(snap.tls, time_s=snap.time_s, durations=control.pending)
    finally:
        bridge.close()
    return control, spats


def test_plan_of_the_programme(tmp_path: Path) -> None:
    control, _ = _run(tmp_path, change_at_s=None)
    plan = control.plans["C"]
    assert [s.duration_s for s in plan.stages] == [25.0, 3.0, 2.0, 25.0, 3.0, 2.0]
    assert [plan.is_clearance(k) for k in range(6)] == [False, True, True, False, True, True]
    assert plan.stages[0].green_groups.isdisjoint(plan.stages[3].green_groups)
    runs = [(r.phase, round(r.duration_s, 1)) for r in control.log.runs]
    assert runs == [(0, 25.1), (1, 3.0), (2, 2.0), (3, 25.0), (4, 3.0)]  # 60 s: 5 ended


def test_change_cuts_the_green_keeps_clearances_and_shows_in_spat(tmp_path: Path) -> None:
    control, spats = _run(tmp_path, change_at_s=35.0)  # 5 s into the N-S green (30.1 s)
    runs = [(r.phase, round(r.start_s, 1), round(r.duration_s, 1)) for r in control.log.runs]
    assert (3, 30.1, 10.1) in runs  # cut to the 10 s minimum (one step to see the switch)
    assert (4, 40.2, 3.0) in runs and (5, 43.2, 2.0) in runs  # yellow and all red whole
    assert runs[-1] == (5, 43.2, 2.0)  # so the E-W green began at 45.2 s, 15 s early
    limits = {"min_green_s": 10.0, "max_extension_s": 15.0, "step_s": 0.1}
    assert control.log.violations(control.plans, **limits) == []
    (spat,) = spats
    (state,) = spat.intersections
    assert "signalPriorityIsActive" in state.status
    green = [p for p in state.phases if p.states[0].light.is_green]
    assert green and all(abs(p.states[0].likely_end_s - 4.6) < 0.15 for p in green)


def test_phase_log_names_each_broken_limit() -> None:
    plan = SignalPlan(
        node=_node(),
        stages=(
            Stage(duration_s=20.0, green_groups=frozenset({1})),
            Stage(duration_s=3.0, green_groups=frozenset(), yellow_groups=frozenset({1})),
            Stage(duration_s=20.0, green_groups=frozenset({2})),
        ),
    )
    log = PhaseLog()
    log.runs = [
        PhaseRun(tls_id="C", phase=0, start_s=0.0, duration_s=6.0),  # below the minimum green
        PhaseRun(tls_id="C", phase=1, start_s=6.0, duration_s=1.0),  # yellow cut
        PhaseRun(tls_id="C", phase=2, start_s=7.0, duration_s=40.0),  # extended past 15 s
        PhaseRun(tls_id="C", phase=0, start_s=47.0, duration_s=10.0),  # fine
    ]
    bad = log.violations({"C": plan}, min_green_s=10.0, max_extension_s=15.0, step_s=0.1)
    assert len(bad) == 3
    assert bad[0].startswith("C phase 0 at 0.0 s ran 6.0 s")


def _node():  # type: ignore[no-untyped-def]
    from v2xcloud.model import NodeId

    return NodeId(region=1, id=1)
