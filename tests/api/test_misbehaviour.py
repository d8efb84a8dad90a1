"""``/api/misbehaviour``: a sender the platform's detector flags is recorded into the history
(DuckDB and PostgreSQL) through the live source and served with its evidence."""

from __future__ import annotations

from v2xcloud.api import record_history
from v2xcloud.api.runtime_live import RuntimeLive
from v2xcloud.runtime import ManualClock, Runtime
from v2xcloud.security import MisbehaviourDetector
from v2xcloud.store import HistoryStore, HistoryWriter
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

from .conftest import T0, VIEWER, make_client


def _run_with_a_liar(store: HistoryStore) -> RuntimeLive:
    runtime = Runtime(frame=TEST_FRAME, screen=MisbehaviourDetector(), clock=ManualClock(T0))
    live = RuntimeLive(runtime)
    with HistoryWriter(store, participant_interval_ms=0) as writer:
        stop = record_history(live, writer)
        for k in range(30):
            t = T0 + k * 100
            runtime.ingest(bsm_at("aa00000000000001", x_m=15.0 * k / 10, y_m=0.0, t_ms=t,
                                  speed_mps=15.0, heading_deg=90.0),
                           received_at_ms=t, source="obu-1")  # fmt: skip
            runtime.ingest(bsm_at("bb00000000000002", x_m=0.0, y_m=30.0, t_ms=t,
                                  speed_mps=95.0, heading_deg=90.0),
                           received_at_ms=t, source="obu-2")  # fmt: skip
            runtime.clock.set(t)  # type: ignore[attr-defined]
            live.step()
        stop()
        writer.flush()
    return live


def test_flagged_sender_is_stored_and_served_with_evidence(store: HistoryStore) -> None:
    live = _run_with_a_liar(store)
    assert store.row_count("misbehaviour_reports") == 1
    with make_client(live, store) as client:  # type: ignore[arg-type]
        body = client.get("/api/misbehaviour", params={"start_ms": T0}).json()
        (report,) = body["reports"]
        # stored under the day's pseudonym of the id on the air; the raw id still finds it
        assert report["sender_id"] != "bb00000000000002" and report["source"] == "obu-2"
        by_raw = client.get(
            "/api/misbehaviour", params={"start_ms": T0, "sender": "bb00000000000002"}
        )
        assert by_raw.json()["reports"] == [report]
        assert report["reason"] == "speed_plausibility"
        assert len(report["evidence"]) >= 3 and "95.0 m/s" in report["evidence"][0]["detail"]
        assert body["by_reason"] == {"speed_plausibility": 1}
        assert (
            body["live"]["flagged"] == 1 and body["live"]["refused"] >= 10
        )  # counters refresh once a second
        none = client.get("/api/misbehaviour", params={"start_ms": T0, "sender": "nobody"})
        assert none.json()["reports"] == []
        bad = client.get("/api/misbehaviour", params={"reason": "vibes"})
        assert bad.status_code == 422 and "not a misbehaviour check" in bad.text


def test_misbehaviour_reads_need_the_viewer_token_when_set(store: HistoryStore) -> None:
    live = _run_with_a_liar(store)
    with make_client(live, store, viewer_token=VIEWER) as client:  # type: ignore[arg-type]
        assert client.get("/api/misbehaviour").status_code == 401
        ok = client.get("/api/misbehaviour", headers={"Authorization": f"Bearer {VIEWER}"})
        assert ok.status_code == 200
