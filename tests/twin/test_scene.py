"""Scene: fusion of BSM and RSM, per-source clocks, tracking, staleness, read-only view."""

from __future__ import annotations

import numpy as np
import pytest

from v2xcloud.errors import SceneError
from v2xcloud.model import ParticipantKind, ParticipantSource, Rsm
from v2xcloud.twin import Flag, Kind, Scene
from v2xcloud.twin.testing import TEST_FRAME, bsm_at, state_at


def _rsm(rsu: str, t_ms: int, *objects: tuple[str, float, float, str | None]) -> Rsm:
    states = tuple(
        state_at(
            oid,
            x_m=x,
            y_m=y,
            t_ms=t_ms,
            speed_mps=10.0,
            heading_deg=0.0,
            source=ParticipantSource.RSM,
            reported_id=rid,
        )
        for oid, x, y, rid in objects
    )
    return Rsm(msg_count=1, rsu_id=rsu, ref_lat_deg=28.19, ref_lon_deg=112.97, participants=states)


def test_bsm_becomes_a_participant_extrapolated_to_the_tick() -> None:
    scene = Scene(TEST_FRAME)
    scene.ingest(
        bsm_at("a", x_m=10, y_m=20, t_ms=1000, speed_mps=10.0, heading_deg=90.0),
        received_at_ms=1000,
        source="obu",
    )
    view = scene.update(1200)
    row = view.row_of("a")
    assert row == 0 and view.kind[row] == Kind.VEHICLE
    assert view.x_m[row] == pytest.approx(12.0, abs=0.01)  # 0.2 s at 10 m/s east
    assert view.y_m[row] == pytest.approx(20.0, abs=0.01)
    with pytest.raises(ValueError):
        view.x_m[0] = 0.0  # read-only


def test_a_braking_participant_is_extrapolated_braking_to_a_stop() -> None:
    """Between reports (and after the last) a vehicle keeps the tracker's acceleration: a car
    a roadside sensor lost while braking slows in the view and stops, it does not hold its
    last speed (constant velocity kept it at 11.9 m/s for a second while it slowed to 8.7,
    and RLVW judged it unable to stop)."""
    scene = Scene(TEST_FRAME)
    for k in range(6):  # 10 Hz reports braking at 3.5 m/s² (measured), north
        scene.ingest(
            bsm_at(
                "a",
                x_m=0,
                y_m=12.0 * 0.1 * k - 1.75 * (0.1 * k) ** 2,
                t_ms=100 * k,
                speed_mps=12.0 - 3.5 * 0.1 * k,
                heading_deg=0.0,
                accel_long_mps2=-3.5,
            ),
            received_at_ms=100 * k,
            source="obu",
        )
        scene.update(100 * k)
    v0, y0 = 12.0 - 3.5 * 0.5, 12.0 * 0.5 - 1.75 * 0.25
    view = scene.update(1200)  # 0.7 s after the last report
    row = view.row_of("a")
    assert row is not None
    assert view.speed_mps[row] == pytest.approx(v0 - 3.5 * 0.7, abs=0.15)
    assert view.y_m[row] == pytest.approx(y0 + v0 * 0.7 - 1.75 * 0.49, abs=0.1)
    assert view.vy_mps[row] == pytest.approx(view.speed_mps[row], abs=1e-9)
    view = scene.update(1500)  # 1.0 s after the last report (max_extrapolate_ms)
    assert view.speed_mps[row] == pytest.approx(max(v0 - 3.5, 0.0), abs=0.15)
    stop = Scene(TEST_FRAME)
    stop.ingest(
        bsm_at("b", x_m=0, y_m=0, t_ms=0, speed_mps=2.0, heading_deg=0.0, accel_long_mps2=-4.0),
        received_at_ms=0,
        source="obu",
    )
    view = stop.update(1000)  # stops after 0.5 s, 0.5 m on; it does not reverse
    assert view.speed_mps[0] == 0.0
    assert view.y_m[0] == pytest.approx(0.5, abs=0.05)


def test_rsm_object_with_a_bsm_id_is_one_participant() -> None:
    scene = Scene(TEST_FRAME)
    scene.ingest(
        bsm_at("veh1", x_m=0, y_m=0, t_ms=0, speed_mps=10.0), received_at_ms=10, source="obu"
    )
    scene.ingest(
        _rsm("rsu1", 0, ("rsu1/7", 0.8, 0.3, "veh1"), ("rsu1/8", 30, 0, None)),
        received_at_ms=20,
        source="rsu",
    )
    view = scene.update(50)
    assert sorted(view.ids) == ["rsu1/8", "veh1"]
    row = view.row_of("veh1")
    assert row is not None
    assert view.flags[row] & Flag.PERCEIVED
    assert view.x_m[row] == pytest.approx(0.0, abs=0.01)  # the self-report wins
    other = view.row_of("rsu1/8")
    assert other is not None and view.flags[other] & Flag.PERCEPTION_ONLY
    assert scene.stats.cross_checked == 1


