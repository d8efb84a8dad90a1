"""The runtime's Day-2 host: requests routed to the apps that accept them, outbound messages
collected, failures isolated, the inbox bounded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import msgspec

from v2xcloud.apps.day2 import DAY2_APPS, Day2App, Outbound, Request
from v2xcloud.model import ParticipantKind, ParticipantSource
from v2xcloud.model.day2 import Psm, Rtcm, Vpm
from v2xcloud.runtime import Runtime
from v2xcloud.twin import SceneView
from v2xcloud.twin.testing import TEST_FRAME, bsm_at


class _Echo(Day2App):
    """Answers every VPM with an RTCM to every vehicle in the scene (a test double)."""

    code: ClassVar[str] = "ECHO"
    accepts: ClassVar[tuple[type, ...]] = (Vpm,)

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Request] = []

    def on_tick(self, view: SceneView, requests: Sequence[Request], now_ms: int) -> list[Outbound]:
        self.seen.extend(requests)
        if not requests or not view.ids:
            return []
        msg = Rtcm(msg_count=len(requests) % 128, payloads=(b"\xd3\x00",))
        return [Outbound(app=self.code, message=msg, recipients=tuple(view.ids), issued_ms=now_ms)]


class _Broken(Day2App):
    code: ClassVar[str] = "BROKEN"

    def on_tick(self, view: SceneView, requests: Sequence[Request], now_ms: int) -> list[Outbound]:
        raise RuntimeError("boom")


def test_requests_reach_the_app_and_its_messages_come_out() -> None:
    echo = _Echo()
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=(), day2_apps=[_Broken(), echo])
    runtime.ingest(bsm_at("a1", x_m=0, y_m=0, t_ms=0, speed_mps=5.0), received_at_ms=0, source="a")
    assert runtime.ingest(Vpm(msg_count=1, step="action-response"), received_at_ms=10, source="obu")
    runtime.tick(100)
    out = runtime.take_outbound()
    assert [o.kind for o in out] == ["RTCM"] and out[0].recipients == ("a1",)
    assert [r.source for r in echo.seen] == ["obu"]
    assert runtime.take_outbound() == []  # taken once
    stats = runtime.stats()
    assert stats["day2"]["sent"] == {"ECHO:RTCM": 1}
    assert stats["day2"]["errors"] == {"BROKEN": 1}
    assert stats["errors"]["day2:BROKEN"] == 1
    assert stats["messages_in"]["Vpm"] == 1


def test_a_day2_message_no_app_takes_is_a_dead_letter() -> None:
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=(), day2_apps=[])
    assert not runtime.ingest(
        Vpm(msg_count=1, step="action-response"), received_at_ms=0, source="x"
    )
    assert runtime.stats()["dead_letters"] == {"unsupported_message": 1}


def test_the_inbox_is_bounded_and_overflow_is_counted() -> None:
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=(), day2_apps=[_Echo()])
    runtime.day2.capacity = 2
    took = [
        runtime.ingest(Vpm(msg_count=k, step="action-response"), received_at_ms=0, source="o")
        for k in range(3)
    ]
    assert took == [True, True, False]
    assert runtime.stats()["dead_letters"] == {"queue_full": 1}


def test_every_registered_day2_app_has_a_code_and_runs_by_default() -> None:
    runtime = Runtime(frame=TEST_FRAME)
    assert {a.code for a in runtime.day2.apps} == {t.code for t in DAY2_APPS}
    assert all(t.code for t in DAY2_APPS)


def test_a_psm_puts_the_person_in_the_scene_and_reaches_the_apps_that_take_it() -> None:
    walker = msgspec.structs.replace(
        bsm_at("0000000000000p01", x_m=5, y_m=0, t_ms=0, speed_mps=1.4).participant,
        kind=ParticipantKind.PEDESTRIAN,
        source=ParticipantSource.PSM,
    )
    psm = Psm(msg_count=1, participant=walker, user_type="aPEDESTRIAN", overall_radius_m=0.5)

    class _Vru(Day2App):
        code: ClassVar[str] = "VRU"
        accepts: ClassVar[tuple[type, ...]] = (Psm,)

        def __init__(self) -> None:
            super().__init__()
            self.seen: list[Request] = []

        def on_tick(
            self, view: SceneView, requests: Sequence[Request], now_ms: int
        ) -> list[Outbound]:
            self.seen.extend(requests)
            return []

    for apps in ([], [_Vru()]):
        runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=(), day2_apps=apps)
        assert runtime.ingest(psm, received_at_ms=10, source="phone")
        runtime.tick(100)
        assert list(runtime.view.ids) == [walker.id]  # VRUCW and the other Day-1 apps see them
        assert runtime.stats()["messages_in"]["Psm"] == 1
        assert all(len(app.seen) == 1 for app in apps)
