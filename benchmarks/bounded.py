"""What a size limit costs on the hot paths: ``LruTable`` against a plain ``dict``.

Prints ns per operation for the operations the bounded tables do per message (read an entry,
rewrite a known id, add a new id past the limit, the per-source clock update), each beside
the plain-dict figure measured in the same run, and their ratio::

    python benchmarks/bounded.py [--n 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, MutableMapping

from v2xcloud.bounded import LruTable
from v2xcloud.twin.clocks import SourceClocks

__all__ = ["main"]


def _best_ns(setup: Callable[[], Callable[[], None]], n: int, repeat: int) -> float:
    """Best ns per operation of ``setup()``'s function over ``repeat`` runs (setup untimed)."""
    best = float("inf")
    for _ in range(repeat):
        fn = setup()
        began = time.perf_counter_ns()
        fn()
        best = min(best, (time.perf_counter_ns() - began) / n)
    return best


def _ops(
    table: MutableMapping[str, int], keys: list[str], fresh: list[str]
) -> dict[str, Callable[[], None]]:
    def read() -> None:
        get = table.get
        for k in keys:
            get(k)

    def rewrite() -> None:
        for i, k in enumerate(keys):
            table[k] = i

    def add_new() -> None:  # a new id each time: the bounded table evicts one per write
        for i, k in enumerate(fresh):
            table[k] = i

    return {"read (get)": read, "rewrite a known id": rewrite, "add a new id": add_new}


def main(argv: list[str] | None = None) -> None:
    """Run the comparisons and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    n, repeat = args.n, args.repeat
    live = 10_000
    keys = [f"id-{i % live}" for i in range(n)]
    print(f"{'operation':<28} {'dict ns':>9} {'LruTable ns':>12} {'ratio':>7}")
    plain: dict[str, int] = {k: 0 for k in keys}
    bounded: LruTable[str, int] = LruTable(limit=live, name="benchmark")
    for k in keys[:live]:
        bounded[k] = 0
    rounds = iter(range(1_000_000))

    def fresh() -> list[str]:
        r = next(rounds)
        return [f"new-{r}-{i}" for i in range(n)]

    for name in ("read (get)", "rewrite a known id", "add a new id"):
        results = []
        for table in (plain, bounded):

            def setup(
                table: MutableMapping[str, int] = table, op: str = name
            ) -> Callable[[], None]:
                new = fresh() if op == "add a new id" else []
                return _ops(table, keys, new)[op]

            results.append(_best_ns(setup, n, repeat))
        d, b = results
        print(f"{name:<28} {d:>9.1f} {b:>12.1f} {b / d:>7.2f}")
    print(f"(dict grew to {len(plain):,} entries; the LruTable stayed at {len(bounded):,})")

    sources = [f"rsu-{i % 200}" for i in range(n)]
    clocks = SourceClocks(window_ms=30_000)

    def clock_updates() -> None:
        to_platform = clocks.to_platform
        for i, s in enumerate(sources):
            to_platform(s, frame_ms=i, received_at_ms=i + 40)

    per = _best_ns(lambda: clock_updates, n, repeat)
    print(f"SourceClocks.to_platform (200 sources): {per:.1f} ns per report")


if __name__ == "__main__":
    main()
