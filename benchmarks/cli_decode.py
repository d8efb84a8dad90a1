"""``v2xcloud decode`` on large random input: peak RSS, wall time and the longest output line.

Random bytes are what a wrong file, a binary capture or a corrupted transfer gives the tool;
it must reject them frame by frame in bounded memory and never echo the input back whole.
For each input format it runs ``python -m v2xcloud decode`` in a child of a small measuring
parent (so the child's ``ru_maxrss`` is its own), first on an empty file (the interpreter and
imports: the baseline) and then on ``--mb`` MB of random bytes, and prints:

  peak MB     the decoding process's peak resident set
  over empty  peak minus the same run's empty-input peak (what the input itself costs)
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
        empty = work / "empty.bin"
        empty.write_bytes(b"")
        data = work / "random.bin"
        data.write_bytes(os.urandom(int(args.mb * 1_000_000)))
        out = work / "out.jsonl"
        print(f"random input: {args.mb:g} MB")
        header = f"{'tree':<7} {'format':<8} {'exit':>4} {'peak MB':>8} {'over empty':>10}"
        print(f"{header} {'wall s':>7} {'longest':>11}")
        for fmt in args.formats.split(","):
            for name, src in trees:
                _, base_mb, _, _ = _run(src, fmt, empty, out)
                code, peak_mb, wall, longest = _run(src, fmt, data, out)
                print(
                    f"{name:<7} {fmt:<8} {code:>4} {peak_mb:>8.1f} {peak_mb - base_mb:>10.1f} "
                    f"{wall:>7.1f} {longest:>11,}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
