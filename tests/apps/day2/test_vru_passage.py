"""VSP on scripted scenes: a person crossing (PSM) in front of a car that would reach the
crossing point while the person is there gets the car held once, by an RSC whose guidance
point lies before the crossing point and whose time is after the person has cleared it; a
car that passes well before or after, a person walking along the road, a person standing
still or a stale PSM hold nobody. The RSC goes over the wire."""

from __future__ import annotations

from v2xcloud.apps.day2 import DAY2_APPS, Request
from v2xcloud.apps.day2.vru_passage import VruSafePassage
from v2xcloud.codec import Decoded, MessageSet, decode, encode_model, to_model
from v2xcloud.model import ParticipantKind, ParticipantSource
from v2xcloud.model.day2 import Psm, Rsc
from v2xcloud.twin import Scene, SceneView
from v2xcloud.twin.testing import TEST_FRAME, bsm_at, state_at

CAR = "c000000000000001"
PERSON = "d000000000000001"


def _view(car_x: float, car_speed: float = 10.0, now_ms: int = 0) -> SceneView:
    """A car driving east along y = 0 at ``car_x`` (local metres)."""
    scene = Scene(TEST_FRAME)
    bsm = bsm_at(CAR, x_m=car_x, y_m=0.0, t_ms=now_ms, speed_mps=car_speed, heading_deg=90.0)
    scene.ingest(bsm, received_at_ms=now_ms, source="obu")
    return scene.update(now_ms)


def _psm(x: float, y: float, speed: float, heading: float, t_ms: int = 0) -> Request:
    person = state_at(
        PERSON, x_m=x, y_m=y, t_ms=t_ms, speed_mps=speed, heading_deg=heading,
        kind=ParticipantKind.PEDESTRIAN, source=ParticipantSource.PSM,
    )  # fmt: skip
    psm = Psm(msg_count=1, participant=person, user_type="aPEDESTRIAN", overall_radius_m=0.5)
    return Request(message=psm, source="psm", received_at_ms=t_ms)


def test_car_held_until_the_person_has_crossed() -> None:
    app = VruSafePassage()
    # person 3 m south of the road walking north at 1.4 m/s: within 3.4 m of the car's line
    # (radius 0.5 m + margin 2 m + half the car's width) until 4.57 s from now; the car's
    # front is 37.75 m away at 10 m/s (3.8 s)
    out = app.on_tick(_view(-40.0), [_psm(0.0, -3.0, 1.4, 0.0)], 0)
    assert len(out) == 1 and out[0].recipients == (CAR,) and out[0].app == "VSP"
    rsc = out[0].message
    assert isinstance(rsc, Rsc)
    (c,) = rsc.coordinations
    assert c.vehicle_id == CAR and c.suggestion == frozenset({"slow-down"})
    (point,) = c.path_guidance
    x, y = TEST_FRAME.to_local(point.lat_deg, point.lon_deg)
    assert -4.0 < float(x) < -2.0 and abs(float(y)) < 0.1  # 3 m short of the crossing point
    assert point.time_s == 6.07  # cleared at 4.57 s, plus the 1.5 s gap
    assert app.on_tick(_view(-39.0, now_ms=100), [_psm(0.0, -2.86, 1.4, 0.0, 100)], 100) == []


def test_no_hold_without_a_conflict() -> None:
    crossing = _psm(0.0, -3.0, 1.4, 0.0)
    far = _psm(0.0, -10.0, 1.4, 0.0)  # reaches the car's line in 4.7 s
    assert VruSafePassage().on_tick(_view(-5.0), [far], 0) == []  # the car has passed by then
    assert VruSafePassage().on_tick(_view(-140.0), [crossing], 0) == []  # arrives after
    along = _psm(-10.0, -3.0, 1.4, 90.0)
    assert VruSafePassage().on_tick(_view(-40.0), [along], 0) == []  # walks along the road
    still = _psm(0.0, -3.0, 0.0, 0.0)
    assert VruSafePassage().on_tick(_view(-40.0), [still], 0) == []
    app = VruSafePassage()
    app.on_tick(_view(-200.0), [crossing], 0)  # heard, but no car near yet
    assert app.on_tick(_view(-40.0, now_ms=1500), [], 1500) == []  # that PSM is stale now


def test_its_rsc_goes_over_the_wire() -> None:
    (out,) = VruSafePassage().on_tick(_view(-40.0), [_psm(0.0, -3.0, 1.4, 0.0)], 0)
    raw = encode_model(out.message, message_set=MessageSet.CSAE2020)
    back = decode(bytes(raw), message_set=MessageSet.CSAE2020, check_version=False)
    assert isinstance(back, Decoded)
    again = to_model(back)
    assert again.vehicle_ids == (CAR,)
    assert again.coordinations[0].suggestion == frozenset({"slow-down"})


def test_registered() -> None:
    assert VruSafePassage in DAY2_APPS
