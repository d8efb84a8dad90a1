"""Where decoded reports and operator alarms go: small protocols with file and memory sinks.

The history store (``v2xcloud.store``) can plug in by implementing :class:`ReportSink`. The
default is :class:`JsonlReportSink`: one JSON object per line, buffered and flushed in batches,
with a bound on what it holds in memory. Alarms are urgent and rare, so
:class:`JsonlAlarmSink` writes each one through at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

import msgspec

from v2xcloud.model.ev import EvOperatorAlarm, EvReport

__all__ = [
    "AlarmSink",
    "CallbackAlarmSink",
    "JsonlAlarmSink",
    "JsonlReportSink",
    "MemoryAlarmSink",
    "MemoryReportSink",
    "ReportSink",
]

_encoder = msgspec.json.Encoder()


class ReportSink(Protocol):
    """Receives every accepted (deduplicated) report."""

    def write(self, report: EvReport) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class AlarmSink(Protocol):
    """Receives alarms for operators; must return quickly (called on the receive path)."""

    def raise_alarm(self, alarm: EvOperatorAlarm) -> None: ...


class MemoryReportSink:
    """Keeps reports in a list (tests, small tools)."""

    def __init__(self) -> None:
        self.reports: list[EvReport] = []

    def write(self, report: EvReport) -> None:
        """Append ``report``."""
        self.reports.append(report)

    def flush(self) -> None:
        """Nothing to flush."""

    def close(self) -> None:
        """Nothing to close."""


class JsonlReportSink:
    """Appends reports as JSON lines to ``path``; flushes every ``batch_size`` reports.

    At most ``batch_size`` reports wait in memory, so the buffer is bounded; call
    :meth:`flush` on a timer and :meth:`close` at shutdown to write the rest.
    """

    def __init__(self, path: str | Path, *, batch_size: int = 256) -> None:
        self.path = Path(path)
        self.batch_size = batch_size
        self.written = 0
        self._pending: list[bytes] = []
        self._file: IO[bytes] | None = self.path.open("ab")

    def write(self, report: EvReport) -> None:
        """Queue ``report``; writes the batch when it is full."""
        self._pending.append(_encoder.encode(report))
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Write and flush everything queued."""
        if not self._pending or self._file is None:
            return
        self._file.write(b"\n".join(self._pending) + b"\n")
        self._file.flush()
        self.written += len(self._pending)
        self._pending.clear()

    def close(self) -> None:
        """Flush and close the file; later writes raise ``ValueError``."""
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None


class MemoryAlarmSink:
    """Keeps alarms in a list; ``event`` is set whenever one arrives (thread-safe)."""

    def __init__(self) -> None:
        self.alarms: list[EvOperatorAlarm] = []
        self.event = threading.Event()

    def raise_alarm(self, alarm: EvOperatorAlarm) -> None:
        """Record ``alarm``."""
        self.alarms.append(alarm)
        self.event.set()


class JsonlAlarmSink:
    """Writes each alarm as one JSON line and flushes immediately."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file = self.path.open("ab")

    def raise_alarm(self, alarm: EvOperatorAlarm) -> None:
        """Write ``alarm`` through to disk."""
        self._file.write(_encoder.encode(alarm) + b"\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class CallbackAlarmSink:
    """Calls ``callback(alarm)`` for each alarm (e.g. to push it to a WebSocket)."""

    def __init__(self, callback: Callable[[EvOperatorAlarm], None]) -> None:
        self.callback = callback

    def raise_alarm(self, alarm: EvOperatorAlarm) -> None:
        """Forward ``alarm``."""
        self.callback(alarm)
