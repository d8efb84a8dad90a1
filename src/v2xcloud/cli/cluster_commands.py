"""``v2xcloud cluster up``: a local NATS JetStream cluster on loopback (and edge workers on it)
for trials, tests and benchmarks.

``--servers N`` JetStream servers routed to each other (``gateways.nats_server.NatsCluster``:
free ports, stores in a temp dir, the binary's version checked), the streams of the backbone
created (``runtime.backbone``, replicas ``min(3, N)``), then ``--workers N`` processes of
``v2xcloud worker --nats URLS --servers N``. It prints the URLs to give ``serve --nats`` and the workers,
then waits; Ctrl-C or SIGTERM stops the workers, then the servers, each by pid, and deletes
the stores. A worker that exits on its own is reported and the command stops (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys
import time

from v2xcloud import processes
from v2xcloud.cli.logs import add_long_running
from v2xcloud.errors import ConfigError

__all__ = ["register"]

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Attach ``cluster up``."""
    p = sub.add_parser("cluster", help="a local NATS JetStream cluster (and workers) on loopback")
    actions = p.add_subparsers(dest="cluster_action", metavar="ACTION")
    up = add_long_running(
        actions,
        "up",
        help="start N JetStream servers (and N edge workers); Ctrl-C stops them all",
        description=__doc__,
    )
    up.add_argument("--servers", type=int, default=3, help="JetStream servers (default 3)")
    up.add_argument("--workers", type=int, default=0, help="edge workers to start (default 0)")
    up.add_argument(
        "--frames-max-age-s",
        type=float,
        default=120.0,
        help="how long V2X_FRAMES keeps frames (default 120 s)",
    )
    up.add_argument(
        "--shard-zoom",
        type=int,
        metavar="Z",
        help="shard the frame stream by place: no V2X_FRAMES, one stream V2X_FRAMES_{shard} "
        "per zoom-Z quadkey (1-16), created by the gateways on first use; the workers started "
        "here read that way (give serve the same --shard-zoom). Default: one stream",
    )
    up.set_defaults(func=_up)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _has_worker_command() -> bool:
    from v2xcloud.cli.main import build_parser

    parser = build_parser()
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        choices = getattr(action, "choices", None) or {}
        if "worker" in choices:
            return True
    return False


def _create_streams(
    urls: list[str], servers: int, frames_max_age_s: float, shard_zoom: int | None = None
) -> None:
    from v2xcloud.gateways.nats import connect, ensure_streams
    from v2xcloud.runtime import backbone

    async def run() -> None:
        nc = await connect(urls, name="v2xcloud-cluster-up")
        try:
            specs = backbone.streams(
                servers=servers, frames_max_age_s=frames_max_age_s, shard_zoom=shard_zoom
            )
            await ensure_streams(nc.jetstream(), specs)
        finally:
            await nc.close()

    asyncio.run(run())


def _start_workers(
    n: int, url: str, servers: int, shard_zoom: int | None = None
) -> list[subprocess.Popen[bytes]]:
    procs = []
    sharded = [] if shard_zoom is None else ["--shard-zoom", str(shard_zoom)]
    for i in range(n):
        cmd = [sys.executable, "-m", "v2xcloud", "worker", "--nats", url, "--servers", str(servers)]
        cmd += sharded
        procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL))
        print(f"cluster: worker {i} pid {procs[-1].pid}", flush=True)
    return procs


def _stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every worker, SIGKILL those still running after 10 s; never raises."""
    processes.stop_all(procs, grace_s=10.0, name="worker")


def _up(args: argparse.Namespace) -> int:
    from v2xcloud.gateways.nats_server import NatsCluster

    if not 1 <= args.servers <= 9:
        raise ConfigError(f"--servers {args.servers}: give 1 to 9 (3 for a replicated cluster)")
    if args.workers < 0:
        raise ConfigError("--workers must be >= 0")
    if args.frames_max_age_s <= 0:
        raise ConfigError("--frames-max-age-s must be positive")
    if args.shard_zoom is not None and not 1 <= args.shard_zoom <= 16:
        raise ConfigError("--shard-zoom must be 1 to 16 (runtime.backbone.TILE_DIGITS)")
    if args.workers and not _has_worker_command():
        raise ConfigError("--workers needs the `v2xcloud worker` command, not in this version")
    cluster = NatsCluster(args.servers)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        cluster.start()
        _create_streams(cluster.urls, args.servers, args.frames_max_age_s, args.shard_zoom)
        version = ".".join(map(str, cluster.version))
        print(f"cluster: {args.servers} nats-server {version} up", flush=True)
        for server in cluster.servers:
            print(f"cluster: {server.name} {server.url} pid {server.pid}", flush=True)
        print(f"cluster: --nats {cluster.url}", flush=True)
        workers = _start_workers(args.workers, cluster.url, args.servers, args.shard_zoom)
        return _wait(workers)
    except KeyboardInterrupt:
        return 0
    finally:
        _stop_workers(workers)
        cluster.stop()
        print("cluster: stopped", flush=True)


def _wait(workers: list[subprocess.Popen[bytes]]) -> int:
    while True:
        for proc in workers:
            if processes.reap(proc, 0.0):
                print(f"cluster: worker pid {proc.pid} exited with {proc.returncode}", flush=True)
                return 1
        time.sleep(0.5)