def test_perception_carries_a_participant_whose_self_reports_stopped() -> None:
    scene = Scene(TEST_FRAME, stale_after_ms=500)
    scene.ingest(
        bsm_at("veh1", x_m=0, y_m=0, t_ms=0, speed_mps=10.0), received_at_ms=0, source="obu"
    )
    scene.update(0)
    scene.ingest(_rsm("rsu1", 900, ("rsu1/7", 0.0, 9.0, "veh1")), received_at_ms=900, source="rsu")
    view = scene.update(900)
    assert view.ids == ["veh1"]
    assert view.y_m[0] == pytest.approx(9.0, abs=0.01)


def test_skewed_rsu_clocks_are_all_used() -> None:
    """RSU B's clock lags A's by 2 s: its frames are corrected, not dropped as old."""
    scene = Scene(TEST_FRAME)
    for k in range(10):
        t = 10_000 + 100 * k
        scene.ingest(_rsm("A", t, ("A/1", 0.0, k * 1.0, None)), received_at_ms=t + 30, source="a")
        scene.ingest(
            _rsm("B", t - 2000, ("B/1", 50.0, k * 1.0, None)),
            received_at_ms=t + 30 + (k % 3) * 7,
            source="b",
        )
        view = scene.update(t + 50)
        assert sorted(view.ids) == ["A/1", "B/1"]
        b = view.row_of("B/1")
        assert b is not None and view.timestamp_ms[b] >= t  # on the platform clock now
    assert scene.stats.late == 0
    offsets = scene.clocks.sources()
    assert offsets["b/B"] - offsets["a/A"] == 2000


def test_out_of_order_report_is_counted_late_not_applied() -> None:
    scene = Scene(TEST_FRAME)
    scene.ingest(
        bsm_at("a", x_m=0, y_m=5, t_ms=1000, speed_mps=0.0), received_at_ms=1000, source="obu"
    )
    scene.update(1000)
    scene.ingest(
        bsm_at("a", x_m=0, y_m=0, t_ms=900, speed_mps=0.0), received_at_ms=1050, source="obu"
    )
    view = scene.update(1100)
    assert scene.stats.late == 1
    assert view.y_m[0] == pytest.approx(5.0, abs=0.01)


def test_the_tracker_estimates_acceleration_and_yaw_rate_when_not_reported() -> None:
    """Issue 15: neither is differentiated from two samples; the tracker's estimate converges
    on them and says how sure it is (the σ shrinks as the reports agree)."""
    scene = Scene(TEST_FRAME)
    sd = []
    for k in range(15):
        t = 100 * k
        scene.ingest(
            bsm_at("a", x_m=0, y_m=k, t_ms=t, speed_mps=12.0 - 0.4 * k, heading_deg=2.0 * k),
            received_at_ms=t,
            source="obu",
        )
        view = scene.update(t)
        sd.append(float(view.accel_sd_mps2[0]))
    assert view.accel_mps2[0] == pytest.approx(-4.0, abs=0.2)
    assert view.yaw_rate_dps[0] == pytest.approx(20.0, abs=1.0)
    assert sd[-1] < 0.5 * sd[0]
    assert view.heading_sd_deg[0] < 2.0 and view.yaw_rate_sd_dps[0] < 10.0


def test_a_reported_yaw_rate_of_exactly_zero_is_the_wire_unknown() -> None:
    """Issue 15: CSAE's AccelerationSet4Way has no 'unavailable' yaw rate and the codec puts 0
    for unknown, so a turning car without a gyro reported 0 and every app saw it go straight.
    Exactly 0 is no measurement (the tracker follows the headings); a measured value near 0
    is a measurement and holds the estimate near it."""
    scene = Scene(TEST_FRAME)
    for k in range(15):
        t = 100 * k
        for pid, yaw in (("zero", 0.0), ("gyro", 0.3)):
            scene.ingest(
                bsm_at(pid, x_m=0, y_m=k, t_ms=t, speed_mps=6.0, heading_deg=3.0 * k,
                       yaw_rate_dps=yaw),
                received_at_ms=t,
                source="obu",
            )  # fmt: skip
        view = scene.update(t)
    rows = {pid: view.row_of(pid) for pid in ("zero", "gyro")}
    assert view.yaw_rate_dps[rows["zero"]] == pytest.approx(30.0, abs=1.5)
    assert abs(view.yaw_rate_dps[rows["gyro"]]) < 5.0


