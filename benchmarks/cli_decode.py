"""``v2xcloud decode`` on large random input: peak RSS, wall time and the longest output line.

Random bytes are what a wrong file, a binary capture or a corrupted transfer gives the tool;
it must reject them frame by frame in bounded memory and never echo the input back whole.
For each input format it runs ``python -m v2xcloud decode`` in a child of a small measuring
parent (so the child's ``ru_maxrss`` is its own), first on one valid frame in that format
(the interpreter, the imports and the compiled schema: the baseline) and then on ``--mb`` MB
of random bytes, and prints:

  peak MB     the decoding process's peak resident set
  over one    peak minus the same run's one-frame peak (what the input itself costs)
  wall s      wall-clock seconds of the run (the machine is shared: compare within a run)
  longest     the longest line written, in bytes

``--before DIR`` also runs every case against another source tree (e.g. a ``git archive`` of
an older commit's ``src``) in the same run, interleaved, for a same-run comparison::

    .venv/bin/python benchmarks/cli_decode.py --mb 50
    git archive 09f7878 src | tar -x -C /tmp/before
    .venv/bin/python benchmarks/cli_decode.py --mb 10 --before /tmp/before/src
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_MEASURE = """
import os, subprocess, sys
out, argv = sys.argv[1], sys.argv[2:]
with open(out, "wb") as sink:
    child = subprocess.Popen(argv, stdout=sink, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""

_SRC = Path(__file__).resolve().parents[1] / "src"


def _run(src: Path, fmt: str, path: Path, out: Path) -> tuple[int, float, float, int]:
    """(exit code, peak RSS MB, wall s, longest output line in bytes)."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, "-m", "v2xcloud", "decode", "--format", fmt, str(path)]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(out), *command],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    code, peak_kb = (int(v) for v in done.stdout.split())
    longest = 0
    with out.open("rb") as f:
        for line in f:
            longest = max(longest, len(line))
    return code, peak_kb / 1024, wall, longest


def _one_frame(fmt: str) -> bytes:
    """One valid BSM in ``fmt`` (hex line, raw UPER, or a vendor capture record line)."""
    sys.path.insert(0, str(_SRC))
    from v2xcloud.codec import MessageSet, encode_model
    from v2xcloud.model import Bsm, ParticipantKind, ParticipantSource, ParticipantState

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
    frame = encode_model(
        Bsm(msg_count=1, sec_mark_ms=1500, participant=state), message_set=MessageSet.CSAE2020
    )
    if fmt == "bin":
        return frame
    if fmt == "capture":  # device id, UTC ms (LE), u16 LE length, frame
        record = b"u_id_001" + (61_500).to_bytes(8, "little") + len(frame).to_bytes(2, "little")
        return f"record: {(record + frame).hex()}\n".encode()
    return frame.hex().encode() + b"\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="random input size in MB")
    parser.add_argument(
        "--formats", default="hex,bin,capture", help="comma-separated input formats"
    )
    parser.add_argument("--before", type=Path, help="another src tree to run in the same run")
    args = parser.parse_args()
    trees = [("now", _SRC)] + ([("before", args.before)] if args.before else [])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        one = work / "one"
        data = work / "random.bin"
        data.write_bytes(os.urandom(int(args.mb * 1_000_000)))
        out = work / "out.jsonl"
        print(f"random input: {args.mb:g} MB")
        header = f"{'tree':<7} {'format':<8} {'exit':>4} {'peak MB':>8} {'over one':>9}"
        print(f"{header} {'wall s':>7} {'longest':>11}")
        for fmt in args.formats.split(","):
            one.write_bytes(_one_frame(fmt))
            for name, src in trees:
                _, base_mb, _, _ = _run(src, fmt, one, out)
                code, peak_mb, wall, longest = _run(src, fmt, data, out)
                print(
                    f"{name:<7} {fmt:<8} {code:>4} {peak_mb:>8.1f} {peak_mb - base_mb:>9.1f} "
                    f"{wall:>7.1f} {longest:>11,}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
