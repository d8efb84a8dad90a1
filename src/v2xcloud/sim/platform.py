"""What the test bench drives: anything that ingests frames and ticks out advisories.

The real platform is :class:`v2xcloud.runtime.Runtime`; :func:`runtime_platform` wraps it.
Tests may pass their own object with the same two methods.
"""

from __future__ import annotations

from typing import Protocol

from v2xcloud.codec import message_set_of
from v2xcloud.geo import LocalFrame
from v2xcloud.model import Advisory
from v2xcloud.model.day2_exchange import Outbound
from v2xcloud.runtime import MisbehaviourScreen, Runtime
from v2xcloud.runtime.day2_host import Day2Host

__all__ = ["Platform", "runtime_platform"]


class Platform(Protocol):
    """The platform under test, as the bench sees it."""

    def ingest_frame(
        self, raw: bytes, *, received_at_ms: int, source: str, kind: str = "unknown"
    ) -> None:
        """Take one received UPER frame (decode, reject or update the scene); ``kind`` is the
        sending device's kind (``"obu"``, ``"rsu"``) when the bench knows it (the security
        policy is per kind)."""

    def tick(self, now_ms: int) -> list[Advisory]:
        """Run the applications at ``now_ms`` (UTC ms) and return their advisories."""

    def app_codes(self) -> set[str]:
        """The application codes this platform runs (scored apps)."""

    def misbehaviour_flags(self) -> dict[str, int]:
        """Participant ids flagged as misbehaving → when (UTC ms); empty without detection."""

    def day2_codes(self) -> set[str]:
        """The Day-2 application codes this platform runs (``apps.day2``)."""

    def take_outbound(self) -> list[Outbound]:
        """The Day-2 messages its applications sent since the last call, oldest first."""


class _RuntimeAdapter:
    """Adapts ``v2xcloud.runtime.Runtime`` to :class:`Platform`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def ingest_frame(
        self, raw: bytes, *, received_at_ms: int, source: str, kind: str = "unknown"
    ) -> None:
        self.runtime.ingest_frame(raw, received_at_ms=received_at_ms, source=source, kind=kind)

    def tick(self, now_ms: int) -> list[Advisory]:
        return list(self.runtime.tick(now_ms))

    def app_codes(self) -> set[str]:
        return {str(app.code) for app in self.runtime.host.apps}

    def misbehaviour_flags(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.runtime.misbehaviour_reports():
            out.setdefault(r.sender_id, r.flagged_at_ms)
        return out

    def day2_codes(self) -> set[str]:
        return {app.code for app in self.runtime.day2.apps}

    def take_outbound(self) -> list[Outbound]:
        return self.runtime.take_outbound()


def runtime_platform(
    *,
    message_set: str,
    origin_lat_deg: float,
    origin_lon_deg: float,
    screen: MisbehaviourScreen | None = None,
    without_day2: frozenset[str] = frozenset(),
) -> tuple[Platform, Runtime]:
    """The real platform: a ``Runtime`` with every registered app (V2V and V2I) and every
    Day-2 app but those in ``without_day2`` (codes: the baseline run of a Day-2 scenario),
    reading ``message_set`` UPER, its local frame centred on the scenario's origin, with the
    misbehaviour ``screen`` when given. Returns the adapter and the runtime (for its stats
    and dead letters).
    """
    frame = LocalFrame(origin_lat_deg=origin_lat_deg, origin_lon_deg=origin_lon_deg)
    runtime = Runtime(frame=frame, message_set=message_set_of(message_set), screen=screen)
    if without_day2:
        kept = [a for a in runtime.day2.apps if a.code not in without_day2]
        runtime.day2 = Day2Host(kept, failures=runtime.failures)
    return _RuntimeAdapter(runtime), runtime
