"""Real over-the-air captures (T/CSAE 53-2017, Hisense, 2020) through the whole runtime."""

from __future__ import annotations

from pathlib import Path

from v2xcloud.codec import MessageSet, iter_capture_lines
from v2xcloud.geo import LocalFrame
from v2xcloud.runtime import Runtime
from v2xcloud.twin import Kind

CAPTURES = "captures/csae53-2017-hisense-captures.txt"


def test_real_frames_build_a_scene(reference_dir: Path) -> None:
    text = (reference_dir / CAPTURES).read_text(encoding="utf-8")
    runtime = Runtime(frame=LocalFrame(origin_lat_deg=28.2, origin_lon_deg=112.9))
    seen: set[str] = set()
    events = 0
    for _, frames in iter_capture_lines(text):
        assert not isinstance(frames, Exception), frames
        for f in frames:
            assert runtime.ingest_frame(
                f.frame,
                source=f.device_id,
                received_at_ms=f.timestamp_ms,
                message_set=MessageSet.CSAE2017,
            )
            runtime.tick(f.timestamp_ms)  # the captures are hours apart: tick at each arrival
            view = runtime.view
            assert view is not None
            seen.update(view.ids)
            events = max(events, len(view.events))
            assert all(
                k in (Kind.VEHICLE, Kind.UNKNOWN, Kind.PEDESTRIAN, Kind.CYCLIST) for k in view.kind
            )
    stats = runtime.stats()
    assert stats["dead_letters"] == {}
    assert stats["messages_in"] == {"Spat": 1, "Bsm": 2, "Rsm": 1, "Rsi": 1, "MapData": 1}
    # the RSM object has no BSM id: it stays its own participant, known by RSU id / ptcId
    assert len([pid for pid in seen if "/" in pid]) == 1
    assert len(seen) == 3
    # the RSU's clock is ~28 s off the capture tool's: estimated per source, frame still used
    offsets = stats["source_clock_offsets_ms"]
    assert any(abs(v) > 20_000 for k, v in offsets.items() if "/" in k)
    assert stats["scene"]["late"] == 0
    assert view is not None
    assert any(i.node is not None for i in view.intersections.values())
    assert any(i.signal is not None for i in view.intersections.values())
    assert events == 1
