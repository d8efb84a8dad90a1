"""The radio and backhaul between simulated devices and the platform: latency, jitter, loss.

Seeded, so a scenario replays identically. Frames leave in send order per sender but may
overtake each other across senders when jitter is large, as on a real network.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

import numpy as np

from v2xcloud.errors import ConfigError

__all__ = ["Arrival", "Channel", "ChannelStats"]


@dataclass(frozen=True)
class Arrival:
    """A frame that arrives at the platform at ``arrive_ms`` (it was sent at ``sent_ms``).

    Uplink, device to platform; not ``runtime.Delivery`` (the platform's decision to send an
    advisory or event down to participants and RSUs)."""

    arrive_ms: int
    sent_ms: int
    raw: bytes
    sender: str  # SUMO id of the vehicle, or the RSU id
    kind: str  # "BSM", "RSM", "SPAT", "MAP"
    about: tuple[str, ...]  # SUMO ids of the road users the frame describes
    participant_id: str | None = None  # a BSM's sender id (scoring misbehaviour detection)
    is_malicious: bool = False  # sent by an attacker (``sim.attacks``)


@dataclass
class ChannelStats:
    """Counters of a channel: frames offered, lost, delivered, and the bytes offered."""

    sent: int = 0
    lost: int = 0
    delivered: int = 0
    bytes_sent: int = 0


class Channel:
    """Latency (ms), uniform jitter (± ms) and independent loss probability, all seeded.

    >>> ch = Channel(latency_ms=50, jitter_ms=0, loss=0.0, seed=1)
    >>> ch.send(b"x", sent_ms=0, sender="v", kind="BSM", about=("v",))
    >>> [d.arrive_ms for d in ch.deliver_until(49)], [d.arrive_ms for d in ch.deliver_until(50)]
    ([], [50])
    """

    def __init__(
        self, *, latency_ms: float = 0.0, jitter_ms: float = 0.0, loss: float = 0.0, seed: int = 0
    ) -> None:
        if latency_ms < 0 or jitter_ms < 0:
            raise ConfigError(
                f"channel latency_ms and jitter_ms must be >= 0, got {latency_ms}, {jitter_ms}"
            )
        if not 0.0 <= loss < 1.0:
            raise ConfigError(f"channel loss must be within [0, 1), got {loss}")
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms
        self.loss = loss
        self._rng = np.random.default_rng(seed)
        self._queue: list[tuple[int, int, Arrival]] = []
        self._order = itertools.count()
        self.stats = ChannelStats()

    def send(
        self,
        raw: bytes,
        *,
        sent_ms: int,
        sender: str,
        kind: str,
        about: tuple[str, ...],
        participant_id: str | None = None,
        is_malicious: bool = False,
    ) -> None:
        """Offer one frame; it is lost with probability ``loss`` or queued for delivery."""
        self.stats.sent += 1
        self.stats.bytes_sent += len(raw)
        if self.loss and self._rng.random() < self.loss:
            self.stats.lost += 1
            return
        delay = self.latency_ms
        if self.jitter_ms:
            delay += self._rng.uniform(-self.jitter_ms, self.jitter_ms)
        arrive = sent_ms + max(0, round(delay))
        item = Arrival(
            arrive_ms=arrive,
            sent_ms=sent_ms,
            raw=raw,
            sender=sender,
            kind=kind,
            about=about,
            participant_id=participant_id,
            is_malicious=is_malicious,
        )
        heapq.heappush(self._queue, (arrive, next(self._order), item))

    def deliver_until(self, now_ms: int) -> list[Arrival]:
        """All frames that have arrived by ``now_ms``, in arrival order."""
        out = []
        while self._queue and self._queue[0][0] <= now_ms:
            out.append(heapq.heappop(self._queue)[2])
        self.stats.delivered += len(out)
        return out

    @property
    def in_flight(self) -> int:
        """Frames sent but not yet delivered."""
        return len(self._queue)
