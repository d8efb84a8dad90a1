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

On the backbone (``TierScreen``) the edge workers run the screen on the senders they read
and publish the flags of the senders in their own tiles; every worker takes every published
flag in (``flag``), so a flagged sender that drives into another worker's tile is refused
there too, though that worker never saw it misbehave.

Why refuse rather than keep a flagged sender as a "suspect" participant: its claims are not
evidence of anything on the road; if there is a real vehicle, roadside perception still
reports it as an object of its own, which the scene keeps and the applications warn about.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from v2xcloud.model import Bsm, MisbehaviourReport, ParticipantSource, ParticipantState

__all__ = [
    "FlagBook",
    "MisbehaviourReports",
    "MisbehaviourScreen",
    "MisbehaviourSink",
    "TierScreen",
]

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


class FlagBook:
    """Senders flagged by other processes (published on the backbone): ``flag`` one,
    ``refusal(sender, now_ms)`` says why a self-report of it is refused (None: not flagged).

    A flag lasts ``ttl_ms`` after its last refusal (the detector's own rule: ``FLAG_TTL_MS``
    after the last refused report); at most ``capacity`` senders are held (the least recently
    refused dropped first, counted ``remote_evicted``). Not thread-safe: one thread uses it.
    """

    def __init__(self, *, ttl_ms: int = 600_000, capacity: int = 100_000) -> None:
        self.ttl_ms = ttl_ms
        self.capacity = capacity
        self.counts: Counter[str] = Counter()
        self._flags: OrderedDict[str, tuple[int, MisbehaviourReport]] = OrderedDict()

    def __len__(self) -> int:
        """Senders held now."""
        return len(self._flags)

    def __contains__(self, sender: object) -> bool:
        """Whether ``sender`` is held (not yet found expired)."""
        return sender in self._flags

    def flag(self, report: MisbehaviourReport, now_ms: int) -> None:
        """A flag another process (or this one, read back) published."""
        if report.sender_id not in self._flags:
            self.counts["remote_flags"] += 1
        self._flags[report.sender_id] = (now_ms, report)
        self._flags.move_to_end(report.sender_id)
        while len(self._flags) > self.capacity:
            self._flags.popitem(last=False)
            self.counts["remote_evicted"] += 1

    def refusal(self, sender: str, now_ms: int) -> str | None:
        """Why a self-report of ``sender`` at ``now_ms`` is refused; None when not flagged
        (or its flag expired). A refusal keeps the flag ``ttl_ms`` longer."""
        held = self._flags.get(sender)
        if held is None:
            return None
        if now_ms - held[0] > self.ttl_ms:
            del self._flags[sender]
            self.counts["remote_expired"] += 1
            return None
        report = held[1]
        self._flags[sender] = (now_ms, report)
        self._flags.move_to_end(sender)
        self.counts["remote_refused"] += 1
        return (
            f"sender {sender} was flagged as misbehaving at {report.flagged_at_ms} "
            f"({report.reason.value}) by another process"
        )


class TierScreen:
    """A worker's screen: its own detector (``inner``, e.g. ``security.MisbehaviourDetector``)
    plus the flags other processes published (``flag``, kept in a ``FlagBook``).

    A self-report (BSM) of a sender flagged elsewhere is refused without being judged (the
    verdict travels with the sender across tiles; its history stays with the worker that
    judged it). Everything else goes to ``inner``.
    """

    def __init__(
        self, inner: MisbehaviourScreen, *, ttl_ms: int = 600_000, capacity: int = 100_000
    ) -> None:
        self.inner = inner
        self.remote = FlagBook(ttl_ms=ttl_ms, capacity=capacity)

    def flag(self, report: MisbehaviourReport, now_ms: int) -> None:
        """A flag another process (or this one, read back) published."""
        self.remote.flag(report, now_ms)

    def screen(
        self,
        message: Any,
        *,
        received_at_ms: int,
        source: str,
        certificate_digest: str | None = None,
    ) -> str | None:
        """Refuse a self-report of a sender flagged elsewhere; else ask ``inner``."""
        state = message.participant if isinstance(message, Bsm) else message
        if (
            len(self.remote)
            and isinstance(state, ParticipantState)
            and state.source is ParticipantSource.BSM
        ):
            refused = self.remote.refusal(state.id, received_at_ms)
            if refused is not None:
                return refused
        return self.inner.screen(
            message,
            received_at_ms=received_at_ms,
            source=source,
            certificate_digest=certificate_digest,
        )

    def is_flagged(self, sender: str) -> bool:
        """Flagged here or elsewhere."""
        return sender in self.remote or self.inner.is_flagged(sender)

    def take_reports(self) -> list[MisbehaviourReport]:
        """This process's own new reports (``inner``'s)."""
        return self.inner.take_reports()

    def stats(self) -> dict[str, Any]:
        """``inner``'s counters, the flags from elsewhere held and refused."""
        return {
            **self.inner.stats(),
            **self.remote.counts,
            "remote_flagged_now": len(self.remote),
        }
