"""Scripted scenarios for the application tests: movers in local metres, run tick by tick."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from v2xcloud.apps.base import App
from v2xcloud.model import Advisory, MapData
from v2xcloud.twin import Scene
from v2xcloud.twin.testing import TEST_FRAME, state_at

Path = Callable[[float], tuple[float, float, float, float]]  # t_s -> (x, y, speed, heading)


def straight(
    x0: float, y0: float, speed_mps: float, heading_deg: float, accel_mps2: float = 0.0
) -> Path:
    """Constant heading; speed changes at ``accel_mps2`` and never goes below 0."""
    import math

    ux, uy = math.sin(math.radians(heading_deg)), math.cos(math.radians(heading_deg))

    def at(t: float) -> tuple[float, float, float, float]:
        if accel_mps2 < 0:
            t_stop = speed_mps / -accel_mps2
            tt = min(t, t_stop)
        else:
            tt = t
        s = speed_mps * tt + 0.5 * accel_mps2 * tt * tt
        return x0 + ux * s, y0 + uy * s, max(speed_mps + accel_mps2 * tt, 0.0), heading_deg

    return at


@dataclass
class Mover:
    """One scripted participant: its path and the extra report fields (kind, flags, ...)."""

    pid: str
    path: Path
    fields: dict[str, Any] = field(default_factory=dict)
    fields_at: Callable[[float], dict[str, Any]] | None = None
    silent_after_s: float | None = None  # no reports after this (it left, or a sensor's view)


def run(
    app: App,
    movers: list[Mover],
    *,
    seconds: float,
    tick_ms: int = 100,
    t0_ms: int = 1_700_000_000_000,
    maps: tuple[MapData, ...] | list[MapData] = (),
) -> list[tuple[float, Advisory]]:
    """Report every mover each tick (10 Hz, 20 ms transport delay) and collect the app's
    advisories with the scenario time (s) they were issued at."""
    scene = Scene(TEST_FRAME)
    for map_data in maps:
        scene.ingest(map_data, received_at_ms=t0_ms, source="map")
    out: list[tuple[float, Advisory]] = []
    for k in range(round(seconds * 1000 / tick_ms) + 1):
        t_s = k * tick_ms / 1000.0
        now = t0_ms + k * tick_ms
        for m in movers:
            if m.silent_after_s is not None and t_s > m.silent_after_s:
                continue
            x, y, v, h = m.path(t_s)
            extra = dict(m.fields)
            if m.fields_at is not None:
                extra.update(m.fields_at(t_s))
            st = state_at(m.pid, x_m=x, y_m=y, t_ms=now - 20, speed_mps=v, heading_deg=h, **extra)
            scene.ingest(st, received_at_ms=now, source=m.pid)
        view = scene.update(now)
        out.extend((t_s, a) for a in app.on_tick(view, now))
    return out


def first(
    advisories: list[tuple[float, Advisory]], ego: str, other: str | None = None
) -> tuple[float, Advisory] | None:
    """The first advisory for ``ego`` (about ``other`` if given)."""
    for t, a in advisories:
        if a.ego_id == ego and (other is None or a.other_id == other):
            return t, a
    return None
