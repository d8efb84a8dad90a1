"""Differential positioning (``apps.day2.dgnss``): corrections relayed to the vehicles in
range of a registered station, once, fresh ones only."""

from __future__ import annotations

from v2xcloud.apps.day2 import DifferentialPositioning, Request
from v2xcloud.model.day2 import ReferenceStation, Rtcm
from v2xcloud.twin import Scene, SceneView
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

STATION = "4700000000000001"
LAT, LON = (float(v) for v in TEST_FRAME.to_wgs84(0.0, 0.0))
REGISTER = Request(
    message=ReferenceStation(station_id=STATION, lat_deg=LAT, lon_deg=LON, range_m=250.0),
    source=STATION, received_at_ms=0,
)  # fmt: skip
FIX = Rtcm(msg_count=1, payloads=(b"\xd3\x00\x01\x00",))


def _view(t_ms: int, **cars: float) -> SceneView:
    scene = Scene(TEST_FRAME)
    for pid, x in cars.items():
        scene.ingest(bsm_at(pid, x_m=x, y_m=0.0, t_ms=t_ms), received_at_ms=t_ms, source=pid)
    return scene.update(t_ms)


def test_a_fresh_correction_goes_to_the_vehicles_in_range_once() -> None:
    app = DifferentialPositioning()
    view = _view(100, near=100.0, edge=249.0, far=300.0)
    (out,) = app.on_tick(
        view, [REGISTER, Request(message=FIX, source=STATION, received_at_ms=50)], 100
    )
    assert out.message == FIX and sorted(out.recipients) == ["edge", "near"]
    assert out.via_rsu == STATION and out.kind == "RTCM"
    assert app.on_tick(view, [], 200) == []  # relayed once


def test_stale_and_unregistered_corrections_are_counted_not_relayed() -> None:
    app = DifferentialPositioning()
    view = _view(2000, near=10.0)
    app.on_tick(view, [REGISTER], 0)
    old = Request(message=FIX, source=STATION, received_at_ms=500)
    stranger = Request(message=FIX, source="4700000000000009", received_at_ms=2000)
    assert app.on_tick(view, [old, stranger], 2000) == []
    assert (app.stale, app.unknown_source) == (1, 1)
