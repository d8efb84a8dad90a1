"""Incremental safety ticks (``Scene(focus_refresh_ms=...)``): 25 ms ticks, 10 Hz reports at
staggered phases; the applications evaluate only the pairs touching fresh reports and still
warn in time, once per hazard, and stay quiet where they should."""

from __future__ import annotations

from _v2v_scenario import Mover, Path, straight

from v2xcloud.apps import V2V_APPS, FcwConfig, ForwardCollisionWarning
from v2xcloud.apps.base import App
from v2xcloud.model import Advisory, AdvisoryLevel
from v2xcloud.twin import Scene
from v2xcloud.twin.testing import TEST_FRAME, state_at

T0_MS = 1_700_000_000_000
TICK_MS = 25


def _run(
    apps: list[App], movers: list[Mover], phases_ms: list[int], seconds: float
) -> list[tuple[float, Advisory]]:
    """Each mover reports every 100 ms at its phase (20 ms in transit); a tick every 25 ms."""
    scene = Scene(TEST_FRAME, focus_refresh_ms=100)
    out: list[tuple[float, Advisory]] = []
    for k in range(round(seconds * 1000 / TICK_MS) + 1):
        now = T0_MS + k * TICK_MS
        for mover, phase in zip(movers, phases_ms, strict=True):
            if (k * TICK_MS - phase) % 100 == 0 and k * TICK_MS >= phase:
                sent_s = (k * TICK_MS - 20) / 1000.0
                x, y, v, h = mover.path(sent_s)
                state = state_at(mover.pid, x_m=x, y_m=y, t_ms=now - 20, speed_mps=v, heading_deg=h)
                scene.ingest(state, received_at_ms=now, source=mover.pid)
        view = scene.update(now)
        for app in apps:
            out.extend((k * TICK_MS / 1000.0, a) for a in app.on_tick(view, now))
    return out


def _evaluated_every_100_ms(cls: type[App]) -> App:
    return cls(cls.config_type(tick_ms=100, lookahead_s=0.1))


def test_fcw_warns_with_full_lead_time_once_per_level() -> None:
    ego = Mover("ego", straight(0, 0, 15.0, 0.0))
    lead: Path = straight(0, 104.5, 0.0, 0.0)  # stopped, bumper gap 100 m
    out = _run(
        [ForwardCollisionWarning(FcwConfig(tick_ms=100, lookahead_s=0.1))],
        [ego, Mover("lead", lead)],
        [0, 50],
        seconds=6.6,
    )
    first_t, first = out[0]
    assert first.ego_id == "ego" and first.other_id == "lead"
    # 2.7 s at tick granularity, less a tick for the closing speed's σ (see test_fcw)
    assert first.level == AdvisoryLevel.WARNING and 100.0 / 15.0 - first_t >= 2.7 - 0.1
    levels = [a.level for _, a in out]
    assert levels.count(AdvisoryLevel.IMMINENT) >= 1
    imminent_t = next(t for t, a in out if a.level == AdvisoryLevel.IMMINENT)
    assert 100.0 / 15.0 - imminent_t >= 1.5
    # between the first warning and the upgrade: only refreshes, at most one a second
    before = [t for t, a in out if a.level == AdvisoryLevel.WARNING and t < imminent_t]
    assert len(before) <= 1 + (imminent_t - first_t)


def test_all_apps_quiet_for_parallel_and_following_traffic() -> None:
    movers = [
        Mover("a", straight(0, 0, 12.0, 0.0)),
        Mover("b", straight(3.5, 15.0, 12.0, 0.0)),  # next lane, clear of both blind spots
        Mover("c", straight(0, 40.0, 12.0, 0.0)),  # same lane, 40 m ahead, same speed
    ]
    apps = [_evaluated_every_100_ms(cls) for cls in V2V_APPS]
    assert _run(apps, movers, [0, 25, 75], seconds=3.0) == []
