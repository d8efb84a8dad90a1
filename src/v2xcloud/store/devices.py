"""The device registry's table (``devices``) in the history store, on both backends.

One row per device id: the ``model.Device`` fields, ``rate_limits_per_s`` as JSON text. The
table is bounded by the registry that writes it (``gateways.registry.DeviceRegistry``'s
``max_devices``); rows are replaced on update (``INSERT ... ON CONFLICT DO UPDATE``, the same
SQL on DuckDB and PostgreSQL), never appended.

>>> from v2xcloud.store import DuckDbStore
>>> from v2xcloud.model import Device, DeviceKind
>>> table = DeviceTable(DuckDbStore(data_dir=None))
>>> table.save(Device(device_id="R1", kind=DeviceKind.RSU, lat_deg=31.0, lon_deg=121.0))
>>> [d.device_id for d in table.load_all()]
['R1']
"""

from __future__ import annotations

from typing import Any

import msgspec

from v2xcloud.errors import StoreError
from v2xcloud.model import Device, DeviceKind, DeviceState
from v2xcloud.store._sql_store import SqlHistoryStore
from v2xcloud.store.base import HistoryStore

__all__ = ["DEVICE_COLUMNS", "DeviceTable"]

DEVICE_COLUMNS = (
    "device_id",
    "kind",
    "tenant",
    "message_set",
    "shape",
    "lat_deg",
    "lon_deg",
    "range_m",
    "state",
    "rate_limits",
    "registered_ms",
    "addresses",
    "password_hash",
)

_CREATE = """CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, kind TEXT NOT NULL, tenant TEXT NOT NULL,
    message_set TEXT NOT NULL, shape TEXT NOT NULL, lat_deg DOUBLE PRECISION,
    lon_deg DOUBLE PRECISION, range_m DOUBLE PRECISION NOT NULL, state TEXT NOT NULL,
    rate_limits TEXT NOT NULL, registered_ms BIGINT NOT NULL, addresses TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '')"""
# a devices table from before ``addresses`` / ``password_hash`` existed gets the column
# (DuckDB and PostgreSQL)
_MIGRATE = (
    "ALTER TABLE devices ADD COLUMN IF NOT EXISTS addresses TEXT DEFAULT '[]'",
    "ALTER TABLE devices ADD COLUMN IF NOT EXISTS password_hash TEXT DEFAULT ''",
)


class DeviceTable:
    """Save and load ``model.Device`` rows in a DuckDB or PostgreSQL history store."""

    def __init__(self, store: HistoryStore) -> None:
        if not isinstance(store, SqlHistoryStore):
            raise StoreError(f"the device table needs a SQL history store, not {type(store)}")
        self._store = store
        store._select(_CREATE)
        for statement in _MIGRATE:
            store._select(statement)

    def save(self, device: Device) -> None:
        """Insert or replace one device."""
        self._store._upsert("devices", DEVICE_COLUMNS, [_row(device)])

    def load_all(self) -> list[Device]:
        """Every saved device, by id."""
        rows = self._store._select(
            f"SELECT {', '.join(DEVICE_COLUMNS)} FROM devices ORDER BY device_id"
        )
        return [_device(row) for row in rows]

    def delete(self, device_id: str) -> None:
        """Forget one device (nothing when it is not there)."""
        self._store._select("DELETE FROM devices WHERE device_id = %s", (device_id,))

    def count(self) -> int:
        """Number of saved devices."""
        return int(self._store._select("SELECT count(*) FROM devices")[0][0])


def _row(d: Device) -> tuple[Any, ...]:
    return (
        d.device_id,
        d.kind.value,
        d.tenant,
        d.message_set,
        d.shape,
        d.lat_deg,
        d.lon_deg,
        d.range_m,
        d.state.value,
        msgspec.json.encode(d.rate_limits_per_s).decode(),
        d.registered_ms,
        msgspec.json.encode(d.addresses).decode(),
        d.password_hash,
    )


def _device(row: tuple[Any, ...]) -> Device:
    limits = msgspec.json.decode(row[9], type=dict[str, float])
    return Device(
        device_id=row[0],
        kind=DeviceKind(row[1]),
        tenant=row[2],
        message_set=row[3],
        shape=row[4],
        lat_deg=row[5],
        lon_deg=row[6],
        range_m=float(row[7]),
        state=DeviceState(row[8]),
        rate_limits_per_s=limits,
        registered_ms=int(row[10]),
        addresses=msgspec.json.decode(row[11] or "[]", type=tuple[str, ...]),
        password_hash=row[12] or "",
    )
