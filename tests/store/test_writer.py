"""The batching writer: downsampling, bulk batches, overflow counted, failures counted."""

from __future__ import annotations

import time
from collections.abc import Sequence

import msgspec
import pytest

from v2xcloud.errors import StoreError
from v2xcloud.model import (
    Advisory,
    AdvisoryLevel,
    DeadLetter,
    DropReason,
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
    RoadEvent,
)
from v2xcloud.store import DuckDbStore, EvReportRecord, HistoryStore, HistoryWriter

T0 = 1_700_000_000_000


def _state(pid: str, t_ms: int) -> ParticipantState:
    return ParticipantState(
        id=pid,
        kind=ParticipantKind.PEDESTRIAN,
        source=ParticipantSource.RSM,
        timestamp_ms=t_ms,
        lat_deg=31.2,
        lon_deg=121.4,
    )


class _CountingStore(DuckDbStore):
    def __init__(self) -> None:
        super().__init__(data_dir=None)
        self.calls: list[int] = []

    def write_participants(self, states: Sequence[ParticipantState]) -> int:
        self.calls.append(len(states))
        return super().write_participants(states)


def test_downsamples_per_participant_and_writes_in_bulk() -> None:
    store = _CountingStore()
    with HistoryWriter(store, participant_interval_ms=1000, flush_interval_s=0.05) as writer:
        for tick in range(50):  # 5 s at 10 Hz, 3 participants
            writer.submit_participants([_state(p, T0 + tick * 100) for p in "abc"])
        writer.flush()
        assert writer.stats.downsampled == 150 - 15
    assert store.row_count("participant_states") == 15
    assert len(store.calls) < 15  # batched, not one call per row
    track = store.trajectory("a", start_ms=T0, end_ms=T0 + 10_000)
    assert [p.timestamp_ms - T0 for p in track] == [0, 1000, 2000, 3000, 4000]


def test_every_kind_reaches_the_store(store: HistoryStore) -> None:
    advisory = Advisory(
        app="HLW", level=AdvisoryLevel.INFO, ego_id="v", issued_ms=T0, expires_ms=T0 + 5000
    )
    event = RoadEvent(event_id=1, event_type=100, source="rsu", lat_deg=31.2, lon_deg=121.4)
    with HistoryWriter(store, participant_interval_ms=0) as writer:
        writer.submit_participants([_state("a", T0), _state("a", T0 + 1)])
        writer.submit_advisories([advisory])
        writer.submit_road_events([event], recorded_ms=T0)
        writer.submit_dead_letters(
            [
                DeadLetter(
                    received_at_ms=T0,
                    reason=DropReason.MALFORMED,
                    source="mqtt",
                    raw=b"\x01",
                    detail="bad",
                )
            ]
        )
        writer.submit_ev_reports([EvReportRecord(received_ms=T0, vin="V" * 17)])
        writer.flush()
        assert writer.stats.written == {
            "participants": 2,
            "advisories": 1,
            "road_events": 1,
            "dead_letters": 1,
            "ev_reports": 1,
        }
    stored_ego = store.pseudonyms.pseudonym("v", T0)  # type: ignore[attr-defined]
    assert store.advisories(start_ms=T0, end_ms=T0) == [
        msgspec.structs.replace(advisory, ego_id=stored_ego)
    ]
    assert store.road_events(start_ms=T0, end_ms=T0) == [event]


class _SlowStore(DuckDbStore):
    def write_participants(self, states: Sequence[ParticipantState]) -> int:
        time.sleep(0.3)
        return super().write_participants(states)


def test_full_queue_drops_and_counts_without_blocking() -> None:
    store = _SlowStore(data_dir=None)
    with HistoryWriter(
        store, participant_interval_ms=0, max_queue=100, max_batch=10, flush_interval_s=0.01
    ) as writer:
        started = time.perf_counter()
        for i in range(50):
            writer.submit_participants([_state(f"p{j}", T0 + i) for j in range(20)])
        assert time.perf_counter() - started < 0.25  # the hot path never waited on the store
        assert writer.stats.dropped_full > 0
        writer.flush()
        written = writer.stats.written["participants"]
    assert written + writer.stats.dropped_full == 1000


class _BrokenStore(DuckDbStore):
    def write_advisories(self, advisories: Sequence[Advisory]) -> int:
        raise StoreError("disk full")


def test_failed_batch_is_counted_and_writer_survives() -> None:
    store = _BrokenStore(data_dir=None)
    advisory = Advisory(
        app="FCW", level=AdvisoryLevel.WARNING, ego_id="v", issued_ms=T0, expires_ms=T0
    )
    with HistoryWriter(store, participant_interval_ms=0) as writer:
        writer.submit_advisories([advisory])
        writer.submit_participants([_state("a", T0)])
        writer.flush()
        assert writer.stats.failed_batches == 1
        assert writer.stats.last_error == "advisories: disk full"
    assert store.row_count("participant_states") == 1
    with pytest.raises(StoreError, match="closed"):
        writer.submit_advisories([advisory])


def test_retention_runs_on_the_writer_thread() -> None:
    store = DuckDbStore(data_dir=None)
    day_ms = 86_400_000
    store.write_participants([_state("old", T0 - 8 * day_ms), _state("new", T0)])
    with HistoryWriter(
        store, retention_interval_s=0.05, clock_ms=lambda: T0, flush_interval_s=0.02
    ) as writer:
        deadline = time.monotonic() + 5
        while not writer.stats.retention_deleted.get("participant_states"):
            assert time.monotonic() < deadline, "retention never ran"
            time.sleep(0.02)
    assert writer.stats.retention_deleted["participant_states"] == 1
    stored_new = store.pseudonyms.pseudonym("new", T0)  # type: ignore[union-attr]
    assert [s.id for s in store.latest_participants(at_ms=T0)] == [stored_new]


def test_downsampling_remembers_at_most_max_tracked_participants() -> None:
    class _Discarding(DuckDbStore):
        def write_participants(self, states: Sequence[ParticipantState]) -> int:
            return len(states)

    store = _Discarding(data_dir=None)
    with HistoryWriter(
        store, participant_interval_ms=1000, flush_interval_s=0.05, max_tracked=1_000
    ) as writer:
        for tick in range(100):  # 100k distinct participants, 1000 per 100 ms
            writer.submit_participants(
                [_state(f"p{i}", T0 + tick * 100) for i in range(tick * 1000, tick * 1000 + 1000)]
            )
        assert writer.stats.downsample_evicted == 99_000 and writer.stats.downsampled == 0
        # the newest are still remembered (downsampled), an evicted one is kept again
        writer.submit_participants([_state("p99999", T0 + 9_950), _state("p0", T0 + 9_950)])
        assert writer.stats.downsampled == 1
        writer.flush()
