"""Gating fusion: roadside objects without a BSM id that are a self-reporting participant."""

from __future__ import annotations

from v2xcloud.model import ParticipantKind, ParticipantSource, Rsm
from v2xcloud.twin import Flag, Kind, Scene
from v2xcloud.twin.testing import TEST_FRAME, bsm_at, state_at


def _rsm(t_ms: int, *objects: tuple[str, float, float, float, float, ParticipantKind]) -> Rsm:
    states = tuple(
        state_at(
            oid,
            x_m=x,
            y_m=y,
            t_ms=t_ms,
            speed_mps=v,
            heading_deg=h,
            kind=kind,
            source=ParticipantSource.RSM,
        )
        for oid, x, y, v, h, kind in objects
    )
    return Rsm(msg_count=1, rsu_id="r1", ref_lat_deg=28.19, ref_lon_deg=112.97, participants=states)


VEH = ParticipantKind.VEHICLE
PED = ParticipantKind.PEDESTRIAN


def test_object_on_top_of_a_bsm_vehicle_is_fused_and_later_cross_checks() -> None:
    scene = Scene(TEST_FRAME)
    for k in range(5):
        t = 1_000 + 100 * k
        y = 10.0 * k * 0.1
        scene.ingest(
            bsm_at("car", x_m=0.0, y_m=y, t_ms=t, speed_mps=10.0),
            received_at_ms=t + 10,
            source="obu",
        )
        objects = [
            ("r1/5", 0.9, y - 0.5, 10.3, 2.0, VEH),  # the car, seen by the RSU
            ("r1/6", 0.0, y + 12.0, 10.0, 0.0, VEH),  # another car 12 m ahead, not connected
            ("r1/7", 1.5, y + 1.0, 1.4, 90.0, PED),  # a pedestrian right beside the car
        ]
        scene.ingest(_rsm(t, *objects), received_at_ms=t + 30, source="rsu")
        view = scene.update(t + 50)
    assert sorted(view.ids) == ["car", "r1/6", "r1/7"]
    row = view.row_of("car")
    assert row is not None and view.flags[row] & Flag.PERCEIVED
    assert scene.stats.fused == 1
    assert scene.stats.cross_checked == 4  # the four later frames of r1/5


def test_alias_carries_on_when_self_reports_stop_and_is_dropped_with_the_participant() -> None:
    scene = Scene(TEST_FRAME, stale_after_ms=500)
    scene.ingest(
        bsm_at("car", x_m=0.0, y_m=0.0, t_ms=0, speed_mps=10.0), received_at_ms=5, source="obu"
    )
    scene.ingest(_rsm(0, ("r1/5", 0.5, 0.5, 10.0, 0.0, VEH)), received_at_ms=8, source="rsu")
    scene.update(10)
    scene.ingest(_rsm(700, ("r1/5", 0.5, 7.5, 10.0, 0.0, VEH)), received_at_ms=708, source="rsu")
    view = scene.update(710)
    assert view.ids == ["car"]  # the object's report carried the participant on
    assert abs(view.y_m[0] - 7.6) < 0.2
    assert len(scene.update(2_000)) == 0
    scene.ingest(
        _rsm(2_100, ("r1/5", 0.5, 30.0, 10.0, 0.0, VEH)), received_at_ms=2_108, source="rsu"
    )
    assert scene.update(2_110).ids == ["r1/5"]  # a new participant, not a ghost alias


def test_fusion_can_be_switched_off() -> None:
    scene = Scene(TEST_FRAME, fuse_gate_m=0.0)
    scene.ingest(
        bsm_at("car", x_m=0.0, y_m=0.0, t_ms=0, speed_mps=10.0), received_at_ms=5, source="obu"
    )
    scene.ingest(_rsm(0, ("r1/5", 0.5, 0.5, 10.0, 0.0, VEH)), received_at_ms=8, source="rsu")
    assert sorted(scene.update(10).ids) == ["car", "r1/5"]


def test_a_pedestrian_beside_a_standing_car_is_not_fused_into_it() -> None:
    """demo_district: a pedestrian walking past a connected car that stood at the end of its
    trip was fused into the car's track (within the gates: 1 m apart, 1.2 against 0.3 m/s);
    when the car's BSMs stopped her reports carried the track on, and VRUCW warned drivers of
    a "pedestrian" under the car's id, which the bench could match to no one. The kinds
    differ: she stays her own participant, and the car's track ends with its BSMs."""
    scene = Scene(TEST_FRAME, stale_after_ms=500)
    for k in range(3):
        t = 100 * k
        scene.ingest(
            bsm_at("car", x_m=0.0, y_m=0.0, t_ms=t, speed_mps=0.3), received_at_ms=t, source="obu"
        )
        ped = ("r1/7", 1.0, 0.2 - 0.12 * k, 1.2, 180.0, PED)
        scene.ingest(_rsm(t, ped), received_at_ms=t, source="rsu")
        view = scene.update(t)
    assert sorted(view.ids) == ["car", "r1/7"] and scene.stats.fused == 0
    for k in range(3, 12):  # the car has gone; she walks on
        t = 100 * k
        scene.ingest(
            _rsm(t, ("r1/7", 1.0, 0.2 - 0.12 * k, 1.2, 180.0, PED)), received_at_ms=t, source="rsu"
        )
        view = scene.update(t)
    assert view.ids == ["r1/7"]
    assert view.kind[0] == int(Kind.PEDESTRIAN)


def test_a_car_beside_a_connected_one_stays_itself() -> None:
    """demo_district: a car driving beside a connected one (3.4 m apart, same speed and
    heading: within the gates once the time between reports is counted) was fused into it
    the tick after the connected car's own object was. The roadside unit reports each road
    user once: while it reports the connected car's object, its other objects are others.
    The car beside stays in the scene, and goes on when the connected car's reports stop."""
    scene = Scene(TEST_FRAME, stale_after_ms=500)
    for k in range(6):
        t = 1_000 + 100 * k
        y = 12.0 * k * 0.1
        scene.ingest(
            bsm_at("car", x_m=0.0, y_m=y, t_ms=t, speed_mps=12.0), received_at_ms=t, source="obu"
        )
        objects = [("r1/5", 0.3, y + 0.2, 12.0, 0.0, VEH), ("r1/6", 3.4, y + 0.5, 12.0, 0.0, VEH)]
        scene.ingest(_rsm(t - 60, *objects), received_at_ms=t, source="rsu")
        view = scene.update(t)
    assert sorted(view.ids) == ["car", "r1/6"] and scene.stats.fused == 1
    for k in range(6, 14):  # the connected car has gone; the car beside drives on
        t = 1_000 + 100 * k
        y = 12.0 * k * 0.1
        scene.ingest(
            _rsm(t - 60, ("r1/6", 3.4, y + 0.5, 12.0, 0.0, VEH)), received_at_ms=t, source="rsu"
        )
        view = scene.update(t)
    assert view.ids == ["r1/6"]
