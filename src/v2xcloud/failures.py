"""Failures at isolation boundaries: counted per boundary, logged once, never propagated.

An isolation boundary is a place where the platform catches an exception so that one broken
part (an application, an event detector, a sink, one EV connection, a codec fast path) cannot
stop the rest. Catching is only honest if the failure stays visible, so every such ``except``
hands the exception to a :class:`FailureLog`:

- the count per boundary (``"app:FCW"``, ``"detector:stopped_vehicle"``, ``"sink:RuntimeLive"``)
  grows by one, and the latest exception per boundary is kept as text;
- the first failure of each (boundary, exception type) is logged with its traceback; repeats
  are only counted, and logged again (without traceback, with the number since the last
  record) at most every ``repeat_every_s`` seconds, so a failure in a 10 Hz loop neither
  vanishes nor floods the log.

The number of distinct boundaries is bounded (``max_boundaries``): boundary names come from
code (app codes, detector kinds, sink classes), but should one be built from input, the
excess is counted under ``"other"`` instead of growing the table.

Like ``errors``, this module sits beside the layers: every package may import it.

>>> failures = FailureLog()
>>> failures.record("app:FCW", ZeroDivisionError("division by zero"))  # logged, traceback
1
>>> failures.record("app:FCW", ZeroDivisionError("division by zero"))  # only counted
2
>>> failures.counts()
{'app:FCW': 2}
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

__all__ = ["OTHER_BOUNDARY", "FailureLog"]

logger = logging.getLogger(__name__)

#: where failures of boundaries past ``max_boundaries`` are counted
OTHER_BOUNDARY = "other"


class FailureLog:
    """Counts and logs the exceptions caught at isolation boundaries; see the module docstring.

    ``logger`` is the default logger records go to (a caller may pass its own per record, so
    a record names the module that caught it). ``monotonic`` is the time source for the
    repeat interval (seconds; tests pass a fake). Thread-safe.
    """

    def __init__(
        self,
        *,
        logger: logging.Logger = logger,
        repeat_every_s: float = 60.0,
        max_boundaries: int = 256,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.repeat_every_s = repeat_every_s
        self.max_boundaries = max_boundaries
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._last: dict[str, str] = {}
        # (boundary, exception type) -> (time last logged, repeats not logged since)
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}

    def record(
        self,
        boundary: str,
        exc: BaseException,
        *,
        logger: logging.Logger | None = None,
        level: int = logging.ERROR,
    ) -> int:
        """Count ``exc`` caught at ``boundary`` and log it if due; returns the boundary's count.

        Call it from the ``except`` block that isolates the failure. ``level`` is the log level
        (``ERROR`` for bugs; e.g. ``INFO`` for a peer resetting its connection, which is
        expected now and then but should still be counted and visible when asked for).
        """
        log = logger or self.logger
        kind = type(exc).__qualname__
        with self._lock:
            if boundary not in self._counts and len(self._counts) >= self.max_boundaries:
                boundary = OTHER_BOUNDARY
            self._counts[boundary] += 1
            count = self._counts[boundary]
            self._last[boundary] = f"{kind}: {exc}"
            now = self._monotonic()
            key = (boundary, kind)
            if key not in self._logged and len(self._logged) >= 4 * self.max_boundaries:
                key = (OTHER_BOUNDARY, "*")  # the log's own rate limit stays bounded too
            seen = self._logged.get(key)
            if seen is None:
                self._logged[key] = (now, 0)
                first, repeats = True, 0
            elif now - seen[0] >= self.repeat_every_s:
                self._logged[key] = (now, 0)
                first, repeats = False, seen[1] + 1
            else:
                self._logged[key] = (seen[0], seen[1] + 1)
                return count
        if first:
            log.log(
                level,
                "%s failed (%s: %s); isolated, counted, carrying on",
                boundary,
                kind,
                exc,
                exc_info=exc,
                extra={"boundary": boundary, "failures": count},
            )
        else:
            log.log(
                level,
                "%s failed again: %d× %s since the last record (latest: %s); %d in total",
                boundary,
                repeats,
                kind,
                exc,
                count,
                extra={"boundary": boundary, "failures": count},
            )
        return count

    def counts(self) -> dict[str, int]:
        """Failures per boundary so far."""
        with self._lock:
            return dict(self._counts)

    def last(self) -> dict[str, str]:
        """The latest failure per boundary, as ``"ExceptionType: message"``."""
        with self._lock:
            return dict(self._last)

    def count(self, boundary: str) -> int:
        """Failures of one boundary so far."""
        with self._lock:
            return self._counts[boundary]