def test_a_measured_acceleration_is_trusted_at_once() -> None:
    """A BSM's own (IMU) acceleration is a measurement of σ ≈ 0.3 m/s²: the estimate takes it
    from the first report, sure enough for a hard-braking test at once."""
    scene = Scene(TEST_FRAME)
    for k in range(3):
        scene.ingest(
            bsm_at("a", x_m=0, y_m=k, t_ms=100 * k, speed_mps=10.0 - 0.6 * k,
                   accel_long_mps2=-6.0),
            received_at_ms=100 * k,
            source="o",
        )  # fmt: skip
        view = scene.update(100 * k)
        assert view.accel_mps2[0] == pytest.approx(-6.0, abs=0.3)
        assert view.accel_sd_mps2[0] < 0.5


def test_missing_speed_and_heading_come_from_displacement() -> None:
    scene = Scene(TEST_FRAME)
    for k in range(3):
        st = state_at(
            "p",
            x_m=1.5 * k * 0.1,
            y_m=0,
            t_ms=100 * k,
            speed_mps=None,
            heading_deg=None,
            kind=ParticipantKind.PEDESTRIAN,
            source=ParticipantSource.PSM,
        )
        scene.ingest(st, received_at_ms=100 * k, source="psm")
        view = scene.update(100 * k)
    assert view.kind[0] == Kind.PEDESTRIAN
    # two displacements of 0.15 m, each a measurement of σ ≈ 1.4 m/s at 10 Hz: the tracker's
    # estimate, not the last difference
    assert view.speed_mps[0] == pytest.approx(1.5, abs=0.15)
    assert view.heading_deg[0] == pytest.approx(90.0, abs=1.0)


def test_stale_participants_expire_and_rows_are_reused() -> None:
    scene = Scene(TEST_FRAME, stale_after_ms=300)
    scene.ingest(bsm_at("a", x_m=0, y_m=0, t_ms=0), received_at_ms=0, source="o")
    assert len(scene.update(0)) == 1
    assert len(scene.update(301)) == 0 and scene.stats.expired == 1
    scene.ingest(bsm_at("b", x_m=0, y_m=0, t_ms=400), received_at_ms=400, source="o")
    assert scene.update(400).ids == ["b"]


def test_stopped_since_is_tracked() -> None:
    scene = Scene(TEST_FRAME)
    for k in range(5):
        scene.ingest(
            bsm_at("a", x_m=0, y_m=0, t_ms=100 * k, speed_mps=0.0),
            received_at_ms=100 * k,
            source="o",
        )
        view = scene.update(100 * k)
    assert view.stopped_since_ms[0] == 0


def test_flags_from_events_lights_brakes_and_emergency() -> None:
    from v2xcloud.model import BrakeState, EmergencyState

    scene = Scene(TEST_FRAME)
    scene.ingest(
        bsm_at(
            "a",
            x_m=0,
            y_m=0,
            t_ms=0,
            vehicle_events=frozenset({"eventHardBraking"}),
            exterior_lights=frozenset({"hazardSignalOn", "leftTurnSignalOn"}),
            brakes=BrakeState(pedal="on", abs="engaged"),
            emergency=EmergencyState(response_type="emergency", siren="inUse"),
        ),
        received_at_ms=0,
        source="o",
    )
    flags = Flag(int(scene.update(0).flags[0]))
    for bit in (
        Flag.HARD_BRAKING,
        Flag.HAZARD_LIGHTS,
        Flag.LEFT_SIGNAL,
        Flag.BRAKE_PEDAL,
        Flag.ABS,
        Flag.EMERGENCY,
    ):
        assert bit in flags


def test_unknown_message_type_is_a_clear_error() -> None:
    with pytest.raises(SceneError, match="cannot hold a str"):
        Scene(TEST_FRAME).ingest("hello", received_at_ms=0, source="x")  # type: ignore[arg-type]


def test_pairs_are_directed_and_within_radius() -> None:
    scene = Scene(TEST_FRAME)
    for pid, x in (("a", 0.0), ("b", 10.0), ("c", 100.0)):
        scene.ingest(bsm_at(pid, x_m=x, y_m=0, t_ms=0), received_at_ms=0, source="o")
    view = scene.update(0)
    pairs = view.pairs(20.0)
    got = {(view.ids[e], view.ids[o]) for e, o in zip(pairs.ego, pairs.other, strict=True)}
    assert got == {("a", "b"), ("b", "a")}
    k = [view.ids[e] for e in pairs.ego].index("a")
    assert pairs.along_m[k] == pytest.approx(0.0, abs=1e-6)  # heading north: b is to the right
    assert pairs.lateral_m[k] == pytest.approx(10.0, abs=1e-3)
    assert np.all(pairs.same_level)
