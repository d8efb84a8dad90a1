"""What importing ``v2xcloud.codec`` costs, and what the first decode costs after it.

    .venv/bin/python benchmarks/codec_import.py [--runs 5] [--before SRC_DIR]

Each run is a fresh interpreter: ``python -X importtime -c "import v2xcloud.codec"`` gives the
cumulative import time of the package (µs), and a second process times the import and then
the first ``decode`` of a frame (which compiles the message set's schema on first use). With
``--before`` pointing at another checkout's ``src`` directory, the same figures are measured
for it in the same run, interleaved, and the ratios printed (medians; the machine is noisy).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

_FIRST_DECODE = """
import time
t0 = time.perf_counter()
import v2xcloud.codec as codec
t1 = time.perf_counter()
codec.decode(b"\\x00\\x01", message_set=codec.MessageSet.CSAE2017)
t2 = time.perf_counter()
print(f"{(t1 - t0) * 1000:.1f} {(t2 - t1) * 1000:.1f}")
"""


def _env(src: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src)}


def import_us(src: Path) -> int:
    """Cumulative ``-X importtime`` µs of ``v2xcloud.codec`` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import v2xcloud.codec"],
        capture_output=True,
        text=True,
        env=_env(src),
        check=True,
    )
    for line in done.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == "v2xcloud.codec":
            return int(parts[1])
    raise RuntimeError("v2xcloud.codec not in the -X importtime output")


def first_decode_ms(src: Path) -> tuple[float, float]:
    """(import ms, first decode ms) in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_DECODE],
        capture_output=True,
        text=True,
        env=_env(src),
        check=True,
    )
    imp, first = done.stdout.split()
    return float(imp), float(first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", type=Path, help="src directory of the checkout to compare")
    args = parser.parse_args()
    targets = {"this": SRC}
    if args.before is not None:
        targets = {"before": args.before.resolve(), **targets}
    figures: dict[str, dict[str, list[float]]] = {
        name: {"importtime ms": [], "import ms": [], "first decode ms": []} for name in targets
    }
    for _ in range(args.runs):
        for name, src in targets.items():
            figures[name]["importtime ms"].append(import_us(src) / 1000.0)
            imp, first = first_decode_ms(src)
            figures[name]["import ms"].append(imp)
            figures[name]["first decode ms"].append(first)
    print(f"medians of {args.runs} fresh interpreters each")
    print(f"{'checkout':<8} {'importtime ms':>14} {'import ms':>10} {'first decode ms':>16}")
    medians = {
        name: {k: statistics.median(v) for k, v in cols.items()} for name, cols in figures.items()
    }
    for name, cols in medians.items():
        print(
            f"{name:<8} {cols['importtime ms']:>14.0f} {cols['import ms']:>10.0f} "
            f"{cols['first decode ms']:>16.0f}"
        )
    if "before" in medians:
        b, t = medians["before"], medians["this"]
        print(
            "ratio this/before: importtime "
            f"{t['importtime ms'] / b['importtime ms']:.2f}, import "
            f"{t['import ms'] / b['import ms']:.2f}, import + first decode "
            f"{(t['import ms'] + t['first decode ms']) / (b['import ms'] + b['first decode ms']):.2f}"
        )


if __name__ == "__main__":
    main()
