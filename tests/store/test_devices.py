"""The device registry's table on both backends: save, replace, load back unchanged."""

from __future__ import annotations

from v2xcloud.model import Device, DeviceKind, DeviceState
from v2xcloud.store import HistoryStore
from v2xcloud.store.devices import DeviceTable


def test_save_replace_and_load(store: HistoryStore) -> None:
    table = DeviceTable(store)
    rsu = Device(
        device_id="R1",
        kind=DeviceKind.RSU,
        tenant="city",
        message_set="csae2017",
        shape="uper",
        lat_deg=31.25,
        lon_deg=121.5,
        range_m=450.0,
        rate_limits_per_s={"BSM": 500.0},
        registered_ms=17,
    )
    obu = Device(device_id="car-1", kind=DeviceKind.OBU)
    table.save(rsu)
    table.save(obu)
    assert table.load_all() == [rsu, obu]
    disabled = Device(device_id="R1", kind=DeviceKind.RSU, state=DeviceState.DISABLED)
    table.save(disabled)
    assert table.load_all() == [disabled, obu] and table.count() == 2
    assert DeviceTable(store).load_all() == [disabled, obu]  # re-opening keeps the rows


def test_a_table_from_before_addresses_gets_the_column(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from v2xcloud.store import DuckDbStore

    store = DuckDbStore(data_dir=tmp_path)
    store._select(
        "CREATE TABLE devices (device_id TEXT PRIMARY KEY, kind TEXT NOT NULL, tenant TEXT NOT "
        "NULL, message_set TEXT NOT NULL, shape TEXT NOT NULL, lat_deg DOUBLE PRECISION, "
        "lon_deg DOUBLE PRECISION, range_m DOUBLE PRECISION NOT NULL, state TEXT NOT NULL, "
        "rate_limits TEXT NOT NULL, registered_ms BIGINT NOT NULL)"
    )
    store._select(
        "INSERT INTO devices VALUES ('R1', 'rsu', 'd', 'csae2020', '', 1, 2, 300, "
        "'enabled', '{}', 0)"
    )
    (device,) = DeviceTable(store).load_all()
    assert device.device_id == "R1" and device.addresses == ()
    store.close()


def test_password_hash_kept_and_a_device_deleted(store: HistoryStore) -> None:
    from v2xcloud.gateways.registry import DeviceRegistry

    table = DeviceTable(store)
    car = Device(device_id="car-pw", kind=DeviceKind.OBU, password_hash="$7$1000$c2FsdA==$aA==")
    registry = DeviceRegistry(repository=table)
    registry.add(car)
    registry.add(Device(device_id="R1", kind=DeviceKind.RSU))
    assert DeviceTable(store).load_all()[1] == car
    seen: list[tuple[str, Device]] = []
    registry.listeners.append(lambda d: seen.append(("changed", d)))
    registry.removal_listeners.append(lambda d: seen.append(("removed", d)))
    gone = registry.remove("R1")
    assert gone.state is DeviceState.DISABLED and "R1" not in registry
    assert [kind for kind, _ in seen] == ["changed", "removed"]
    assert [d.device_id for d in DeviceRegistry(repository=DeviceTable(store)).all()] == ["car-pw"]
    table.delete("not-there")  # nothing to forget: no error
