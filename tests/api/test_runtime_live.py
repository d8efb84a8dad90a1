"""The API over the real runtime: an FCW approach scripted in local metres."""

from __future__ import annotations

from fastapi.testclient import TestClient

from v2xcloud.api import ApiSettings, TickDelta, create_app
from v2xcloud.api.runtime_live import RuntimeLive
from v2xcloud.apps import ForwardCollisionWarning
from v2xcloud.runtime import ListSource, Runtime, TimedMessage
from v2xcloud.store import DuckDbStore
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

from .conftest import T0


def _approach(seconds: float) -> ListSource:
    items = []
    for k in range(int(seconds * 10) + 1):
        t = T0 + 100 * k
        items.append(
            TimedMessage(
                received_at_ms=t + 15,
                source="ego",
                message=bsm_at("ego", x_m=0, y_m=1.5 * k, t_ms=t, speed_mps=15.0),
            )
        )
        if k < 25:  # the lead stops reporting after 2.5 s and leaves the scene
            items.append(
                TimedMessage(
                    received_at_ms=t + 25,
                    source="lead",
                    message=bsm_at("lead", x_m=0, y_m=64.5, t_ms=t, speed_mps=0.0),
                )
            )
    return ListSource(items)


def test_runtime_ticks_become_deltas_and_endpoints() -> None:
    runtime = Runtime(
        frame=TEST_FRAME, apps=[ForwardCollisionWarning()], scene_options={"stale_after_ms": 1000}
    )
    live = RuntimeLive(runtime)
    deltas: list[TickDelta] = []
    live.subscribe(deltas.append)
    runtime.replay(_approach(4.0), start_ms=T0, end_ms=T0 + 4000, tick_ms=100)

    assert len(deltas) == 41
    assert {p.id for p in deltas[5].participants} == {"ego", "lead"}
    assert any("lead" in d.removed_ids for d in deltas)
    # no new report from the lead after 2.4 s: it stays in the scene but is not re-sent
    assert {p.id for p in deltas[27].participants} == {"ego"}
    assert "lead" not in deltas[27].removed_ids
    fcw = [a for d in deltas for a in d.advisories if a.app == "FCW"]
    assert fcw and fcw[0].ego_id == "ego"
    stats = [d.stats for d in deltas if d.stats is not None]
    assert 3 <= len(stats) <= 6  # refreshed about once a second, not every tick
    assert stats[-1].messages_in_per_s > 5
    assert [p.id for p in live.participants()] == ["ego"]

    app = create_app(live=live, store=DuckDbStore(data_dir=None), settings=ApiSettings())
    with TestClient(app) as client:
        assert [p["id"] for p in client.get("/api/participants").json()] == ["ego"]
        platform = client.get("/api/stats").json()["platform"]
        assert platform["participants"] == 1
        assert platform["evicted"] == {
            "clock_sources": 0,
            "intersections": 0,
            "maps": 0,
            "events": 0,
            "signs": 0,
        }
        assert client.get("/api/intersections").json() == []
