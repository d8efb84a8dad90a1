"""What a vehicle is and what moving means: one definition, the same in every helper."""

from __future__ import annotations

import numpy as np

from v2xcloud.apps import _select, _v2i
from v2xcloud.apps.fcw import FcwConfig
from v2xcloud.apps.icw import IcwConfig
from v2xcloud.apps.lta import LtaConfig
from v2xcloud.apps.vrucw import VrucwConfig
from v2xcloud.model import ParticipantKind, ParticipantSource, Rsm
from v2xcloud.model.thresholds import MOVING_MPS, STANDSTILL_MPS
from v2xcloud.twin import Scene
from v2xcloud.twin.testing import TEST_FRAME, bsm_at, state_at


def _view_of_every_kind() -> tuple[object, list[str]]:
    scene = Scene(TEST_FRAME)
    kinds = [
        ParticipantKind.VEHICLE,
        ParticipantKind.UNKNOWN,
        ParticipantKind.PEDESTRIAN,
        ParticipantKind.CYCLIST,
    ]
    objects = tuple(
        state_at(f"o{k}", x_m=10.0 * k, y_m=0.0, t_ms=0, kind=kind, source=ParticipantSource.RSM)
        for k, kind in enumerate(kinds)
    )
    lat, lon = (float(v) for v in TEST_FRAME.to_wgs84(0.0, 0.0))
    scene.ingest(
        Rsm(msg_count=1, rsu_id="r", ref_lat_deg=lat, ref_lon_deg=lon, participants=objects),
        received_at_ms=0,
        source="r",
    )
    view = scene.update(now_ms=0)
    return view, [f"o{k}" for k in range(len(kinds))]


def test_a_vehicle_is_the_same_in_the_v2v_and_the_v2i_helpers() -> None:
    view, ids = _view_of_every_kind()
    order = [list(view.ids).index(pid) for pid in ids]  # type: ignore[attr-defined]
    motor = _select.motor(view)[order]  # type: ignore[arg-type]
    vehicle = _v2i.is_vehicle(view)[order]  # type: ignore[arg-type]
    # an unclassified roadside object counts as a vehicle; pedestrians and cyclists do not
    assert motor.tolist() == [True, True, False, False]
    assert np.array_equal(motor, vehicle)


def test_standing_creeping_moving_bands() -> None:
    assert 0.0 < STANDSTILL_MPS < MOVING_MPS
    scene = Scene(TEST_FRAME)
    for t in (0, 100):  # one report standing, then one creeping between the two thresholds
        speed = 0.0 if t == 0 else (STANDSTILL_MPS + MOVING_MPS) / 2
        scene.ingest(
            bsm_at("v", x_m=0, y_m=0, t_ms=t, speed_mps=speed), received_at_ms=t, source="v"
        )
        view = scene.update(now_ms=t)
        since = int(view.stopped_since_ms[0])
        assert (since >= 0) if t == 0 else (since == -1)  # creeping is no longer standing


def test_the_path_predicting_apps_confirm_alike_and_the_others_issue_at_once() -> None:
    for config in (IcwConfig(), LtaConfig(), VrucwConfig()):
        assert config.confirm_ticks == _select.PATH_CONFIRM_TICKS == 2
        # the windows look ahead one sampling tick and one per confirming tick after the first
        assert config.lead_pad_s == config.lookahead_s + config.tick_ms / 1000.0
    assert FcwConfig().confirm_ticks == 1 and FcwConfig().lead_pad_s == FcwConfig().lookahead_s
