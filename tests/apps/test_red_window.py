"""``red_window`` is ``red_at_arrival`` as an interval: the same answer at every arrival time;
``stop_window`` is red or amber at arrival (``_amber_at_arrival``) the same way."""

from __future__ import annotations

import itertools

import numpy as np

from v2xcloud.apps._signals import _amber_at_arrival, red_at_arrival, red_window, stop_window
from v2xcloud.model import LightState
from v2xcloud.twin.junction import PhaseTiming

_TIMES = (None, 0.0, 1.5, 4.0, 9.0)
_ARRIVALS = np.array([0.0, 0.5, 1.5, 2.0, 3.0, 3.5, 4.0, 4.5, 6.0, 9.0, 12.0, 200.0])


def test_red_window_agrees_with_red_at_arrival_for_every_light_and_time() -> None:
    lights = list(LightState)
    checked = 0
    for light, rem, nxt, nxt_end in itertools.product(lights, _TIMES, [None, *lights], _TIMES):
        timing = PhaseTiming(light=light, remaining_s=rem, next_light=nxt, next_end_s=nxt_end)
        lo, hi = red_window(timing)
        for a in _ARRIVALS.tolist():
            assert (lo < a < hi) == red_at_arrival(timing, a), (timing, a, lo, hi)
            checked += 1
    assert checked > 10_000


def test_stop_window_is_red_or_amber_at_arrival_for_every_light_and_time() -> None:
    lights = list(LightState)
    checked = amber = 0
    for light, rem, nxt, nxt_end in itertools.product(lights, _TIMES, [None, *lights], _TIMES):
        timing = PhaseTiming(light=light, remaining_s=rem, next_light=nxt, next_end_s=nxt_end)
        lo, hi = stop_window(timing)
        for a in _ARRIVALS.tolist():
            red = red_at_arrival(timing, a)
            assert (lo < a < hi) == (red or _amber_at_arrival(timing, a)), (timing, a, lo, hi)
            checked += 1
            amber += not red and _amber_at_arrival(timing, a)
    assert checked > 10_000 and amber > 100
