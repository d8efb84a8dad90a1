"""SourceClocks: offsets robust to jitter, per source, re-estimated after a clock step."""

from __future__ import annotations

import numpy as np

from v2xcloud.twin import SourceClocks


def test_minimum_filter_removes_jitter() -> None:
    clocks = SourceClocks(window_ms=30_000)
    rng = np.random.default_rng(5)
    out = []
    for k in range(100):
        sent = 1_000_000 + 100 * k
        delay = 10 + int(rng.exponential(15))  # 10 ms floor plus jitter
        out.append(clocks.to_platform("rsu", frame_ms=sent - 3_000, received_at_ms=sent + delay))
    # the RSU's clock is 3 s behind: corrected times land within the delay floor of the truth
    errors = [t - (1_000_000 + 100 * k) for k, t in enumerate(out)]
    assert max(errors[20:]) <= 12 and min(errors) >= 0
    assert clocks.offset_ms("rsu") is not None and 3_000 <= clocks.offset_ms("rsu") <= 3_012  # type: ignore[operator]


def test_sources_are_independent_and_a_step_is_relearnt() -> None:
    clocks = SourceClocks(window_ms=1_000)
    for k in range(20):
        t = 100 * k
        clocks.to_platform("a", frame_ms=t - 500, received_at_ms=t + 5)
        clocks.to_platform("b", frame_ms=t + 700, received_at_ms=t + 5)
    assert clocks.sources() == {"a": 505, "b": -695}
    for k in range(20, 40):  # a's clock is stepped forward by 400 ms
        clocks.to_platform("a", frame_ms=100 * k - 100, received_at_ms=100 * k + 5)
    assert clocks.offset_ms("a") == 105
    assert clocks.offset_ms("unknown") is None
