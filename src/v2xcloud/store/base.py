"""The one interface every history backend implements, and its retention settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import msgspec

from v2xcloud.model import Advisory, DeadLetter, MisbehaviourReport, ParticipantState, RoadEvent
from v2xcloud.store.records import AdvisoryCell, BBox, EvReportRecord, TrackPoint

__all__ = ["TABLES", "HistoryStore", "Retention"]

TABLES = (
    "participant_states",
    "advisories",
    "road_events",
    "dead_letters",
    "misbehaviour_reports",
    "ev_reports",
)

_DAY_MS = 86_400_000


class Retention(msgspec.Struct, frozen=True, kw_only=True):
    """How long each table keeps rows, in milliseconds (``None`` keeps them forever).

    Raw trajectories (``participant_states``) go after 7 days by default, and with them the
    day keys of their pseudonyms (``store.pseudonyms``).
    """

    participant_states_ms: int | None = 7 * _DAY_MS
    advisories_ms: int | None = 30 * _DAY_MS
    road_events_ms: int | None = 30 * _DAY_MS
    dead_letters_ms: int | None = 7 * _DAY_MS
    misbehaviour_reports_ms: int | None = 90 * _DAY_MS  # evidence for revocation decisions
    ev_reports_ms: int | None = 30 * _DAY_MS

    def for_table(self, table: str) -> int | None:
        """The retention of ``table`` (one of ``TABLES``)."""
        keep_ms: int | None = getattr(self, f"{table}_ms")
        return keep_ms


@runtime_checkable
class HistoryStore(Protocol):
    """History of the platform: bulk writes, time-range queries, retention.

    Writes take whole batches (one transaction and one bulk copy per call); callers on the hot
    path go through ``HistoryWriter``, which batches on its own thread. Every method raises
    ``StoreError`` (chained to the driver's exception) when the backend fails.
    """

    def write_participants(self, states: Sequence[ParticipantState]) -> int:
        """Append participant states; returns the number of rows written."""
        ...

    def write_advisories(self, advisories: Sequence[Advisory]) -> int:
        """Append advisories; returns the number of rows written."""
        ...

    def write_road_events(self, events: Sequence[RoadEvent], *, recorded_ms: int) -> int:
        """Append road events as seen at ``recorded_ms``; returns the number of rows written."""
        ...

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Append dead letters (raw bytes kept as BLOB/bytea); returns the rows written."""
        ...

    def write_ev_reports(self, reports: Sequence[EvReportRecord]) -> int:
        """Append EV reports; returns the number of rows written."""
        ...

    def write_misbehaviour(self, reports: Sequence[MisbehaviourReport]) -> int:
        """Append misbehaviour reports (sender, digest, reason, evidence); returns rows."""
        ...

    def misbehaviour_reports(
        self,
        *,
        start_ms: int,
        end_ms: int,
        reason: str | None = None,
        sender_id: str | None = None,
        limit: int = 1000,
    ) -> list[MisbehaviourReport]:
        """Misbehaviour reports flagged in ``[start_ms, end_ms]``, newest first, optionally
        of one reason (``MisbehaviourCheck`` value) and/or one sender."""
        ...

    def latest_participants(
        self, *, at_ms: int, window_ms: int = 60_000, bbox: BBox | None = None
    ) -> list[ParticipantState]:
        """The last state of every participant seen in ``(at_ms - window_ms, at_ms]``."""
        ...

    def trajectory(self, participant_id: str, *, start_ms: int, end_ms: int) -> list[TrackPoint]:
        """Stored positions of one participant in ``[start_ms, end_ms]``, oldest first."""
        ...

    def advisories(
        self,
        *,
        start_ms: int,
        end_ms: int,
        bbox: BBox | None = None,
        app: str | None = None,
        limit: int = 1000,
    ) -> list[Advisory]:
        """Advisories issued in ``[start_ms, end_ms]``, newest first, optionally by place/app."""
        ...

    def advisory_cells(
        self,
        *,
        start_ms: int,
        end_ms: int,
        cell_lat_deg: float,
        cell_lon_deg: float,
        limit: int = 10_000,
    ) -> list[AdvisoryCell]:
        """Advisories issued in ``[start_ms, end_ms]`` counted per cell of a grid of
        ``cell_lat_deg`` × ``cell_lon_deg`` degrees (cells with any, busiest first, at most
        ``limit``); ``StoreError`` for a cell size that is not positive."""
        ...

    def road_events(
        self, *, start_ms: int, end_ms: int, bbox: BBox | None = None, limit: int = 1000
    ) -> list[RoadEvent]:
        """Road events recorded in ``[start_ms, end_ms]``, newest first."""
        ...

    def dead_letters(
        self,
        *,
        start_ms: int,
        end_ms: int,
        reason: str | None = None,
        source: str | None = None,
        limit: int = 1000,
        sources: Sequence[str] | None = None,
    ) -> list[DeadLetter]:
        """Dead letters received in ``[start_ms, end_ms]``, newest first, optionally of one
        reason (``DropReason`` value) and/or one source, and only from ``sources`` when given
        (an empty sequence: none)."""
        ...

    def dead_letter_counts(
        self,
        *,
        start_ms: int,
        end_ms: int,
        by: str = "reason",
        sources: Sequence[str] | None = None,
    ) -> dict[str, int]:
        """Number of dead letters received in ``[start_ms, end_ms]`` per ``by``: ``"reason"``
        or ``"source"`` (raises ``StoreError`` for anything else), only from ``sources`` when
        given (an empty sequence: none)."""
        ...

    def ev_reports(
        self, vin: str, *, start_ms: int, end_ms: int, limit: int = 1000
    ) -> list[EvReportRecord]:
        """EV reports of one vehicle in ``[start_ms, end_ms]``, oldest first."""
        ...

    def apply_retention(self, *, now_ms: int) -> dict[str, int]:
        """Delete rows older than each table's retention; returns rows deleted per table."""
        ...

    def row_count(self, table: str) -> int:
        """Rows currently stored in ``table`` (one of ``TABLES``)."""
        ...

    def close(self) -> None:
        """Release the connection(s); further use raises ``StoreError``."""
        ...
