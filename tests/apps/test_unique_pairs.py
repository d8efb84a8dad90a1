"""Apps that declare ``unique_pairs`` skip the strongest-hit reduction: check the claim holds
on a dense, random scene where every app has hits."""

from __future__ import annotations

import numpy as np
import pytest

from v2xcloud.apps import V2V_APPS
from v2xcloud.apps.base import App
from v2xcloud.apps.hysteresis import pair_keys
from v2xcloud.model import BrakeState, EmergencyState, ParticipantKind
from v2xcloud.twin import Scene, SceneView
from v2xcloud.twin.testing import TEST_FRAME, state_at

_EXTRAS = [
    {},
    {"vehicle_events": frozenset({"eventHardBraking"})},
    {"exterior_lights": frozenset({"hazardSignalOn", "leftTurnSignalOn"})},
    {"brakes": BrakeState(abs="engaged")},
    {"emergency": EmergencyState(response_type="emergency", siren="inUse")},
    {"exterior_lights": frozenset({"rightTurnSignalOn"})},
]


def _dense_view(seed: int) -> SceneView:
    rng = np.random.default_rng(seed)
    scene = Scene(TEST_FRAME)
    # one heading per road user: a heading redrawn every tick is a 50 deg/s yaw rate, and a
    # turning vehicle is nobody's straight-line crossing party (ICW)
    headings = (rng.choice([0, 90, 180, 270], size=160) + rng.normal(0, 5, size=160)) % 360
    for t_ms in (0, 100, 200):
        for k in range(160):
            kind = ParticipantKind.PEDESTRIAN if k % 9 == 0 else ParticipantKind.VEHICLE
            state = state_at(
                f"p{k}",
                x_m=float(rng.uniform(0, 80)),
                y_m=float(rng.uniform(0, 80)),
                t_ms=t_ms,
                speed_mps=float(rng.uniform(0, 15)),
                yaw_rate_dps=0.1,  # a gyro (0 would be "none"): redrawn positions restart the yaw
                heading_deg=float(headings[k]),
                kind=kind,
                **_EXTRAS[k % len(_EXTRAS)],
            )
            scene.ingest(state, received_at_ms=t_ms + 5, source="gw")
        view = scene.update(t_ms)
    return view


@pytest.mark.parametrize("app_type", [a for a in V2V_APPS if a.unique_pairs], ids=lambda a: a.code)
def test_unique_pair_apps_never_repeat_a_pair(app_type: type[App]) -> None:
    hits_seen = 0
    for seed in range(3):
        view = _dense_view(seed)
        hits = app_type().detect(view)
        keys = pair_keys(view.uid[hits.ego], view.uid[hits.other])
        assert np.unique(keys).size == keys.size
        hits_seen += int((hits.level > 0).sum())
    assert hits_seen > 0  # the scene exercises the app
