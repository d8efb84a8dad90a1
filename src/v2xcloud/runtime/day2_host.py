"""The Day-2 host: hands each Day-2 app the requests it declared, runs it on the tick's view
and collects the messages it sends; isolates failures like the ``AppHost``.

Requests wait in one bounded inbox between ticks (``capacity``): past it a request is refused
(the caller dead-letters it as ``queue_full``). Sent messages are counted per app and type
and kept until the runtime's owner takes them (``take``), at most ``outbox_capacity``: older
ones are dropped first and counted in ``outbox_dropped``, so a deployment without a down-link
reader cannot grow without bound.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Sequence

from v2xcloud.apps.day2 import Day2App
from v2xcloud.failures import FailureLog
from v2xcloud.model.day2_exchange import Outbound, Request
from v2xcloud.twin import SceneView

__all__ = ["Day2Host"]

logger = logging.getLogger(__name__)


class Day2Host:
    """Runs the Day-2 applications in order (``apps``); see the module docstring."""

    def __init__(
        self,
        apps: Sequence[Day2App],
        *,
        failures: FailureLog | None = None,
        capacity: int = 10_000,
        outbox_capacity: int = 10_000,
    ) -> None:
        self.apps = list(apps)
        self.failures = failures if failures is not None else FailureLog(logger=logger)
        self.accepted: frozenset[type] = frozenset(t for a in self.apps for t in a.accepts)
        self.capacity = capacity
        self._inbox: list[Request] = []
        self._outbox: deque[Outbound] = deque(maxlen=outbox_capacity)
        self.sent: Counter[str] = Counter()  # "<app>:<message type>" -> messages
        self.requests_in: Counter[str] = Counter()  # request model type -> requests
        self.errors: Counter[str] = Counter()
        self.outbox_dropped = 0

    def takes(self, message: object) -> bool:
        """Whether some app accepts this message type (then it is a request, not scene data)."""
        return type(message) in self.accepted

    def offer(self, request: Request) -> bool:
        """Queue one request for the next tick; False (refused) when the inbox is full."""
        if len(self._inbox) >= self.capacity:
            return False
        self._inbox.append(request)
        self.requests_in[type(request.message).__name__] += 1
        return True

    def run(self, view: SceneView, now_ms: int) -> list[Outbound]:
        """Every app's messages for this tick, in app order (also kept for ``take``)."""
        inbox, self._inbox = self._inbox, []
        out: list[Outbound] = []
        for app in self.apps:
            mine = [r for r in inbox if isinstance(r.message, app.accepts)] if app.accepts else []
            try:
                sent = app.on_tick(view, mine, now_ms)
            except Exception as exc:  # one app's bug must not stop the others or the tick
                self.errors[app.code] += 1
                self.failures.record(f"day2:{app.code}", exc, logger=logger)
                continue
            for o in sent:
                self.sent[f"{app.code}:{o.kind}"] += 1
            out.extend(sent)
        room = self._outbox.maxlen or 0
        overflow = len(self._outbox) + len(out) - room
        if overflow > 0:
            self.outbox_dropped += min(overflow, len(self._outbox) + len(out))
        self._outbox.extend(out)
        return out

    def take(self) -> list[Outbound]:
        """The messages sent since the last ``take``, oldest first."""
        out = list(self._outbox)
        self._outbox.clear()
        return out

    def stats(self) -> dict[str, object]:
        """Requests in per type, messages sent per app and type, failures per app, drops."""
        return {
            "requests_in": dict(self.requests_in),
            "sent": dict(self.sent),
            "errors": dict(self.errors),
            "outbox_dropped": self.outbox_dropped,
        }
