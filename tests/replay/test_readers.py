"""Recording readers: real K733 files, and malformed input reported and skipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from v2xcloud.errors import ReplayError
from v2xcloud.geo import ScaledSphericalMercator
from v2xcloud.model import LightState, NodeId, ParticipantKind
from v2xcloud.replay import (
    light_of_movement_state,
    read_kml_map,
    read_signals,
    read_tracks,
    rsm_frames,
)
from v2xcloud.replay.recording import load_recording

K733 = "trajectories/taf-bw-k733-2020"


@pytest.fixture(scope="module")
def k733(reference_dir: Path) -> Path:
    return reference_dir / K733


def test_k733_tracks_signals_and_map(k733: Path) -> None:
    tracks, issues = read_tracks(k733 / "vehicle_tracks_000.csv")
    assert (len(tracks), tracks.track_count, issues) == (18625, 74, [])
    signals, issues = read_signals(k733 / "signal_phases_000.csv")
    assert len(signals.group_ids) == 36 and issues == []
    node = read_kml_map(k733 / "k733_map.kml", speed_limit_mps=50 / 3.6).nodes[0]
    assert node.id == NodeId(region=None, id=5678)
    lanes = [lane for link in node.in_links for lane in link.lanes]
    ingress = [la for la in lanes if la.connections and la.lane_type == "vehicle"]
    assert len(ingress) == 16 and sum(la.lane_type == "crosswalk" for la in lanes) == 16
    assert {c.phase_id for la in ingress for c in la.connections} == set(range(1, 12))
    frame = ScaledSphericalMercator(origin_lat_deg=node.lat_deg, origin_lon_deg=node.lon_deg)
    for lane in ingress:  # every approach lane runs towards the junction and ends at its stop line
        x, y = frame.to_local(
            np.array([p[0] for p in lane.points]), np.array([p[1] for p in lane.points])
        )
        chord = np.array([x[-1] - x[0], y[-1] - y[0]])
        assert (np.diff(x) * chord[0] + np.diff(y) * chord[1] > 0).all(), lane.lane_id
        assert np.hypot(x[-1], y[-1]) < np.hypot(x[0], y[0]), lane.lane_id


def test_k733_tracks_lie_on_the_map(k733: Path) -> None:
    rec = load_recording(tracks=k733 / "vehicle_tracks_000.csv", map_path=k733 / "k733_map.kml")
    assert rec.base_ms == 1600185974500  # 2020-09-15 18:06:14.5 GMT+2
    first = next(rsm_frames(rec.tracks, rec.georef, base_ms=rec.base_ms))
    assert all(49.0 < p.lat_deg < 49.01 and 8.43 < p.lon_deg < 8.445 for p in first.participants)
    assert {p.kind for p in first.participants} <= set(ParticipantKind)


def test_movement_state_names() -> None:
    assert light_of_movement_state("STOP_AND_REMAIN") is LightState.RED
    assert light_of_movement_state("protected-Movement-Allowed") is LightState.PROTECTED_GREEN
    assert light_of_movement_state("PRE_MOVEMENT") is LightState.RED
    assert light_of_movement_state("PERMISSIVE_CLEARANCE") is LightState.YELLOW
    assert light_of_movement_state("banana") is None


def test_malformed_track_rows_are_reported_and_skipped(tmp_path: Path) -> None:
    csv = tmp_path / "vehicle_tracks_007.csv"
    csv.write_text(
        "frame_id,track_id,timestamp_ms,agent_type,x,y,extra\n"  # reordered, extra, no vx/vy
        "1,a,0,Tram,0,0,z\n"
        "2,a,100,Tram,1,0,z\n"
        "3,a,abc,Car,2,0,z\n"
        "4,b,0,Car\n"
        "5,,0,Car,0,0,z\n"
        "6,a,100,Tram,9,9,z\n"
        "7,c,0,Car,1e9,0,z\n"
    )
    tracks, issues = read_tracks(csv)
    assert len(tracks) == 2 and tracks.track_count == 1
    assert [(i.line, i.reason.split(" ")[0]) for i in issues] == [
        (4, "not"),
        (5, "4"),
        (6, "empty"),
        (7, "duplicate"),
        (8, "implausible"),
    ]
    assert tracks.vx_mps.tolist() == [10.0, 10.0]  # derived from positions
    (rsm, _) = list(
        rsm_frames(tracks, ScaledSphericalMercator(origin_lat_deg=49.0, origin_lon_deg=8.4))
    )
    assert rsm.participants[0].kind is ParticipantKind.UNKNOWN  # unknown agent type tolerated


def test_velocities_in_another_scale_than_the_positions_are_rescaled(tmp_path: Path) -> None:
    """Velocities that move the tracks half as far as their positions do are rescaled to the
    positions, and the loader says so; velocities that agree are left as recorded."""
    rows = ["track_id,timestamp_ms,agent_type,x,y,vx,vy"]
    for tid, speed in (("a", 10.0), ("b", 6.0)):
        rows += [f"{tid},{k * 100},Car,{speed * k / 10:.3f},0,{speed / 2},0" for k in range(40)]
    halved = tmp_path / "vehicle_tracks_000.csv"
    halved.write_text("\n".join(rows) + "\n")
    rec = load_recording(tracks=halved, origin=(49.0, 8.4))
    (note,) = rec.corrections
    assert "2.00x" in note
    assert np.allclose(rec.tracks.vx_mps[rec.tracks.track_id == "a"], 10.0)
    agreeing = tmp_path / "vehicle_tracks_001.csv"
    agreeing.write_text(
        "\n".join(r.replace(",5.0,0", ",10.0,0").replace(",3.0,0", ",6.0,0") for r in rows) + "\n"
    )
    rec = load_recording(tracks=agreeing, origin=(49.0, 8.4))
    assert rec.corrections == [] and np.allclose(rec.tracks.vx_mps[rec.tracks.track_id == "b"], 6.0)


def test_missing_columns_files_and_origin_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "t.csv"
    bad.write_text("id,time,x,y\n1,0,0,0\n")
    with pytest.raises(ReplayError, match="track_id"):
        read_tracks(bad)
    with pytest.raises(ReplayError, match="cannot open"):
        read_tracks(tmp_path / "absent.csv")
    good = tmp_path / "tracks.csv"
    good.write_text("track_id,timestamp_ms,x,y\n1,0,0,0\n")
    with pytest.raises(ReplayError, match="--origin"):
        load_recording(tracks=good)
    assert load_recording(tracks=good, origin=(49.0, 8.4)).base_ms == 0


def test_signal_rows_and_timing(tmp_path: Path) -> None:
    csv = tmp_path / "signals.csv"
    rows = ["signal_group_id,timestamp_ms,movement_state"]
    rows += [
        f"1,{t},{'STOP_AND_REMAIN' if t < 3000 else 'PROTECTED_MOVEMENT_ALLOWED'}"
        for t in range(0, 6000, 100)
    ]
    rows += ["1,6000,WARP_SPEED", "x,1,DARK"]
    csv.write_text("\n".join(rows) + "\n")
    signals, issues = read_signals(csv)
    assert [i.line for i in issues] == [62, 63]
    phase = signals.phase_at(1, 1000)
    assert phase.states[0].light is LightState.RED and phase.states[0].likely_end_s == 2.0
    assert phase.states[1].light is LightState.PROTECTED_GREEN
    assert signals.phase_at(1, 4000).states[0].likely_end_s is None  # runs to the end
