"""Zero replays accepted by the security stage: any sequence of real signed frames, repeated in
any order at any arrival time, with a small replay table, never has the same frame verified
twice; and a bad policy text is refused."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from v2xcloud.errors import ConfigError
from v2xcloud.security.pki import Pki
from v2xcloud.security.replay import ReplayWindow
from v2xcloud.security.signing import FrameSigner
from v2xcloud.security.types import SecurityProfile
from v2xcloud.security.verify import Policy, Verified, stage_from_pki

from ._pki import NOW_MS, pkis, uper_bsm

__all__ = ["pkis"]

_POOL = 12  # distinct signed frames, generated 100 ms apart


@pytest.fixture(scope="module")
def pool(pkis) -> tuple[Pki, list[bytes]]:  # type: ignore[no-untyped-def]
    pki = pkis[SecurityProfile.INTL, "main"]
    signer = FrameSigner.for_device(pki, "obu-1")
    frames = [
        signer.sign(uper_bsm(f"{i:016x}"), generation_time_ms=NOW_MS + 100 * i)
        for i in range(_POOL)
    ]
    return pki, frames


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    arrivals=st.lists(st.tuples(st.integers(0, _POOL - 1), st.integers(0, 1500)), max_size=40),
    capacity=st.integers(1, 6),
)
def test_no_frame_is_verified_twice(pool, arrivals, capacity) -> None:  # type: ignore[no-untyped-def]
    pki, frames = pool
    stage = stage_from_pki(pki, policy=Policy.parse("require"), window_ms=1000, future_ms=200)
    stage.replay = ReplayWindow(window_ms=1200, capacity=capacity)
    verified: set[bytes] = set()
    clock = NOW_MS
    for index, delay in arrivals:
        clock = max(clock, NOW_MS + 100 * index) + delay // 10  # arrivals move forward
        raw = frames[index]
        result = stage.process(raw, kind="obu", now_ms=clock)
        if isinstance(result, Verified):
            assert raw not in verified, f"frame {index} verified twice"
            verified.add(raw)


def test_policy_text_is_checked() -> None:
    with pytest.raises(ConfigError, match="device kind 'OBU'"):
        Policy.parse("require,OBU=off")
    with pytest.raises(ConfigError, match="use one of"):
        Policy.parse("strict")
