"""What every Day-2 application is: a small class that reads the scene and the requests it
received, and returns the standard messages the platform sends, as domain objects.

Day-1 apps return ``Advisory`` rows (a warning for one vehicle). A Day-2 app coordinates,
shares or serves: its output is a T/CSAE 157-2020 message (``model.day2``: ``Ssm``, ``Rsc``,
``Pam``, ``Vpm``, ``Rtcm``, ...) addressed to the road users that must hear it, an
``Outbound``; the codec turns the message into UPER and the down-link carries it. What a
vehicle sends to the platform (a VIR request, a VPM reply) reaches the app as a ``Request``:
an app declares the message types it takes in ``accepts`` and the host hands it only those.
Like the Day-1 apps, a Day-2 app never does I/O and never reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import msgspec

from v2xcloud.model.day2_exchange import Outbound, Request
from v2xcloud.twin import SceneView

__all__ = ["Day2App", "Day2Config", "Outbound", "Request"]


class Day2Config(msgspec.Struct, frozen=True, kw_only=True):
    """Settings every Day-2 application has; subclasses add theirs. ``period_ms``: how often
    the app sends its periodic messages (requests are answered at the next tick)."""

    period_ms: int = 100


class Day2App:
    """Base of the Day-2 applications: subclasses set ``code``, ``config_type``, ``accepts``
    and implement ``on_tick``."""

    code: ClassVar[str] = ""
    config_type: ClassVar[type[Day2Config]] = Day2Config
    #: the request message types (``model.day2`` classes) the app takes; others never reach it
    accepts: ClassVar[tuple[type, ...]] = ()

    def __init__(self, config: Day2Config | None = None) -> None:
        self.config = config if config is not None else self.config_type()

    def on_tick(self, view: SceneView, requests: Sequence[Request], now_ms: int) -> list[Outbound]:
        """The messages to send now, given this tick's scene and the requests received since
        the last tick (only types in ``accepts``, oldest first)."""
        raise NotImplementedError(f"{type(self).__name__} must implement on_tick()")

    def is_due(self, now_ms: int, last_ms: int | None) -> bool:
        """Whether a periodic send is due at ``now_ms`` after the last one at ``last_ms``."""
        return last_ms is None or now_ms - last_ms >= self.config.period_ms
