"""An alarm for the operators: something on the road, in a device or a vehicle that needs a
person to look at it, with its workflow (open → acknowledged → closed) and who did each step.

Sources (``AlarmSource``): road events in force, GB/T 32960 level-3 EV alarms, device faults
(offline, dead-letter bursts, an abnormal down-link) and misbehaviour reports. One alarm per
``(source, subject, kind)`` is live at a time: a repeat of the same condition updates it
(``occurrences``, ``updated_ms``, the newest ``summary`` and ``severity``) instead of adding a
row. Severities follow ITU-T X.733's perceived severity (critical, major, minor, warning).

``cleared_ms`` is when the condition itself ended (a road event ended, a device came back);
a cleared alarm is closed by the platform (``closed_by`` ``CLEARED_BY``). Times are UTC ms.

>>> a = Alarm(alarm_id="a1", source=AlarmSource.DEVICE, subject="R1", kind="offline",
...           severity=AlarmSeverity.MAJOR, summary="R1 offline", raised_ms=5, updated_ms=5)
>>> a.state, a.is_live, a.key
(<AlarmState.OPEN: 'open'>, True, 'device|R1|offline')
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

__all__ = ["CLEARED_BY", "Alarm", "AlarmSeverity", "AlarmSource", "AlarmState"]

CLEARED_BY = "v2xcloud:cleared"
"""``closed_by`` of an alarm the platform closed because its condition ended."""


class AlarmSource(StrEnum):
    """Where an alarm comes from."""

    ROAD_EVENT = "road_event"
    EV = "ev"
    DEVICE = "device"
    MISBEHAVIOUR = "misbehaviour"


class AlarmSeverity(StrEnum):
    """X.733 perceived severity, most severe first."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"

    @property
    def rank(self) -> int:
        """3 critical, 2 major, 1 minor, 0 warning (higher is worse)."""
        return _RANK[self]


_RANK = {
    AlarmSeverity.CRITICAL: 3,
    AlarmSeverity.MAJOR: 2,
    AlarmSeverity.MINOR: 1,
    AlarmSeverity.WARNING: 0,
}


class AlarmState(StrEnum):
    """Where an alarm is in the operators' workflow."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class Alarm(msgspec.Struct, frozen=True, kw_only=True):
    """One alarm (see the module docstring).

    ``subject`` names what it is about (a road event's key, a device id, a VIN, a sender id),
    ``kind`` the condition (``"offline"``, ``"dead_letter_burst"``, an event kind, ...);
    ``tenant`` owns it (``None``: the deployment's, seen by every tenant, as the road is);
    ``lat_deg``/``lon_deg`` where it is, when known. ``acked_by``/``closed_by`` are the caller
    identities (``via:subject@tenant``) that took the step, at ``acked_ms``/``closed_ms``.
    """

    alarm_id: str
    source: AlarmSource
    subject: str
    kind: str = ""
    severity: AlarmSeverity
    summary: str
    tenant: str | None = None
    lat_deg: float | None = None
    lon_deg: float | None = None
    raised_ms: int
    updated_ms: int
    occurrences: int = 1
    cleared_ms: int | None = None
    state: AlarmState = AlarmState.OPEN
    acked_by: str | None = None
    acked_ms: int | None = None
    closed_by: str | None = None
    closed_ms: int | None = None

    @property
    def key(self) -> str:
        """The dedupe identity: ``source|subject|kind``."""
        return f"{self.source.value}|{self.subject}|{self.kind}"

    @property
    def is_live(self) -> bool:
        """Not closed yet (open or acknowledged)."""
        return self.state is not AlarmState.CLOSED
