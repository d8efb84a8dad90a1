"""What passes between the platform's Day-2 applications and the road: the requests they
receive and the messages they send, as domain objects (no wire format).

``Request`` wraps a Day-2 message a road user or roadside unit sent to the platform (a VIR,
a VPM reply); ``Outbound`` one standard message (a ``model.day2`` type) the platform sends to
named road users. The apps (``apps.day2``) return ``Outbound``; the runtime collects them;
the codec encodes their ``message``; the down-link (or the test bench) carries them.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["Outbound", "Request"]


class Request(msgspec.Struct, frozen=True, kw_only=True):
    """One Day-2 message a road user or roadside unit sent to the platform: the decoded
    model (``model.day2``), the sender's device/channel name and when it arrived (UTC ms)."""

    message: Any
    source: str
    received_at_ms: int


class Outbound(msgspec.Struct, frozen=True, kw_only=True):
    """One standard message the platform sends.

    ``message`` is the domain object (a ``model.day2`` type) the codec encodes;
    ``recipients`` the participant ids (scene ids: BSM temporary ids) it is meant for, never
    empty; ``via_rsu`` the roadside unit that transmits it (``None``: the platform's own
    cellular down-link); ``issued_ms`` when the app issued it (UTC ms).
    """

    app: str
    message: Any
    recipients: tuple[str, ...]
    issued_ms: int
    via_rsu: str | None = None

    @property
    def kind(self) -> str:
        """The message's standard name ("SSM", "RTCM", ...): its model type in capitals."""
        return type(self.message).__name__.upper()
