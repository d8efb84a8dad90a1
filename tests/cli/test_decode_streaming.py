"""``v2xcloud decode`` streams: bounded memory on large random input, rejection lines that
never echo more than a bounded slice of the input (and say so), and an exit status that says
whether anything was rejected (0 all decoded, 1 some rejected, 2 usage/config)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from v2xcloud.cli.codec_commands import ECHO_BYTES, ECHO_CHARS, MAX_FRAME_BYTES, MAX_LINE_BYTES
from v2xcloud.cli.main import main
from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.model import Bsm, ParticipantKind, ParticipantSource, ParticipantState


def _bsm_hex(msg_count: int = 3) -> str:
    state = ParticipantState(
        id="0102030405060708",
        kind=ParticipantKind.VEHICLE,
        source=ParticipantSource.BSM,
        timestamp_ms=61_500,
        lat_deg=28.1,
        lon_deg=112.9,
        speed_mps=10.0,
        heading_deg=90.0,
    )
    bsm = Bsm(msg_count=msg_count, sec_mark_ms=1500, participant=state)
    return encode_model(bsm, message_set=MessageSet.CSAE2020).hex()


def _decode(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list[dict]]:
    code = main(["decode", *extra, str(path)])
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines()]


def test_exit_status_says_whether_anything_was_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.hex"
    good.write_text(f"{_bsm_hex(1)}\n\n{_bsm_hex(2)}\n", encoding="utf-8")
    code, lines = _decode(good, capsys)
    assert code == 0 and [line["type"] for line in lines] == ["BSM", "BSM"]

    mixed = tmp_path / "mixed.hex"
    mixed.write_text(f"{_bsm_hex(1)}\nzz\n", encoding="utf-8")
    code, lines = _decode(mixed, capsys)
    assert code == 1 and lines[1]["rejected"] and lines[1]["where"] == "line 2"

    empty = tmp_path / "empty.hex"
    empty.write_bytes(b"")
    assert _decode(empty, capsys) == (0, [])  # nothing there, nothing rejected

    assert main(["decode", str(tmp_path / "missing.hex")]) == 2  # usage/config
    with pytest.raises(SystemExit) as usage:  # argparse's own usage error
        main(["decode", "--format", "nope", str(good)])
    assert usage.value.code == 2


def test_rejections_echo_a_bounded_slice_and_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big_frame = bytes(range(256)) * 80  # 20,480 bytes of valid hex, not a frame
    not_hex = "q" * (ECHO_CHARS + 5000)
    path = tmp_path / "long.hex"
    path.write_text(f"{big_frame.hex()}\n{not_hex}\n{_bsm_hex()}\n", encoding="utf-8")
    code, (frame, line, good) = _decode(path, capsys)
    assert code == 1 and good["type"] == "BSM"
    assert frame["rejected"] and frame["raw_truncated"] is True
    assert frame["raw_bytes"] == len(big_frame) and frame["raw"] == big_frame[:ECHO_BYTES].hex()
    assert line["reason"] == "framing" and line["text_truncated"] is True
    assert line["text_bytes"] == len(not_hex) + 1 and line["text"] == not_hex[:ECHO_CHARS]

    # encode refuses to give back a frame it only has part of
    decoded = tmp_path / "decoded.jsonl"
    decoded.write_text(json.dumps(frame) + "\n", encoding="utf-8")
    assert main(["encode", str(decoded)]) == 1
    assert "cut short" in capsys.readouterr().err


# Runs one command and reports its exit code and peak RSS (kB). It runs in a small parent of
# its own: a child forked straight from pytest would count pytest's RSS in its ru_maxrss
# (Linux keeps the pre-exec high-water mark).
_MEASURE = """
import os, subprocess, sys
out, argv = sys.argv[1], sys.argv[2:]
with open(out, "wb") as sink:
    child = subprocess.Popen(argv, stdout=sink, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def _peak_rss_mb(argv: list[str], out: Path) -> tuple[int, float, float]:
    """Run ``python -m v2xcloud ARGV`` with stdout to ``out``: (exit code, peak RSS MB, s)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    started = time.monotonic()
    command = [sys.executable, "-m", "v2xcloud", *argv]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(out), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    code, peak_kb = (int(v) for v in done.stdout.split())
    return code, peak_kb / 1024, time.monotonic() - started


def test_large_random_input_streams_in_bounded_memory(tmp_path: Path) -> None:
    """Random bytes as hex lines (2 MB, plus one 3 MB line of hex digits): the decoding
    process's peak RSS stays within a few MB of decoding a one-frame file, no output line is
    large, and the stream goes on to the end. Reading the input whole (as before) peaked
    near 20x the input size (970 MB for 50 MB)."""
    tiny = tmp_path / "tiny.hex"  # one frame: the codec compiles its schema in both runs
    tiny.write_bytes(_bsm_hex().encode() + b"\n")
    hex_input = tmp_path / "random.hex"
    with hex_input.open("wb") as f:
        f.write(os.urandom(2_000_000))
        f.write(b"\n" + b"ab" * 1_500_000 + b"\n")  # one overlong line of valid hex digits
        f.write(_bsm_hex().encode() + b"\n")

    base_code, base_mb, _ = _peak_rss_mb(["decode", str(tiny)], tmp_path / "tiny.out")
    hex_code, hex_mb, hex_s = _peak_rss_mb(["decode", str(hex_input)], tmp_path / "hex.out")
    print(f"peak RSS: one frame {base_mb:.1f} MB, 5 MB input {hex_mb:.1f} MB ({hex_s:.1f} s)")
    assert (base_code, hex_code) == (0, 1)
    assert hex_mb - base_mb < 16, (base_mb, hex_mb)  # MAX_LINE_BYTES is 1 MB

    longest = 0
    last: dict[str, object] = {}
    overlong: list[dict[str, object]] = []
    with (tmp_path / "hex.out").open("rb") as f:
        for raw in f:
            longest = max(longest, len(raw))
            last = json.loads(raw)
            if b"bytes long, more than" in raw[:400]:
                overlong.append(last)
    assert longest < 4 * ECHO_CHARS  # replacement characters are 3 bytes in UTF-8
    assert last["type"] == "BSM"  # the stream went on to the end
    (long_line,) = overlong
    assert long_line["text_truncated"] is True and long_line["text_bytes"] == 3_000_001
    assert f"more than the {MAX_LINE_BYTES}" in str(long_line["detail"])


def test_a_50_mb_bin_input_is_rejected_without_being_held(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--format bin`` takes the input as one frame: 50 MB of random bytes are refused after
    reading MAX_FRAME_BYTES, the rest only counted (peak traced allocation a few MB), and
    the rejection echoes ECHO_BYTES of it, not a 100 MB hex line."""
    path = tmp_path / "random.bin"
    path.write_bytes(os.urandom(50_000_000))
    tracemalloc.start()
    try:
        code = main(["decode", "--format", "bin", str(path)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    out = capsys.readouterr().out
    assert code == 1 and peak < 4 * MAX_FRAME_BYTES, peak
    (line,) = [json.loads(text) for text in out.splitlines()]
    assert line["raw_truncated"] is True and line["raw_bytes"] == 50_000_000
    assert len(line["raw"]) == 2 * ECHO_BYTES and str(MAX_FRAME_BYTES) in line["detail"]
