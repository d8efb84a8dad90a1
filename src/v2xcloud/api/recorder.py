"""Record the live platform into the history: every tick's delta (participants, advisories,
road events, dead letters, misbehaviour reports) goes to a ``HistoryWriter``, which writes them in batches."""

from __future__ import annotations

from v2xcloud.api.live import LiveSource, TickDelta, Unsubscribe
from v2xcloud.store import HistoryWriter

__all__ = ["record_history"]


def record_history(live: LiveSource, writer: HistoryWriter) -> Unsubscribe:
    """Subscribe ``writer`` to ``live``; returns the function that stops recording.

    The callback only queues (``HistoryWriter.submit_*`` never blocks), so the tick is not
    slowed by the database.
    """

    def on_tick(delta: TickDelta) -> None:
        if delta.participants:
            writer.submit_participants(delta.participants)
        if delta.advisories:
            writer.submit_advisories(delta.advisories)
        if delta.events:
            writer.submit_road_events(delta.events, recorded_ms=delta.now_ms)
        if delta.dead_letters:
            writer.submit_dead_letters(delta.dead_letters)
        if delta.misbehaviour:
            writer.submit_misbehaviour(delta.misbehaviour)

    return live.subscribe(on_tick)
