"""``movement_right_of_way`` judges all arrivals at once from one signal reading per movement
and tick; it must give exactly what the per-movement rule gives (``_right_of_way``: the light
at arrival by ``red_at_arrival``, ``_amber_at_arrival`` and ``_light_at``) for every light,
next light and time."""

from __future__ import annotations

import itertools

import numpy as np
from _cross_junction import FRAME, NODE, PHASES, cross_map

from v2xcloud.apps._signals import _right_of_way, movement_right_of_way
from v2xcloud.model import IntersectionState, LightState, PhaseState, SignalPhase, Spat
from v2xcloud.twin import Scene
from v2xcloud.twin.movements import movements_of

_ARRIVALS = [0.0, 0.5, 1.9, 2.0, 2.1, 4.0, 5.0, 7.5, 12.0, 40.0, -1.0, float("nan")]


def _spat(pairs: list[tuple[LightState, LightState | None, float | None]]) -> Spat:
    """Signal groups 1..6: (light, next light, end of the light now) each."""
    phases = []
    for k, (light, nxt, end) in enumerate(pairs, start=1):
        states = [PhaseState(light=light, start_s=0.0, likely_end_s=end)]
        if nxt is not None:
            states.append(PhaseState(light=nxt, start_s=end, likely_end_s=(end or 0.0) + 3.0))
        phases.append(SignalPhase(phase_id=k, states=tuple(states)))
    state = IntersectionState(node=NODE, timestamp_ms=0, phases=tuple(phases))
    return Spat(msg_count=1, intersections=(state,), timestamp_ms=0)


def test_vectorised_right_of_way_equals_the_per_movement_rule() -> None:
    lights = list(LightState)
    combos = list(itertools.product(lights, [None, *lights], [None, 2.0, 5.0]))
    checked = 0
    for start in range(0, len(combos), 6):  # six signal groups per SPAT
        chunk = (combos[start : start + 6] * 6)[:6]
        scene = Scene(FRAME)
        scene.ingest(cross_map(phases=PHASES), received_at_ms=0, source="rsu")
        scene.ingest(_spat(chunk), received_at_ms=0, source="rsu")
        view = scene.update(0)
        movements = movements_of(view)
        assert movements is not None
        ids = np.array([p.index for p in movements.junction(0)], dtype=np.int64)
        paths = np.repeat(ids, len(_ARRIVALS))
        arrival = np.tile(np.array(_ARRIVALS), ids.size)
        got = movement_right_of_way(view, movements, paths, arrival)
        want = [
            _right_of_way(view, movements, p, t)
            for p, t in zip(paths.tolist(), arrival.tolist(), strict=True)
        ]
        assert got.tolist() == want, chunk
        checked += len(want)
    assert checked > 5_000
