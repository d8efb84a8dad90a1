"""The alarm book: dedupe, sync/clear, the operator workflow, its bound and its persistence."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from v2xcloud.errors import AlarmStateError, StoreError
from v2xcloud.model import CLEARED_BY, Alarm, AlarmSeverity, AlarmSource, AlarmState
from v2xcloud.runtime.alarms import EVICTED_BY, AlarmBook, AlarmCondition

DEV = AlarmSource.DEVICE
MAJOR = AlarmSeverity.MAJOR


class Repo:
    """An ``AlarmRepository`` over a dict that can be made to fail."""

    def __init__(self) -> None:
        self.rows: dict[str, Alarm] = {}
        self.is_failing = False

    def save_all(self, alarms: Sequence[Alarm]) -> None:
        if self.is_failing:
            raise StoreError("database down")
        self.rows.update({a.alarm_id: a for a in alarms})

    def load_live(self, limit: int) -> list[Alarm]:
        return [a for a in self.rows.values() if a.is_live][:limit]


def _raise(book: AlarmBook, subject: str, at_ms: int, **kw: object) -> Alarm:
    args: dict[str, object] = {
        "severity": MAJOR,
        "summary": f"{subject} offline",
        "kind": "offline",
    }
    args.update(kw)
    return book.raise_alarm(source=DEV, subject=subject, at_ms=at_ms, **args)  # type: ignore[arg-type]


def test_the_same_condition_updates_one_alarm_and_another_adds_one() -> None:
    book = AlarmBook()
    first = _raise(book, "R1", 1_000)
    again = _raise(book, "R1", 3_000, summary="R1 offline (60 s)")
    other_kind = _raise(book, "R1", 3_000, kind="dead_letter_burst")
    assert again.alarm_id == first.alarm_id
    assert (again.occurrences, again.raised_ms, again.updated_ms) == (2, 1_000, 3_000)
    assert again.summary == "R1 offline (60 s)"
    assert other_kind.alarm_id != first.alarm_id
    assert len(book.live()) == 2


def test_sync_raises_what_holds_and_clears_what_ended() -> None:
    book = AlarmBook()
    road = AlarmSource.ROAD_EVENT
    a = AlarmCondition("ev-1", "stopped_vehicle", AlarmSeverity.MINOR, "stopped vehicle")
    b = AlarmCondition("ev-2", "congestion", AlarmSeverity.MINOR, "congestion")
    _raise(book, "R1", 500)  # another source: untouched by road syncs
    book.sync(road, [a, b], at_ms=1_000)
    book.sync(road, [a, b], at_ms=2_000)  # unchanged: not rewritten
    assert {x.subject for x in book.live() if x.source is road} == {"ev-1", "ev-2"}
    assert all(x.occurrences == 1 for x in book.live())
    book.sync(road, [a], at_ms=3_000)
    assert {x.subject for x in book.live()} == {"ev-1", "R1"}
    assert book.counts["cleared"] == 1


def test_ack_then_close_records_who_and_when_and_refuses_repeats() -> None:
    repo = Repo()
    book = AlarmBook(repository=repo)
    alarm = _raise(book, "R1", 1_000)
    acked = book.acknowledge(alarm.alarm_id, by="token:ab@north", at_ms=2_000)
    assert (acked.state, acked.acked_by, acked.acked_ms) == (
        AlarmState.ACKNOWLEDGED,
        "token:ab@north",
        2_000,
    )
    with pytest.raises(AlarmStateError, match="already acknowledged by token:ab@north"):
        book.acknowledge(alarm.alarm_id, by="token:cd@north", at_ms=2_500)
    again = _raise(book, "R1", 2_600)  # the condition repeats: still the acknowledged alarm
    assert again.state is AlarmState.ACKNOWLEDGED and again.acked_by == "token:ab@north"
    closed = book.close(alarm.alarm_id, by="token:cd@north", at_ms=3_000)
    assert (closed.state, closed.closed_by, closed.closed_ms) == (
        AlarmState.CLOSED,
        "token:cd@north",
        3_000,
    )
    assert book.live() == []
    with pytest.raises(KeyError):
        book.close(alarm.alarm_id, by="x", at_ms=4_000)
    assert book.flush() == 1 and repo.rows[alarm.alarm_id] == closed
    fresh = _raise(book, "R1", 5_000)  # after closing, the condition raises a new alarm
    assert fresh.alarm_id != alarm.alarm_id


def test_a_cleared_alarm_is_closed_by_the_platform() -> None:
    book = AlarmBook()
    alarm = _raise(book, "R1", 1_000)
    cleared = book.clear(DEV, "R1", kind="offline", at_ms=4_000)
    assert cleared is not None
    assert (cleared.state, cleared.closed_by, cleared.cleared_ms) == (
        AlarmState.CLOSED,
        CLEARED_BY,
        4_000,
    )
    assert book.get(alarm.alarm_id) is None
    assert book.clear(DEV, "R1", kind="offline", at_ms=5_000) is None


def test_the_book_is_bounded_by_closing_the_least_severe_oldest() -> None:
    repo = Repo()
    book = AlarmBook(repository=repo, max_live=3)
    critical = _raise(book, "A", 1, severity=AlarmSeverity.CRITICAL)
    old_minor = _raise(book, "B", 2, severity=AlarmSeverity.MINOR)
    _raise(book, "C", 3, severity=AlarmSeverity.MINOR)
    _raise(book, "D", 4, severity=AlarmSeverity.MAJOR)
    assert {a.subject for a in book.live()} == {"A", "C", "D"}
    assert book.evicted == 1 and book.get(critical.alarm_id) is not None
    book.flush()
    assert repo.rows[old_minor.alarm_id].closed_by == EVICTED_BY


def test_a_failed_write_is_kept_for_the_next_flush_and_newer_versions_win() -> None:
    repo = Repo()
    book = AlarmBook(repository=repo)
    alarm = _raise(book, "R1", 1_000)
    repo.is_failing = True
    assert book.flush() == 0 and book.failed_writes == 1
    book.acknowledge(alarm.alarm_id, by="op", at_ms=2_000)
    repo.is_failing = False
    assert book.flush() == 1
    assert repo.rows[alarm.alarm_id].state is AlarmState.ACKNOWLEDGED


def test_load_takes_back_the_live_alarms_so_an_acknowledgement_survives_a_restart() -> None:
    repo = Repo()
    book = AlarmBook(repository=repo)
    alarm = _raise(book, "R1", 1_000)
    book.acknowledge(alarm.alarm_id, by="op", at_ms=2_000)
    book.flush()
    restarted = AlarmBook(repository=repo)
    assert restarted.load() == 1
    again = _raise(restarted, "R1", 3_000)
    assert again.alarm_id == alarm.alarm_id and again.acked_by == "op"


def test_sorted_most_severe_then_newest() -> None:
    book = AlarmBook()
    _raise(book, "A", 1, severity=AlarmSeverity.WARNING)
    _raise(book, "B", 2, severity=AlarmSeverity.CRITICAL)
    _raise(book, "C", 3, severity=AlarmSeverity.WARNING)
    assert [a.subject for a in book.live()] == ["B", "C", "A"]


def test_at_the_bound_a_twentieth_goes_at_once_least_severe_first() -> None:
    book = AlarmBook(max_live=40)
    for i in range(40):
        severity = AlarmSeverity.WARNING if i < 5 else AlarmSeverity.MAJOR
        _raise(book, f"D{i}", i, severity=severity)
    _raise(book, "new", 100)
    assert book.evicted == 2 and len(book.live()) == 39
    assert {a.subject for a in book.live()} >= {"D2", "D3", "D4", "new"} - {"D0", "D1"}
    assert not {"D0", "D1"} & {a.subject for a in book.live()}
