"""The EV wing's report sink backed by the history: GB/T 32960 reports into ``ev_reports``."""

from __future__ import annotations

import msgspec

from v2xcloud.model.ev import EvReport
from v2xcloud.store.records import EvReportRecord
from v2xcloud.store.writer import HistoryWriter

__all__ = ["HistoryReportSink"]


class HistoryReportSink:
    """Implements ``ev.sink.ReportSink``: each report is queued on a ``HistoryWriter``.

    The report is kept whole as JSON (``payload``), keyed by VIN and its collection time
    (UTC ms), so ``HistoryStore.ev_reports(vin, ...)`` returns it in time order. ``write``
    never blocks (the writer batches on its own thread); ``close`` flushes but leaves the
    shared writer running.
    """

    def __init__(self, writer: HistoryWriter) -> None:
        self.writer = writer

    def write(self, report: EvReport) -> None:
        """Queue one report."""
        payload = msgspec.to_builtins(report)
        record = EvReportRecord(received_ms=report.collected_at_ms, vin=report.vin, payload=payload)
        self.writer.submit_ev_reports([record])

    def flush(self) -> None:
        """Wait until every queued report is in the store."""
        self.writer.flush()

    def close(self) -> None:
        """Flush; the writer belongs to whoever created it."""
        self.writer.flush()
