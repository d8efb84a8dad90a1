"""``/api/health`` latency while each of the issue's API attacks runs, against idle — same run.

Starts ``v2xcloud serve --scripted`` (uvicorn, the access gate and the server limits as
shipped) in a child process with a file limit of ``--nofile`` (default 1024, the issue's), and
probes ``/api/health`` on a fresh connection every 50 ms for ``--seconds`` in each phase:

- ``idle``: nothing else;
- ``big bodies``: three clients at a time sending 100 MB JSON bodies to ``POST /api/events``
  without a token, over and over (the issue: each read and parsed, +540 MB, health 2-3 s);
- ``slowloris``: ``--slow`` half-sent requests (default: the file limit + 26, the issue's
  1,050 at 1,024) trickling a header line a second, re-opened whenever the server closes them
  (the issue: health timed out, 137 MB of tracebacks in 20 s).

Prints p50/p99/max and failures per phase, the ratio of each attack's p99 to idle's, the
server's RSS and log bytes after each phase, and what the server closed.

    .venv/bin/python benchmarks/api_attack.py
    .venv/bin/python benchmarks/api_attack.py --seconds 20 --nofile 1024
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import resource
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from v2xcloud.api.attack import Slowloris, big_body, probe, rss_kib, serve_process, summary
from v2xcloud.api.server import free_port

ADMIN = "admin-token-for-the-attack-benchmark"


def _server_stats(port: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/api/stats", headers={"Authorization": f"Bearer {ADMIN}"})
    doc: dict[str, Any] = json.loads(conn.getresponse().read())
    conn.close()
    return doc


def _big_bodies(port: int, stop: threading.Event, sent: list[int]) -> None:
    while not stop.is_set():
        result = big_body("127.0.0.1", port, size=100_000_000, timeout_s=10)
        sent.append(result.bytes_sent)


def main() -> None:
    """Run the three phases and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="per phase")
    parser.add_argument("--nofile", type=int, default=1024, help="the server's file limit")
    parser.add_argument("--slow", type=int, default=None, help="slowloris connections")
    args = parser.parse_args()
    slow = args.slow if args.slow is not None else args.nofile + 26
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # the attacker needs its own files
    if soft < slow + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, slow + 256), hard))
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "serve.log"
        env = {"V2XCLOUD_ADMIN_TOKEN": ADMIN}
        with serve_process(port, log_path=log, nofile=args.nofile, env=env) as proc:
            rows: list[tuple[str, dict[str, float], int, int]] = []
            rss0 = rss_kib(proc.pid)

            health = probe("127.0.0.1", port, duration_s=args.seconds)
            rows.append(("idle", summary(health), rss_kib(proc.pid), log.stat().st_size))

            stop = threading.Event()
            sent: list[int] = []
            attackers = [
                threading.Thread(target=_big_bodies, args=(port, stop, sent)) for _ in range(3)
            ]
            for thread in attackers:
                thread.start()
            health = probe("127.0.0.1", port, duration_s=args.seconds)
            stop.set()
            for thread in attackers:
                thread.join(timeout=30)
            rows.append(("big bodies", summary(health), rss_kib(proc.pid), log.stat().st_size))

            with contextlib.ExitStack() as stack:  # 4 attackers, so the connections open fast
                attacks = [
                    stack.enter_context(Slowloris("127.0.0.1", port, connections=slow // 4))
                    for _ in range(4)
                ]
                ramp = time.monotonic() + 10  # let the attack reach full strength first
                while sum(a.opened for a in attacks) < slow and time.monotonic() < ramp:
                    time.sleep(0.2)
                held = sum(a.opened for a in attacks)
                health = probe("127.0.0.1", port, duration_s=args.seconds)
            rows.append(("slowloris", summary(health), rss_kib(proc.pid), log.stat().st_size))
            stats = _server_stats(port)

    idle_p99 = rows[0][1]["p99_ms"]
    print(
        f"server file limit {args.nofile}, {args.seconds:.0f} s per phase, RSS at start "
        f"{rss0 / 1024:.0f} MiB; /api/health on a new connection every 50 ms"
    )
    print(
        f"{'phase':<11} {'probes':>6} {'failed':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'p99/idle':>8} {'RSS MiB':>8} {'log bytes':>10}"
    )
    for name, fig, rss, log_bytes in rows:
        print(
            f"{name:<11} {fig['n']:>6.0f} {fig['failed']:>6.0f} {fig['p50_ms']:>8.1f} "
            f"{fig['p99_ms']:>8.1f} {fig['max_ms']:>8.1f} {fig['p99_ms'] / idle_p99:>8.1f} "
            f"{rss / 1024:>8.0f} {log_bytes:>10}"
        )
    print(
        f"big bodies: {len(sent)} requests of 100 MB refused; the server let in at most "
        f"{max(sent, default=0) / 1e6:.1f} MB of one before it answered and closed"
    )
    print(
        f"slowloris: {slow} connections wanted, {held} opened when the probing began, "
        f"{sum(a.opened for a in attacks)} opened in all, "
        f"{sum(a.closed_by_server for a in attacks)} closed by the server, "
        f"{sum(a.connect_failures for a in attacks)} connects failed"
    )
    print(f"server: {stats['server']}")
    print(f"access: refused {stats['access']['refused']}")


if __name__ == "__main__":
    main()
