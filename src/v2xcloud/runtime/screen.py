"""The misbehaviour screen the runtime calls on every accepted report (wired in from above).

The runtime does not know how senders are judged (``security`` does, and runtime may not
import it); it only knows this protocol. ``Runtime(screen=...)`` calls ``screen`` on each
message that passed the validity stage, before the scene takes it:

- a refused report (its sender is flagged) is dropped as ``DropReason.MISBEHAVING``, counted
  and kept as a dead letter, so a flagged sender's later reports never reach the scene, the
  applications or the event detectors;
- the sender's states accepted before the flag expire from the scene within its
  ``stale_after_ms``; until then advisories naming a flagged sender (as ego or other party)
  are suppressed and counted (``stats()["misbehaviour"]["advisories_suppressed"]``);
- the misbehaviour reports are handed to the misbehaviour sinks (the history) once per tick
  and the newest are kept for the API (``MisbehaviourReports``).

Why refuse rather than keep a flagged sender as a "suspect" participant: its claims are not
evidence of anything on the road; if there is a real vehicle, roadside perception still
reports it as an object of its own, which the scene keeps and the applications warn about.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from v2xcloud.model import MisbehaviourReport

__all__ = ["MisbehaviourReports", "MisbehaviourScreen", "MisbehaviourSink"]

#: takes the misbehaviour reports of one tick (a non-empty batch, oldest first); must not block
MisbehaviourSink = Callable[[Sequence[MisbehaviourReport]], None]


class MisbehaviourScreen(Protocol):
    """What the runtime needs of misbehaviour detection (``security.MisbehaviourDetector``)."""

    def screen(
        self,
        message: Any,
        *,
        received_at_ms: int,
        source: str,
        certificate_digest: str | None = None,
    ) -> str | None:
        """``None``: use the message; else the sentence why it is refused."""

    def is_flagged(self, sender: str) -> bool:
        """Whether ``sender`` (a participant id) is flagged now."""

    def take_reports(self) -> list[MisbehaviourReport]:
        """Misbehaviour reports produced since the last call, oldest first."""

    def stats(self) -> dict[str, Any]:
        """The screen's counters."""


class MisbehaviourReports:
    """The newest ``capacity`` misbehaviour reports (for the API) and a count of all."""

    def __init__(self, *, capacity: int = 1000) -> None:
        self._reports: deque[MisbehaviourReport] = deque(maxlen=capacity)
        self.total = 0

    def extend(self, reports: Sequence[MisbehaviourReport]) -> None:
        """Keep reports (the oldest kept ones drop out when full)."""
        self._reports.extend(reports)
        self.total += len(reports)

    def recent(self, limit: int | None = None) -> list[MisbehaviourReport]:
        """Kept reports, newest last; at most ``limit``."""
        out = list(self._reports)
        return out if limit is None else out[-limit:]
