"""The centre tier's intake of the edge workers' live-map snapshots.

The workers send each owned tile's road users on ``live.{tenant}.{tile}`` (core NATS,
``runtime.backbone.TileSnapshot``); ``gateways.nats.ResultFeed`` subscribes the centre to
``live.>`` and hands each message to a ``SnapshotIntake``, which decodes it, checks that it is
the snapshot of the tile its subject names, and puts it in the centre's
``runtime.live_map.LiveMap`` with its arrival time on the centre's clock. A message that is no
such snapshot (bytes that do not decode, a field of the wrong type, a subject outside
``live.tenant.tile``, a body naming another tile) is counted per cause in ``counts`` and
logged, and becomes a ``bad_payload`` dead letter (``on_bad``: the centre's dead letters,
``/api/dead-letters``); it never reaches the map and never stops the reader.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

import msgspec

from v2xcloud.model import DeadLetter, DropReason
from v2xcloud.runtime import backbone
from v2xcloud.runtime.live_map import LiveMap

__all__ = ["SnapshotIntake"]

logger = logging.getLogger(__name__)

_SNAPSHOT = msgspec.json.Decoder(backbone.TileSnapshot)


class SnapshotIntake:
    """``intake(subject, data)``: one live-map message into ``live_map`` (see the module
    docstring); thread-safe as ``LiveMap.put`` is, never raises for bad input."""

    def __init__(
        self,
        live_map: LiveMap,
        *,
        on_bad: Callable[[DeadLetter], None],
        now_ms: Callable[[], int],
    ) -> None:
        self.live_map = live_map
        self.on_bad = on_bad
        self.now_ms = now_ms
        self.counts: Counter[str] = Counter()

    def __call__(self, subject: str, data: bytes) -> None:
        """Decode and check one message from ``subject``; put it in the map or dead-letter it."""
        received_ms = self.now_ms()
        try:
            tile = backbone.live_tile(subject)
        except ValueError as exc:
            self._bad("bad_subject", subject, data, received_ms, str(exc))
            return
        try:
            snapshot = _SNAPSHOT.decode(data)
        except msgspec.DecodeError as exc:  # ValidationError too: a field of the wrong type
            self._bad("bad_payload", subject, data, received_ms, f"no TileSnapshot: {exc}")
            return
        if backbone.token(snapshot.tile) != tile:
            detail = f"a snapshot of tile {snapshot.tile!r} on the subject of tile {tile!r}"
            self._bad("wrong_tile", subject, data, received_ms, detail)
            return
        self.counts["received"] += 1
        self.live_map.put(snapshot, received_at_ms=received_ms)

    def _bad(self, cause: str, subject: str, data: bytes, received_ms: int, detail: str) -> None:
        self.counts[cause] += 1
        logger.warning("centre: live map message on %s refused (%s): %s", subject, cause, detail)
        self.on_bad(
            DeadLetter(
                raw=data,
                source=subject,
                received_at_ms=received_ms,
                reason=DropReason.BAD_PAYLOAD,
                detail=f"live map: {detail}",
                where=subject,
            )
        )
