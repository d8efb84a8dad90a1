"""Sensor data sharing (``apps.day2.sds``): who is told of which roadside-perceived road user."""

from __future__ import annotations

from v2xcloud.apps.day2 import SdsConfig, SensorDataSharing
from v2xcloud.model import ParticipantKind, ParticipantSource, Rsm
from v2xcloud.model.day2 import Ssm
from v2xcloud.twin import Scene, SceneView
from v2xcloud.twin.testing import TEST_FRAME, bsm_at, state_at

RSU = "5200000000000001"


def _seen(pid: int, x_m: float, y_m: float, **fields: object) -> object:
    return state_at(f"{RSU}/{pid}", x_m=x_m, y_m=y_m, t_ms=0, source=ParticipantSource.RSM,
                    sender_id=RSU, **fields)  # type: ignore[arg-type]  # fmt: skip


def _view(*objects: object, cars: tuple[tuple[str, float, float, float], ...]) -> SceneView:
    """A scene with connected cars (id, x, y, heading) and one RSM of ``objects``."""
    scene = Scene(TEST_FRAME)
    for pid, x, y, heading in cars:
        scene.ingest(bsm_at(pid, x_m=x, y_m=y, t_ms=0, speed_mps=15.0, heading_deg=heading),
                     received_at_ms=0, source=pid)  # fmt: skip
    if objects:
        lat, lon = TEST_FRAME.to_wgs84(0.0, 0.0)
        rsm = Rsm(msg_count=1, rsu_id=RSU, ref_lat_deg=float(lat), ref_lon_deg=float(lon),
                  participants=tuple(objects))  # type: ignore[arg-type]  # fmt: skip
        scene.ingest(rsm, received_at_ms=0, source=RSU)
    return scene.update(100)


def _shared(out: list, to: str) -> set[str]:  # type: ignore[type-arg]
    return {p.id for o in out if o.recipients == (to,) for p in o.message.participants}


def test_ahead_on_the_path_within_the_horizon_is_shared_behind_and_aside_is_not() -> None:
    view = _view(
        _seen(1, 200.0, 0.0, speed_mps=0.0),  # ahead of the eastbound car, in its lane
        _seen(2, -60.0, 0.0),  # behind it
        _seen(3, 120.0, 40.0),  # ahead, but 40 m to the side
        _seen(4, 300.0, 0.0),  # ahead, past the 250 m horizon
        _seen(5, 10.0, -20.0, kind=ParticipantKind.PEDESTRIAN),  # beside it, within 30 m
        cars=(("a1", 0.0, 0.0, 90.0), ("b2", 250.0, 0.0, 270.0)),
    )
    out = SensorDataSharing().on_tick(view, [], 100)
    assert all(isinstance(o.message, Ssm) and o.kind == "SSM" for o in out)
    assert _shared(out, "a1") == {f"{RSU}/1", f"{RSU}/5"}
    # the westbound car at x=250: 1 is 50 m ahead; 4 is 50 m behind, 3 and 5 20+ m aside
    assert _shared(out, "b2") == {f"{RSU}/1"}
    first = next(o for o in out if o.recipients == ("a1",))
    assert [p.id for p in first.message.participants] == [f"{RSU}/5", f"{RSU}/1"]  # nearest first
    assert all(p.source is ParticipantSource.SSM for p in first.message.participants)


def test_a_perceived_connected_car_is_its_bsm_and_never_shared() -> None:
    # the roadside sees car b2 (reported id = its BSM id): fused into b2's row, heard by BSM
    seen_b2 = _seen(7, 100.0, 0.0, reported_id="b2", heading_deg=90.0, speed_mps=15.0)
    view = _view(seen_b2, cars=(("a1", 0.0, 0.0, 90.0), ("b2", 100.0, 0.0, 90.0)))
    assert SensorDataSharing().on_tick(view, [], 100) == []


def test_nothing_perceived_nothing_sent_and_the_period_holds() -> None:
    assert SensorDataSharing().on_tick(_view(cars=(("a1", 0.0, 0.0, 90.0),)), [], 100) == []
    app = SensorDataSharing(SdsConfig(period_ms=500))
    view = _view(_seen(1, 50.0, 0.0), cars=(("a1", 0.0, 0.0, 90.0),))
    sent = [len(app.on_tick(view, [], t)) for t in range(0, 1100, 100)]
    assert sent == [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]


def test_at_most_max_objects_per_message() -> None:
    objects = [_seen(k, 10.0 + 5.0 * k, 0.0) for k in range(1, 21)]
    view = _view(*objects, cars=(("a1", 0.0, 0.0, 90.0),))
    (out,) = SensorDataSharing(SdsConfig(max_objects=16)).on_tick(view, [], 100)
    assert len(out.message.participants) == 16
    assert out.message.participants[0].id == f"{RSU}/1"
