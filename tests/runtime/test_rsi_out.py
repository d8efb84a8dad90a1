"""RSI produced by the platform from its own detections decodes with the reference schemas."""

from __future__ import annotations

import sys
from pathlib import Path

import asn1tools
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "apps"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "apps" / "events"))

from _roadside_scene import junction_map, spat, vehicle
from _script import run

from v2xcloud.apps.events import CongestionDetector, StoppedVehicleDetector
from v2xcloud.codec import MessageSet
from v2xcloud.model import LightState, RoadEvent
from v2xcloud.runtime.rsi_out import encode_rsi, rsi_messages

RED, GREEN = LightState.RED, LightState.PROTECTED_GREEN
REFERENCE = {MessageSet.CSAE2017: "csae53-2017", MessageSet.CSAE2020: "csae53-2020-day2"}


@pytest.fixture(scope="module")
def detected() -> list[RoadEvent]:
    """A stalled queue on green: the stopped head and the congested lane, as detected."""

    def frame(t: int) -> list[object]:
        cars = [vehicle(f"v{k}", 0, -4 - 7 * k, 0.0, t_ms=t) for k in range(8)]
        return [junction_map(), spat(t, phase1=(GREEN, 200.0, RED, 230.0)), *cars]

    events = run(StoppedVehicleDetector(min_stopped_s=20), 70, frame)[-1]
    events += run(CongestionDetector(min_duration_s=60), 70, frame)[-1]
    assert {e.kind for e in events} == {"stopped_vehicle", "congestion"}
    return events


@pytest.fixture(scope="module", params=sorted(REFERENCE, key=str))
def reference(request: pytest.FixtureRequest, reference_dir: Path) -> tuple[MessageSet, object]:
    files = sorted(
        str(p) for p in (reference_dir / "asn1" / REFERENCE[request.param]).glob("*.asn")
    )
    return request.param, asn1tools.compile_files(files, "uper")


def test_detected_events_encode_and_decode_with_the_reference_schema(
    detected: list[RoadEvent], reference: tuple[MessageSet, object]
) -> None:
    message_set, schema = reference
    (rsi,) = rsi_messages(
        detected,
        rsu_id="0011223344556677",
        ref_lat_deg=49.0,
        ref_lon_deg=8.4,
        now_ms=1_600_000_000_000,
    )
    data, csae_json = encode_rsi(rsi, message_set=message_set)
    kind, value = schema.decode("MessageFrame", data)  # type: ignore[attr-defined]
    assert kind == "rsiFrame"
    assert value["id"] == bytes.fromhex("0011223344556677")
    rtes = value["rtes"]
    assert [r["rteId"] for r in rtes] == [e.event_id for e in detected]
    assert [r["eventType"] for r in rtes] == [e.event_type for e in detected]
    assert all(r["eventSource"] == "detection" for r in rtes)
    congestion = next(r for r, e in zip(rtes, detected, strict=True) if e.kind == "congestion")
    assert len(congestion["referencePaths"][0]["activePath"]) == 2
    assert "eventConfidence" in congestion and "timeDetails" in congestion
    json_rtes = csae_json["rsiFrame"]["rtes"]  # CSAE JSON: same content, JSON-friendly values
    assert csae_json["rsiFrame"]["id"] == "0011223344556677"
    assert [r["eventConfidence"] for r in json_rtes] == [r["eventConfidence"] for r in rtes]


def test_more_than_eight_events_are_split(detected: list[RoadEvent]) -> None:
    many = [detected[0]] * 11
    msgs = rsi_messages(
        many,
        rsu_id="0011223344556677",
        ref_lat_deg=49.0,
        ref_lon_deg=8.4,
        now_ms=0,
        first_msg_count=127,
    )
    assert [len(m.events) for m in msgs] == [8, 3] and [m.msg_count for m in msgs] == [127, 0]
