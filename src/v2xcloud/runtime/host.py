"""The app host: runs every application on a tick's view and isolates their failures."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from v2xcloud.failures import FailureLog
from v2xcloud.model import Advisory

__all__ = ["AppHost", "TickApp"]

logger = logging.getLogger(__name__)


@runtime_checkable
class TickApp(Protocol):
    """What the host needs of an application: a code and ``on_tick(view, now_ms)``."""

    @property
    def code(self) -> str:
        """The application code, e.g. ``"FCW"``."""
        ...

    def on_tick(self, view: Any, now_ms: int) -> list[Advisory]:
        """This tick's advisories."""
        ...


class AppHost:
    """Runs applications in order. An application that raises is counted in ``errors`` (per
    app code), its exception kept in ``last_error`` and handed to ``failures`` (boundary
    ``app:<code>``: logged once with its traceback, counted in ``Runtime.stats()["errors"]``);
    the other applications and the process carry on, and the failing app is retried on the
    next tick."""

    def __init__(self, apps: Sequence[TickApp], *, failures: FailureLog | None = None) -> None:
        self.apps = list(apps)
        self.failures = failures if failures is not None else FailureLog(logger=logger)
        self.errors: Counter[str] = Counter()
        self.last_error: dict[str, BaseException] = {}

    def run(self, view: Any, now_ms: int) -> list[Advisory]:
        """Every application's advisories for this tick, in application order."""
        out: list[Advisory] = []
        for app in self.apps:
            try:
                out.extend(app.on_tick(view, now_ms))
            except Exception as exc:  # an app bug must not stop the safety loop
                self.errors[app.code] += 1
                self.last_error[app.code] = exc
                self.failures.record(f"app:{app.code}", exc, logger=logger)
        return out
