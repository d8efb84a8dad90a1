"""The channel model: latency, jitter and loss, seeded and reproducible."""

from __future__ import annotations

import pytest

from v2xcloud.errors import ConfigError
from v2xcloud.sim.channel import Channel


def _flood(ch: Channel, n: int) -> None:
    for k in range(n):
        ch.send(bytes([k % 256]), sent_ms=k, sender="v", kind="BSM", about=("v",))


def test_latency_delays_every_frame() -> None:
    ch = Channel(latency_ms=50.0)
    _flood(ch, 10)
    assert ch.deliver_until(49) == []
    got = ch.deliver_until(59)
    assert [d.arrive_ms - d.sent_ms for d in got] == [50] * 10


def test_jitter_stays_in_bounds_and_delivery_is_time_ordered() -> None:
    ch = Channel(latency_ms=50.0, jitter_ms=20.0, seed=3)
    _flood(ch, 500)
    got = ch.deliver_until(10_000)
    delays = [d.arrive_ms - d.sent_ms for d in got]
    assert min(delays) >= 30 and max(delays) <= 70 and len(set(delays)) > 10
    assert [d.arrive_ms for d in got] == sorted(d.arrive_ms for d in got)


def test_loss_rate_is_close_and_reproducible() -> None:
    runs = []
    for _ in range(2):
        ch = Channel(latency_ms=10.0, loss=0.05, seed=7)
        _flood(ch, 20_000)
        runs.append([d.raw for d in ch.deliver_until(10**9)])
        assert ch.stats.lost + ch.stats.delivered == ch.stats.sent == 20_000
        assert 0.04 < ch.stats.lost / ch.stats.sent < 0.06
    assert runs[0] == runs[1]


@pytest.mark.parametrize("kwargs", [{"latency_ms": -1.0}, {"loss": 1.0}, {"loss": -0.1}])
def test_bad_settings_say_what(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="channel"):
        Channel(**kwargs)
