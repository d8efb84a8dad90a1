"""The scripted platform reports rates over the last second, as the platform does: while
warnings are issued, "adv/s out" is not 0 on the ticks between two of them."""

from __future__ import annotations

from v2xcloud.api.testing import ScriptedLive


def test_advisory_rate_counts_the_last_second_not_one_tick() -> None:
    start = 1_700_000_000_000
    live = ScriptedLive(start_ms=start, hazard_at_s=0.0)
    issued: list[int] = []
    rates: list[tuple[int, float, float]] = []
    for i in range(1, 150):  # 15 s at 10 Hz
        now = start + i * 100
        delta = live.step(now)
        issued += [now] * len(delta.advisories)
        assert delta.stats is not None
        rates.append((now, delta.stats.advisories_out_per_s, delta.stats.messages_in_per_s))
    assert len(issued) >= 5
    for now, out_per_s, in_per_s in rates:
        if now - start < 2000:
            continue
        in_last_2s = sum(1 for t in issued if now - 2000 < t <= now)
        if in_last_2s >= 2:  # warnings keep coming: the rate says so on every tick
            assert out_per_s > 0, (now, rates)
        assert in_per_s > 50  # ~10 participants at 10 Hz
    # the rate is a count per second over the last refresh period (≤ what was issued)
    assert max(r[1] for r in rates) <= len(issued)
