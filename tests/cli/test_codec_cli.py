"""``v2xcloud decode`` / ``encode``: JSON lines, rejected frames, and decode | encode identity."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from v2xcloud.cli.main import main
from v2xcloud.codec import MessageSet, encode_native, iter_capture_lines

CAPTURES = "captures/csae53-2017-hisense-captures.txt"


@pytest.fixture()
def hex_file(tmp_path: Path, reference_dir: Path) -> Path:
    text = (reference_dir / CAPTURES).read_text(encoding="utf-8")
    frames = [f.frame.hex() for _, fr in iter_capture_lines(text) for f in fr]
    day2 = encode_native(
        ("msgFrameExt", {"messageId": 0, "value": {"msgCnt": 9, "userData": b"hi"}}),
        message_set=MessageSet.CSAE2020,
    )
    lines = [*frames[:2], "ZZ not hex", frames[2].upper(), "00", day2.hex(), *frames[3:]]
    path = tmp_path / "frames.hex"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict], str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_decode_prints_one_object_per_frame_and_goes_on_after_bad_ones(
    hex_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, err = _run(["decode", "--set", "csae2017", str(hex_file)], capsys)
    assert code == 1  # some frames were rejected
    assert [line.get("type") or line["reason"] for line in lines] == [
        "SPAT",
        "BSM",
        "framing",
        "BSM",
        "malformed",
        "unknown_message",
        "RSM",
        "RSI",
        "MAP",
    ]
    bad = lines[2]
    assert bad["rejected"] is True and bad["detail"] and bad["where"] == "line 3"
    assert lines[1]["bsmFrame"]["msgCnt"] == 117
    assert "decoded 6" in err and "framing 1" in err


def test_decode_model_prints_si_values(hex_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, lines, _ = _run(
        [
            "decode",
            "--set",
            "csae2017",
            "--model",
            "--received-at-ms",
            "1605340329636",
            str(hex_file),
        ],
        capsys,
    )
    bsm = lines[1]
    assert bsm["type"] == "BSM" and bsm["participant"]["speed_mps"] == 0.0
    assert bsm["participant"]["lat_deg"] == pytest.approx(39.9764645)
    assert bsm["participant"]["timestamp_ms"] == 1605340329500
    assert bsm["participant"]["accel_long_mps2"] is None  # 2001 = unavailable


def test_decode_pipe_encode_reproduces_the_input(hex_file: Path) -> None:
    exe = [sys.executable, "-m", "v2xcloud"]
    decoded = subprocess.run(
        [*exe, "decode", "--set", "csae2020", str(hex_file)], capture_output=True
    )
    assert decoded.returncode == 1  # the file holds bad lines on purpose
    encoded = subprocess.run(
        [*exe, "encode", "--set", "csae2020", "-"],
        input=decoded.stdout,
        capture_output=True,
        check=True,
    )
    assert encoded.stdout.decode() == hex_file.read_text(encoding="utf-8")


def test_capture_format_and_version_hint(
    reference_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, lines, _ = _run(
        ["decode", "--set", "csae2020", "--format", "capture", str(reference_dir / CAPTURES)],
        capsys,
    )
    assert [line.get("type") or line["reason"] for line in lines] == [
        "SPAT",
        "BSM",
        "BSM",
        "RSM",
        "wrong_version",
        "wrong_version",
    ]
    assert lines[0]["device_id"] == "u_id_123" and lines[0]["captured_at_ms"] == 1605336902333
    assert "is the device on csae2017?" in lines[-1]["detail"]


def test_bin_format_and_encode_errors(
    tmp_path: Path, hex_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = bytes.fromhex(hex_file.read_text().splitlines()[0])
    (tmp_path / "one.uper").write_bytes(frame)
    _, lines, _ = _run(["decode", "--format", "bin", str(tmp_path / "one.uper")], capsys)
    assert lines[0]["type"] == "SPAT"
    (tmp_path / "bad.jsonl").write_text('{"bsmFrame": {"msgCnt": 1}}\n', encoding="utf-8")
    code = main(["encode", str(tmp_path / "bad.jsonl")])
    assert code == 1 and "line 1" in capsys.readouterr().err


def test_bad_set_is_a_config_error(hex_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--set", "csae2019", str(hex_file)]) == 2
    assert "choose one of csae2017, csae2020" in capsys.readouterr().err
