"""Hand-overs from a fast codec path to asn1tools: the ``Fallback`` signal, counted and logged.

A fast decoder or encoder (``codec.fast``) covers the common shape of a hot message; for
anything else (an extension it does not plan for, an uncovered form) it raises ``Fallback``
and the generic asn1tools path does the work. That is by design, not a failure, but it costs
speed, so each hand-over is counted per message set, direction, alternative and reason
(``hand_overs()``, in ``Runtime.stats()["codec"]``) and logged once per such key at INFO.
A fast path that raises anything else on input the generic path accepts is a bug: that is
``frame.FAST_PATH_FAILURES``' business.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

__all__ = ["Fallback", "hand_overs", "note_hand_over"]

logger = logging.getLogger("v2xcloud.codec.fast")

_LOCK = threading.Lock()
_COUNTS: Counter[tuple[str, str, str, str]] = Counter()
_MAX_KEYS = 256  # reasons come from our own generated code: a handful; bound it anyway


class Fallback(Exception):
    """The value uses something the fast plan does not cover; the generic path takes it."""


def note_hand_over(message_set: str, direction: str, alternative: str, exc: BaseException) -> None:
    """Count one hand-over (``direction`` "decode"/"encode"); log the first of each key."""
    reason = str(exc) or type(exc).__name__
    key = (message_set, direction, alternative, reason)
    with _LOCK:
        first = key not in _COUNTS
        if first and len(_COUNTS) >= _MAX_KEYS:
            key = (message_set, direction, alternative, "(other reasons)")
            first = key not in _COUNTS
        _COUNTS[key] += 1
    if first:
        logger.info(
            "fast %s %s of %s hands over to asn1tools: %s (counted in Runtime.stats()"
            "['codec']; logged once per reason)",
            message_set,
            direction,
            alternative,
            reason,
        )


def hand_overs() -> dict[str, int]:
    """``"set direction alternative: reason"`` → hand-overs so far in this process."""
    with _LOCK:
        items = list(_COUNTS.items())
    return {f"{s} {d} {a}: {r}": n for (s, d, a, r), n in sorted(items)}
