"""Per-source clock offsets, so frames from sources with skewed clocks are all usable.

Each frame gives one sample ``received_at_ms - frame_time_ms`` = clock offset + network delay.
Delay is never negative and jitter only adds to it, so the minimum over a sliding window is a
robust estimate of offset + the smallest delay (NTP's minimum filter). A frame's platform time
is then ``frame_time_ms + estimate``: never later than its arrival, and consistent between
sources, so an RSU whose clock lags another's is corrected instead of having its frames dropped.
"""

from __future__ import annotations

from collections import deque

from v2xcloud.bounded import LruTable

__all__ = ["SourceClocks"]


class SourceClocks:
    """Sliding-window minimum of (arrival − frame time) per source.

    ``window_ms`` bounds how long an old sample can hold the minimum, so a source whose clock
    is stepped (or whose path gets slower) is re-estimated within that window. At most
    ``max_sources`` sources are tracked: past that the one heard from least recently is
    forgotten (counted in :attr:`evicted`) and starts afresh if it comes back.

    >>> clocks = SourceClocks(window_ms=10_000)
    >>> clocks.to_platform("rsu-1", frame_ms=1_000, received_at_ms=6_040)
    6040
    >>> clocks.to_platform("rsu-1", frame_ms=1_100, received_at_ms=6_120)  # 20 ms faster path
    6120
    >>> clocks.offset_ms("rsu-1")
    5020
    """

    def __init__(self, *, window_ms: int = 30_000, max_sources: int = 10_000) -> None:
        self.window_ms = window_ms
        self._windows: LruTable[str, deque[tuple[int, int]]] = LruTable(
            limit=max_sources, name="per-source clock offsets"
        )

    @property
    def evicted(self) -> int:
        """Sources forgotten because more than ``max_sources`` were tracked."""
        return self._windows.evicted

    def __len__(self) -> int:
        return len(self._windows)

    def to_platform(self, source: str, *, frame_ms: int, received_at_ms: int) -> int:
        """Record one sample and return the frame's time on the platform clock (UTC ms)."""
        windows = self._windows
        window = windows.get(source)
        if window is None:
            window = windows[source] = deque()
        else:
            windows.move_to_end(source)  # heard from: the most recent source now
        sample = received_at_ms - frame_ms
        # monotonic deque: the front is always the window's minimum
        while window and window[-1][1] >= sample:
            window.pop()
        window.append((received_at_ms, sample))
        horizon = received_at_ms - self.window_ms
        while window[0][0] < horizon:
            window.popleft()
        return frame_ms + window[0][1]

    def offset_ms(self, source: str) -> int | None:
        """Current estimate of the source's offset + minimum delay, ms; ``None`` if never seen."""
        window = self._windows.get(source)
        return window[0][1] if window else None

    def sources(self) -> dict[str, int]:
        """Every known source with its current estimate, ms."""
        return {name: w[0][1] for name, w in self._windows.items() if w}
