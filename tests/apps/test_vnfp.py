"""Near-field payment (``apps.day2.vnfp``): offer, debit, confirm; retries keep the serial
number; one booking per pass; nothing offered outside a zone."""

from __future__ import annotations

from v2xcloud.apps.day2 import NearFieldPayment, Request, VnfpConfig
from v2xcloud.model.day2 import PaymentPoint, Vpm
from v2xcloud.twin import Scene, SceneView
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

RSU = "5000000000000001"
LAT, LON = (float(v) for v in TEST_FRAME.to_wgs84(0.0, 0.0))
POINT = PaymentPoint(rsu_id=RSU, gantry_id=9, lat_deg=LAT, lon_deg=LON, radius_m=40.0,
                     price_fen=650)  # fmt: skip


def _view(t_ms: int, **cars: float) -> SceneView:
    """Eastbound connected cars at x (m) on y=0."""
    scene = Scene(TEST_FRAME)
    for pid, x in cars.items():
        scene.ingest(bsm_at(pid, x_m=x, y_m=0.0, t_ms=t_ms, speed_mps=0.0, heading_deg=90.0),
                     received_at_ms=t_ms, source=pid)  # fmt: skip
    return scene.update(t_ms)


def _req(msg: object, t_ms: int) -> Request:
    return Request(message=msg, source="obu", received_at_ms=t_ms)


def _reply(step: str, obu: str, t_ms: int, **kw: object) -> Request:
    return _req(Vpm(msg_count=1, step=step, time_ms=t_ms, rsu_id=RSU, obu_id=obu, **kw), t_ms)  # type: ignore[arg-type]


def test_a_pass_is_offered_debited_confirmed_and_booked_once() -> None:
    app = NearFieldPayment()
    (offer,) = app.on_tick(_view(0, a1=10.0, far=200.0), [_req(POINT, 0)], 0)
    assert offer.recipients == ("a1",) and offer.via_rsu == RSU
    assert (offer.message.step, offer.message.price_fen) == ("initialzation-request", 650)
    (debit,) = app.on_tick(_view(100, a1=11.0), [_reply("initialzation-response", "a1", 100)], 100)
    d = debit.message
    assert (d.step, d.action, d.amount_fen, d.needs_confirm) == (
        "action-request",
        "setTollDataRq",
        650,
        True,
    )
    ok = _reply("action-response", "a1", 200, action="setTollDataRs", result="noError")
    (shown,) = app.on_tick(_view(200, a1=12.0), [ok], 200)
    assert (shown.message.action, shown.message.result) == ("setMMIRq", "ok")
    assert app.booked[(RSU, "a1")][0] == d.transaction_sn
    assert app.on_tick(_view(300, a1=13.0), [ok], 300) == []  # a repeated answer: done
    # still in the zone, later, after leaving and coming back within the pass gap: no new offer
    assert app.on_tick(_view(2000, a1=20.0), [], 2000) == []
    assert app.on_tick(_view(3000, a1=100.0), [], 3000) == []
    assert app.on_tick(_view(4000, a1=0.0), [], 4000) == []


def test_an_unanswered_debit_is_resent_with_the_same_serial_then_given_up() -> None:
    app = NearFieldPayment(VnfpConfig(retry_ms=300, max_tries=3))
    app.on_tick(_view(0, a1=0.0), [_req(POINT, 0)], 0)
    (debit,) = app.on_tick(_view(100, a1=0.0), [_reply("initialzation-response", "a1", 100)], 100)
    resent = [
        o.message for t in range(200, 2000, 100) for o in app.on_tick(_view(t, a1=0.0), [], t)
    ]
    assert [m.transaction_sn for m in resent] == [debit.message.transaction_sn] * 2  # 3 tries
    assert app.sessions[(RSU, "a1")].state == "failed" and (RSU, "a1") not in app.booked


def test_an_error_answer_books_nothing_and_says_nok() -> None:
    app = NearFieldPayment()
    app.on_tick(_view(0, a1=0.0), [_req(POINT, 0)], 0)
    app.on_tick(_view(100, a1=0.0), [_reply("initialzation-response", "a1", 100)], 100)
    bad = _reply("action-response", "a1", 200, action="setTollDataRs", result="accessDenied")
    (shown,) = app.on_tick(_view(200, a1=0.0), [bad], 200)
    assert shown.message.result == "nok" and not app.booked


def test_no_point_no_zone_no_offer() -> None:
    assert NearFieldPayment().on_tick(_view(0, a1=0.0), [], 0) == []
    app = NearFieldPayment()
    assert app.on_tick(_view(0, a1=41.0), [_req(POINT, 0)], 0) == []
    assert app.on_tick(_view(100, a1=5.0), [_reply("initialzation-response", "zz", 100)], 100)[
        0
    ].recipients == ("a1",)
