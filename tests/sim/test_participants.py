"""BSMs and RSMs built from a hand-made snapshot, and their trip through the real codec."""

from __future__ import annotations

import numpy as np

from v2xcloud import codec
from v2xcloud.geo import LocalFrame
from v2xcloud.model import Bsm, ParticipantKind, Rsm
from v2xcloud.model.day2 import Psm
from v2xcloud.sim.identities import IdentityMap
from v2xcloud.sim.participants import ParticipantEncoder, RoadsideSensor
from v2xcloud.sim.snapshot import Snapshot

EPOCH_MS = 1_767_254_400_000


def _snapshot() -> Snapshot:
    ids = ["car", "ambulance", "dumb", "walker"]
    return Snapshot(
        time_s=1.5,
        ids=ids,
        is_pedestrian=np.array([False, False, False, True]),
        x_m=np.array([10.0, -40.0, 30.0, 12.0]),
        y_m=np.array([0.0, 0.0, 500.0, 5.0]),
        speed_mps=np.array([12.0, 20.0, 8.0, 1.3]),
        heading_deg=np.array([359.9999, 90.0, 180.0, 0.0]),
        accel_mps2=np.array([-6.0, np.nan, 0.5, 0.0]),
        length_m=np.array([4.6, 6.0, 4.6, 0.4]),
        width_m=np.array([1.8, 2.1, 1.8, 0.6]),
        signals=np.array([4 | 8, 0, 0, 0]),
        lane_ids=["WE_0", "WE_0", "NS_0", ""],
        vtypes=["car", "emergency", "bg_car", "ped"],
    )


def _encoder() -> ParticipantEncoder:
    ids = IdentityMap(seed=1, connected_share=1.0, forced={"dumb": False})
    frame = LocalFrame(origin_lat_deg=28.2, origin_lon_deg=112.9)
    events = {"car": frozenset({"eventABSactivated"})}
    return ParticipantEncoder(frame=frame, ids=ids, epoch_ms=EPOCH_MS, events=events)


def _wire(model: object) -> object:
    raw = codec.encode_model(model, message_set=codec.MessageSet.CSAE2020)  # type: ignore[arg-type]
    got = codec.decode(raw, message_set=codec.MessageSet.CSAE2020, received_at_ms=EPOCH_MS + 1600)
    assert isinstance(got, codec.Decoded), got
    return got.to_model()


def test_bsms_of_connected_vehicles_carry_events_lights_and_emergency() -> None:
    bsms = dict(_encoder().bsms(_snapshot()))
    assert set(bsms) == {"car", "ambulance"}  # "dumb" is not connected, pedestrians never are
    car = _wire(bsms["car"])
    assert isinstance(car, Bsm)
    p = car.participant
    assert p.timestamp_ms == EPOCH_MS + 1500 and car.sec_mark_ms == 1500
    assert p.heading_deg == 0.0  # 359.9999° is north on the wire
    assert {"eventHazardLights", "eventHardBraking", "eventABSactivated"} <= p.vehicle_events
    assert "hazardSignalOn" in p.exterior_lights and p.brakes is not None
    assert p.brakes.pedal == "on"
    amb = _wire(bsms["ambulance"])
    assert isinstance(amb, Bsm)
    assert amb.participant.accel_long_mps2 is None  # just inserted: unavailable
    assert amb.participant.emergency is not None and amb.participant.vehicle_class == 60


def test_rsm_reports_unconnected_road_users_in_range_only() -> None:
    enc = _encoder()
    sensor = RoadsideSensor(rsu_id="5200000000000001", x_m=0.0, y_m=0.0, range_m=100.0)
    ((ids, rsm),) = enc.rsms(_snapshot(), sensor)
    assert ids == ["walker"]  # "dumb" is unconnected but 500 m away; cars send BSMs
    got = _wire(rsm)
    assert isinstance(got, Rsm)
    (walker,) = got.participants
    assert walker.kind is ParticipantKind.PEDESTRIAN and walker.id == "5200000000000001/1"
    far = RoadsideSensor(rsu_id="5200000000000002", x_m=5000.0, y_m=0.0, range_m=50.0)
    assert enc.rsms(_snapshot(), far) == []
    radar = RoadsideSensor(rsu_id="5200000000000003", x_m=0.0, y_m=0.0, range_m=100.0,
                           perceives_all=True)  # fmt: skip
    ((seen_all, _),) = enc.rsms(_snapshot(), radar)
    assert "walker" in seen_all and len(seen_all) > 1  # the connected cars in range too


def test_psms_of_pedestrians_with_a_device_only() -> None:
    enc = _encoder()
    assert enc.psms(_snapshot(), frozenset()) == []
    assert enc.psms(_snapshot(), frozenset({"car"})) == []  # a vehicle sends no PSM
    ((sumo_id, psm),) = enc.psms(_snapshot(), frozenset({"walker"}))
    back = _wire(psm)
    assert sumo_id == "walker" and isinstance(back, Psm)
    assert back.participant.kind is ParticipantKind.PEDESTRIAN
    assert back.participant.id == IdentityMap(seed=1, connected_share=1.0, forced={}).bsm_id(
        "walker"
    )
    assert abs(back.participant.speed_mps - 1.3) < 0.02 and back.user_type == "aPEDESTRIAN"
