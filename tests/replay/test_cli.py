"""``v2xcloud replay`` on a small synthetic recording: rows skipped, output written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from v2xcloud.cli.main import main


def _recording(tmp_path: Path) -> Path:
    rows = ["track_id,frame_id,timestamp_ms,agent_type,x,y,vx,vy,psi_rad,length,width"]
    for k in range(30):  # a car closing fast on a standing car, 10 Hz
        t = k * 100
        rows.append(f"1,{k},{t},Car,{-40 + 15 * t / 1000:.2f},0,15,0,0,4.5,1.8")
        rows.append(f"2,{k},{t},Car,0,0,0,0,0,4.5,1.8")
    rows.append("3,1,oops,Car,0,0,0,0,0,4.5,1.8")
    tracks = tmp_path / "vehicle_tracks_000.csv"
    tracks.write_text("\n".join(rows) + "\n")
    return tracks


def test_replay_command_writes_jsonl_and_reports_bad_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    code = main(
        ["replay", "--tracks", str(_recording(tmp_path)), "--origin", "49.0,8.4", "--out", str(out)]
    )
    assert code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["type"] == "issue" and lines[0]["line"] == 62
    assert lines[-1]["type"] == "summary" and lines[-1]["tracks"] == 2
    assert "FCW" in lines[-1]["advisories"]
    assert "skipped 1 malformed row" in capsys.readouterr().err


def test_replay_command_errors_are_clear(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tracks = _recording(tmp_path)
    assert main(["replay", "--tracks", str(tracks), "--out", str(tmp_path / "o")]) == 1
    assert "--origin" in capsys.readouterr().err
    assert (
        main(
            [
                "replay",
                "--tracks",
                str(tmp_path / "nope.csv"),
                "--origin",
                "49,8",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2  # a usage/configuration error
    )
    assert "no such file" in capsys.readouterr().err
