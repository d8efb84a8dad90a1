"""Road tolling and vehicle near-field payment (VNFP): the platform runs the transactions of
its roadside payment points (toll gantries) with the OBUs passing them, over VPM.

A point registers with a ``PaymentPoint`` request. For each connected vehicle inside a point's
zone without a transaction there, the app offers the service (RST, ``initialzation-
request``); the OBU's answer (VSI) starts the debit (``action-request``/``setTollDataRq``:
the price under a serial number new to this pass, confirmation required); the OBU's
``action-response`` ``noError`` books the charge and the driver is shown the result
(``setMMIRq`` ok; an error answer: nok, nothing booked). A message not answered within
``retry_ms`` is sent again, the same one with the same serial number, at most
``max_tries`` times while the vehicle is in the zone: a lost answer can make the OBU see a
debit twice, never pay twice (the serial number is the OBU's idempotency key), and the
platform books one charge per vehicle and pass (a later pass within ``pass_gap_s`` is the
same pass). Sessions and booked passes are bounded (``max_sessions``; passes expire).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from v2xcloud.apps.day2.base import Day2App, Day2Config, Outbound, Request
from v2xcloud.model.day2 import PaymentPoint, Vpm
from v2xcloud.twin import Kind, SceneView, SourceCode

__all__ = ["NearFieldPayment", "VnfpConfig"]

_RST, _VSI = "initialzation-request", "initialzation-response"
_REQUEST, _RESPONSE = "action-request", "action-response"


class VnfpConfig(Day2Config, frozen=True, kw_only=True):
    """Retry timing (ms), tries per message, how long a booked pass holds (s), and bounds."""

    retry_ms: int = 300
    max_tries: int = 5
    pass_gap_s: float = 600.0
    max_sessions: int = 10_000


@dataclass
class _Session:
    point: PaymentPoint
    obu_id: str
    state: str  # "offered" -> "debiting" -> "confirmed" | "failed"
    last: Vpm
    sent_ms: int
    tries: int = 1
    sn: int | None = None


class NearFieldPayment(Day2App):
    """Runs the payment points' VPM transactions; see the module docstring."""

    code: ClassVar[str] = "VNFP"
    config_type: ClassVar[type[Day2Config]] = VnfpConfig
    accepts: ClassVar[tuple[type, ...]] = (PaymentPoint, Vpm)
    config: VnfpConfig

    def __init__(self, config: VnfpConfig | None = None) -> None:
        super().__init__(config)
        self.points: dict[str, PaymentPoint] = {}
        self.sessions: dict[tuple[str, str], _Session] = {}
        self.booked: dict[tuple[str, str], tuple[int, int]] = {}  # pass -> (sn, booked at ms)
        self.refused = 0  # sessions not opened: the session table was full
        self._sn = 0
        self._count = 0

    def on_tick(self, view: SceneView, requests: Sequence[Request], now_ms: int) -> list[Outbound]:
        """Registrations and answers first, then new offers and retries."""
        out: list[Outbound] = []
        for r in requests:
            if isinstance(r.message, PaymentPoint):
                self.points[r.message.rsu_id] = r.message
            elif isinstance(r.message, Vpm):
                out.extend(self._answer(r.message, now_ms))
        if self.points:
            inside = self._inside(view)
            out.extend(self._offer(inside, now_ms))
            out.extend(self._retry(inside, now_ms))
            self._expire(now_ms)
        return out

    def _inside(self, view: SceneView) -> set[tuple[str, str]]:
        """(point rsu id, vehicle id) for each connected vehicle inside a point's zone."""
        cars = np.flatnonzero((view.source == SourceCode.BSM) & (view.kind == Kind.VEHICLE))
        found: set[tuple[str, str]] = set()
        for rsu, p in self.points.items():
            x, y = view.frame.to_local(p.lat_deg, p.lon_deg)
            near = np.hypot(view.x_m[cars] - float(x), view.y_m[cars] - float(y)) <= p.radius_m
            found.update((rsu, view.ids[int(r)]) for r in cars[near])
        return found

    def _send(self, s: _Session, msg: Vpm, now_ms: int) -> Outbound:
        s.last, s.sent_ms = msg, now_ms
        return Outbound(app=self.code, message=msg, recipients=(s.obu_id,), issued_ms=now_ms,
                        via_rsu=s.point.rsu_id)  # fmt: skip

    def _vpm(self, step: str, s: _Session, now_ms: int, **fields: object) -> Vpm:
        self._count = (self._count + 1) % 128
        return Vpm(msg_count=self._count, step=step, time_ms=now_ms, rsu_id=s.point.rsu_id,
                   obu_id=s.obu_id, entity=s.point.entity, gantry_id=s.point.gantry_id,
                   **fields)  # type: ignore[arg-type]  # fmt: skip

    def _offer(self, inside: set[tuple[str, str]], now_ms: int) -> list[Outbound]:
        out = []
        for key in sorted(inside - self.sessions.keys() - self.booked.keys()):
            if len(self.sessions) >= self.config.max_sessions:
                self.refused += 1
                continue
            s = _Session(point=self.points[key[0]], obu_id=key[1], state="offered",
                         last=Vpm(msg_count=0, step=_RST), sent_ms=now_ms)  # fmt: skip
            self.sessions[key] = s
            out.append(
                self._send(s, self._vpm(_RST, s, now_ms, price_fen=s.point.price_fen), now_ms)
            )
        return out

    def _answer(self, msg: Vpm, now_ms: int) -> list[Outbound]:
        s = self.sessions.get((msg.rsu_id or "", msg.obu_id or ""))
        if s is None:
            return []  # an answer to nothing we run (another platform's, or a stale one)
        if msg.step == _VSI and s.state == "offered":
            self._sn = (self._sn + 1) % 2**32
            s.state, s.sn, s.tries = "debiting", self._sn, 1
            debit = self._vpm(_REQUEST, s, now_ms, action="setTollDataRq", needs_confirm=True,
                              amount_fen=s.point.price_fen, transaction_sn=s.sn)  # fmt: skip
            return [self._send(s, debit, now_ms)]
        if msg.step == _RESPONSE and s.state == "debiting":
            ok = msg.result == "noError"
            s.state = "confirmed" if ok else "failed"
            if ok:
                assert s.sn is not None
                self.booked[(s.point.rsu_id, s.obu_id)] = (s.sn, now_ms)
            shown = self._vpm(_REQUEST, s, now_ms, action="setMMIRq", result="ok" if ok else "nok")
            return [self._send(s, shown, now_ms)]
        return []  # a repeated answer: the step it answers is done

    def _retry(self, inside: set[tuple[str, str]], now_ms: int) -> list[Outbound]:
        out = []
        for key, s in list(self.sessions.items()):
            if s.state in ("confirmed", "failed"):
                if key not in inside:
                    del self.sessions[key]  # left the zone: the pass is over
                continue
            if now_ms - s.sent_ms < self.config.retry_ms:
                continue
            if s.tries >= self.config.max_tries or key not in inside:
                s.state = "failed"
                continue
            s.tries += 1
            out.append(self._send(s, s.last, now_ms))
        return out

    def _expire(self, now_ms: int) -> None:
        hold_ms = self.config.pass_gap_s * 1000
        if len(self.booked) > self.config.max_sessions or now_ms % 10_000 < self.config.period_ms:
            self.booked = {k: v for k, v in self.booked.items() if now_ms - v[1] < hold_ms}
