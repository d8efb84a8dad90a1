"""What the one validity stage (``codec.plausibility``) costs, in the same run.

    .venv/bin/python benchmarks/validity_stage.py [--rounds 15]

For each frame of ``benchmarks/codec.py`` (the real 2017 captures, RSM ×16, a Day-2 PSM):
  wire_only   ``decode(frame, wire_only=True)``: parse, constraints, length, version check;
              the stage's model rules skipped
  judged      ``decode(frame)``: the same plus every validity rule (what the platform runs)
  +model      ``decode(frame).to_model()``
  stage us    judged − wire_only, in µs per frame; ratio: the judged decode's rate ÷ wire_only's
For RSI and Day-2 messages the stage builds the SI model inside ``decode`` (kept for
``to_model``), so their ``judged`` already holds the model building; for BSM, RSM and MAP it
judges the native value. Then ``check_model`` per report, the cost ``Runtime.ingest`` adds
for a model that arrives without bytes.

Times are the minimum over ``--rounds`` interleaved rounds of CPU time of this thread
(``time.thread_time``), so other processes on a shared machine distort them little.
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from codec import frames
from v2xcloud.codec import check_model, decode
from v2xcloud.twin.testing import bsm_at


def _us(fn: Callable[[], Any], number: int) -> float:
    timer = timeit.Timer(fn, timer=time.thread_time)
    return min(timer.repeat(number=number, repeat=3)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds")
    args = parser.parse_args()
    table = frames()
    best: dict[tuple[str, str], float] = {}
    for _ in range(args.rounds):
        for name, (message_set, frame) in table.items():
            number = 20 if name == "MAP" else 300
            for label, fn in (
                ("wire_only", lambda: decode(frame, message_set=message_set, wire_only=True)),  # noqa: B023
                ("judged", lambda: decode(frame, message_set=message_set)),  # noqa: B023
                ("+model", lambda: decode(frame, message_set=message_set).to_model()),  # noqa: B023
            ):
                key = (name, label)
                best[key] = min(best.get(key, float("inf")), _us(fn, number))
    print(
        f"{'message':<12} {'wire_only':>10} {'judged':>9} {'+model':>9} {'stage us':>9} {'ratio':>6}  (µs/frame)"
    )
    for name in table:
        wire, judged, model = (best[(name, k)] for k in ("wire_only", "judged", "+model"))
        print(
            f"{name:<12} {wire:>10.1f} {judged:>9.1f} {model:>9.1f} {judged - wire:>9.1f}"
            f" {wire / judged:>6.2f}"
        )
    report = bsm_at("a", x_m=0, y_m=0, t_ms=0, speed_mps=10.0)
    per_report = min(_us(lambda: check_model(report), 20_000) for _ in range(args.rounds))
    print(f"check_model of one valid BSM (Runtime.ingest of a model): {per_report:.2f} µs")


if __name__ == "__main__":
    main()
