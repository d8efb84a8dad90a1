"""History: DuckDB embedded by default, PostgreSQL/PostGIS for deployments.

May import: ``model``.

``HistoryStore`` is the one interface; ``DuckDbStore`` and ``PostgresStore`` implement it with
the same queries; ``HistoryWriter`` batches writes from the hot path on its own thread;
``open_store`` picks the backend from a URL; ``HistoryReportSink`` keeps EV (GB/T 32960)
reports for the ``ev`` wing.
"""

from v2xcloud.store.base import TABLES, HistoryStore, Retention
from v2xcloud.store.duckdb_store import DuckDbStore
from v2xcloud.store.ev_sink import HistoryReportSink
from v2xcloud.store.open import open_store
from v2xcloud.store.postgres_store import PostgresStore
from v2xcloud.store.records import AdvisoryCell, BBox, EvReportRecord, TrackPoint
from v2xcloud.store.writer import HistoryWriter, WriterStats

__all__ = [
    "TABLES",
    "AdvisoryCell",
    "BBox",
    "DuckDbStore",
    "EvReportRecord",
    "HistoryReportSink",
    "HistoryStore",
    "HistoryWriter",
    "PostgresStore",
    "Retention",
    "TrackPoint",
    "WriterStats",
    "open_store",
]
