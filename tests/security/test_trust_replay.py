"""The replay window: no signature is accepted twice, however the table is loaded; bounded."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from v2xcloud.security.replay import ReplayWindow

# (signature id, generation-time offset ms, arrival delay ms): ids repeat on purpose
_EVENTS = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 3000), st.integers(0, 1500)),
    min_size=1,
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(events=_EVENTS, capacity=st.integers(1, 50), window_ms=st.integers(100, 2000))
def test_no_signature_is_accepted_twice(
    events: list[tuple[int, int, int]], capacity: int, window_ms: int
) -> None:
    """Whatever the order, capacity and window: a key accepted once is never accepted again
    while its generation time is within the window of the arrival (older is STALE, judged
    before the replay table by the stage, and mirrored here)."""
    window = ReplayWindow(window_ms=window_ms, capacity=capacity)
    accepted: set[bytes] = set()
    for key_id, generated, delay in events:
        key = key_id.to_bytes(2, "big") + generated.to_bytes(4, "big")
        now = generated + delay
        if generated < now - window_ms:
            continue  # the stage refuses it as stale before asking the table
        replay = window.seen(key, generated, now_ms=now)
        if not replay:
            assert key not in accepted, f"{key.hex()} accepted twice"
            accepted.add(key)
        assert len(window) <= capacity


def test_table_is_bounded_and_raises_its_floor() -> None:
    window = ReplayWindow(window_ms=10_000, capacity=3)
    for i in range(5):
        assert not window.seen(bytes([i]), 1000 + i, now_ms=1000 + i)
    assert len(window) == 3 and window.forgotten == 2
    assert window.floor_ms == 1001
    # an original generated at the floor can no longer be told from a replay: refused
    assert window.seen(b"new", 1001, now_ms=1010)
    assert window.refused_below_floor == 1
    assert not window.seen(b"newer", 1005, now_ms=1010)


def test_entries_expire_with_the_window() -> None:
    window = ReplayWindow(window_ms=100, capacity=1000)
    assert not window.seen(b"a", 0, now_ms=0)
    assert window.seen(b"a", 0, now_ms=50)
    window.accept(b"b", 500, now_ms=500)
    assert len(window) == 1  # "a" (generated at 0) left the window at 500
    # and stays refused even if a frame arrives with an earlier clock
    assert window.is_known(b"a", 0)
