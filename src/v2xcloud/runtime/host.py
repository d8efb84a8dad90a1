"""The app host: runs every application on a tick's view and isolates their failures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from v2xcloud.model import Advisory

__all__ = ["AppHost", "TickApp"]


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
    """Runs applications in order. An application that raises is counted in ``errors`` and
    its exception kept in ``last_error`` (with the app code); the other applications and the
    process carry on, and the failing app is retried on the next tick."""

    def __init__(self, apps: Sequence[TickApp]) -> None:
        self.apps = list(apps)
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
        return out
