"""Per-device health: online/offline, last seen, message rates, dead letters, down-link ACKs.

A device is online while it has been heard (any traffic or heartbeat) within ``offline_after_ms``
(15 s). Message rates per type are counted over a sliding ``rate_window_ms`` (10 s, one-second
slots). Down-link figures: messages sent, acknowledged, resent and given up on, the ACK rate
(acked / sent) and the ACK latency (mean and worst of the last 100); three consecutive
unacknowledged sends mark the link abnormal until the next ACK. A device throttled by its rate
limit is flagged ``is_flooding`` for ``flood_flag_ms`` after its last refused frame.

Entries exist only for registered devices (the registry bounds them) and are removed with them.

>>> health = DeviceHealth()
>>> health.seen("R1", "RSM", 1_000)
>>> health.snapshot("R1", 2_000)["online"], health.snapshot("R1", 17_000)["online"]
(True, False)
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

__all__ = ["DeviceHealth", "HealthEntry"]

_SLOT_MS = 1000


class HealthEntry:
    """The health counters of one device."""

    __slots__ = (
        "ack_latencies_ms",
        "acked",
        "consecutive_failures",
        "dead_letters",
        "failed",
        "gave_up",
        "info",
        "last_ack_ms",
        "last_flood_ms",
        "last_heartbeat_ms",
        "last_seen_ms",
        "link_abnormal",
        "messages",
        "resent",
        "sent",
        "slots",
    )

    def __init__(self) -> None:
        self.last_seen_ms: int | None = None
        self.last_heartbeat_ms: int | None = None
        self.last_flood_ms: int | None = None
        self.messages: Counter[str] = Counter()
        self.slots: deque[tuple[int, Counter[str]]] = deque()
        self.dead_letters: Counter[str] = Counter()
        self.sent = 0
        self.acked = 0
        self.resent = 0
        self.failed = 0
        self.gave_up = 0
        self.consecutive_failures = 0
        self.link_abnormal = False
        self.last_ack_ms: int | None = None
        self.ack_latencies_ms: deque[int] = deque(maxlen=100)
        self.info: dict[str, Any] = {}


class DeviceHealth:
    """Health entries of the registered devices, updated by the ingest path and the down-link."""

    def __init__(
        self,
        *,
        offline_after_ms: int = 15_000,
        rate_window_ms: int = 10_000,
        flood_flag_ms: int = 10_000,
        abnormal_after_failures: int = 3,
    ) -> None:
        self.offline_after_ms = offline_after_ms
        self.rate_window_ms = rate_window_ms
        self.flood_flag_ms = flood_flag_ms
        self.abnormal_after_failures = abnormal_after_failures
        self._entries: dict[str, HealthEntry] = {}
        self._lock = threading.RLock()  # the tick thread and the gateway loop write, the API reads

    def entry(self, device_id: str) -> HealthEntry:
        """The entry of ``device_id`` (created on first use)."""
        entry = self._entries.get(device_id)
        if entry is None:
            entry = self._entries[device_id] = HealthEntry()
        return entry

    def remove(self, device_id: str) -> None:
        """Forget a device (it left the registry)."""
        with self._lock:
            self._entries.pop(device_id, None)

    # -- up-link ----------------------------------------------------------------------------

    def seen(self, device_id: str, message_type: str, now_ms: int) -> None:
        """One accepted message of ``message_type`` (``"HB"`` also counts as a heartbeat)."""
        with self._lock:
            e = self.entry(device_id)
            e.last_seen_ms = now_ms if e.last_seen_ms is None else max(e.last_seen_ms, now_ms)
            if message_type == "HB":
                e.last_heartbeat_ms = now_ms
            e.messages[message_type] += 1
            slot = now_ms - now_ms % _SLOT_MS
            if not e.slots or e.slots[-1][0] != slot:
                e.slots.append((slot, Counter()))
                while e.slots and e.slots[0][0] <= slot - self.rate_window_ms:
                    e.slots.popleft()
            e.slots[-1][1][message_type] += 1

    def dead_letter(self, device_id: str, reason: str, now_ms: int) -> None:
        """One of the device's frames was dropped for ``reason`` (a ``DropReason`` value)."""
        with self._lock:
            e = self.entry(device_id)
            e.dead_letters[reason] += 1
            if reason == "rate_limited":
                e.last_flood_ms = now_ms

    def set_info(self, device_id: str, info: dict[str, Any]) -> None:
        """The device's self-description (``V2X/RSU/INFO/UP``), at most 32 keys kept."""
        with self._lock:
            self.entry(device_id).info = dict(list(info.items())[:32])

    # -- down-link ---------------------------------------------------------------------------

    def sent(self, device_id: str, *, resend: bool) -> None:
        """A down-link message was published (``resend``: again, same seqNum)."""
        with self._lock:
            e = self.entry(device_id)
            if resend:
                e.resent += 1
            else:
                e.sent += 1

    def acked(self, device_id: str, latency_ms: int, now_ms: int) -> None:
        """A down-link message was acknowledged ``latency_ms`` after it was first sent."""
        with self._lock:
            e = self.entry(device_id)
            e.acked += 1
            e.last_ack_ms = now_ms
            e.ack_latencies_ms.append(latency_ms)
            e.consecutive_failures = 0
            e.link_abnormal = False

    def unanswered(self, device_id: str) -> None:
        """A down-link attempt got no ACK in time; ``abnormal_after_failures`` in a row mark
        the link abnormal (until the next ACK)."""
        with self._lock:
            e = self.entry(device_id)
            e.failed += 1
            e.consecutive_failures += 1
            if e.consecutive_failures >= self.abnormal_after_failures:
                e.link_abnormal = True

    def gave_up(self, device_id: str) -> None:
        """A down-link message was given up on after its last attempt."""
        with self._lock:
            self.entry(device_id).gave_up += 1

    # -- reading ------------------------------------------------------------------------------

    def is_online(self, device_id: str, now_ms: int) -> bool:
        """Heard from within ``offline_after_ms``."""
        e = self._entries.get(device_id)
        return bool(
            e and e.last_seen_ms is not None and now_ms - e.last_seen_ms <= self.offline_after_ms
        )

    def snapshot(self, device_id: str, now_ms: int) -> dict[str, Any]:
        """The device's health as plain data (what ``/api/devices`` shows)."""
        with self._lock:
            e = self._entries.get(device_id) or HealthEntry()
            window_start = now_ms - now_ms % _SLOT_MS - self.rate_window_ms + _SLOT_MS
            in_window: Counter[str] = Counter()
            for slot, counts in e.slots:
                if slot >= window_start:
                    in_window.update(counts)
            seconds = self.rate_window_ms / 1000.0
            latencies = list(e.ack_latencies_ms)
            return {
                "online": self.is_online(device_id, now_ms),
                "last_seen_ms": e.last_seen_ms,
                "last_heartbeat_ms": e.last_heartbeat_ms,
                "messages": dict(e.messages),
                "rates_per_s": {t: round(n / seconds, 2) for t, n in sorted(in_window.items())},
                "dead_letters": dict(e.dead_letters),
                "is_flooding": e.last_flood_ms is not None
                and now_ms - e.last_flood_ms <= self.flood_flag_ms,
                "downlink": {
                    "sent": e.sent,
                    "acked": e.acked,
                    "resent": e.resent,
                    "unanswered": e.failed,
                    "gave_up": e.gave_up,
                    "ack_rate": round(e.acked / e.sent, 4) if e.sent else None,
                    "ack_latency_ms_mean": round(sum(latencies) / len(latencies), 1)
                    if latencies
                    else None,
                    "ack_latency_ms_max": max(latencies) if latencies else None,
                    "link_abnormal": e.link_abnormal,
                },
                "info": e.info,
            }

    def __len__(self) -> int:
        return len(self._entries)
