"""``v2xcloud worker``: an edge worker that owns geographic tiles on the NATS backbone.

    v2xcloud worker --nats nats://127.0.0.1:4222[,nats://...] [--tenant T] [--origin LAT,LON]
                    [--id NAME] [--clock wall|stream] [--servers N] [--shard-zoom Z]

It joins the members bucket, takes its share of the tiles (leases in JetStream KV), reads its
tiles' and halo's frames from ``V2X_FRAMES`` (with ``--shard-zoom``, from each shard stream
``V2X_FRAMES_{shard}`` they touch), runs the scene and the safety applications and
publishes the advisories of the vehicles in its own tiles, their road events and RSI, their
lanes' traffic for the centre and the senders it flags (``gateways.tile_worker``); misbehaviour
detection runs with ``--misbehaviour-detection``.
Ctrl-C/SIGTERM leaves cleanly (heartbeat key deleted, tiles released) and prints the counters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from v2xcloud.cli.logs import add_long_running
from v2xcloud.errors import ConfigError

__all__ = ["register"]

_DEFAULT_ORIGIN = "28.2,112.9"


def _origin(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise ConfigError(f"--origin {text!r}: expected 'lat,lon' in degrees") from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ConfigError(f"--origin {text!r}: outside WGS-84 degree ranges")
    return lat, lon


def register(sub: argparse._SubParsersAction) -> None:
    """Attach the ``worker`` subcommand."""
    p = add_long_running(sub, "worker", help="an edge worker owning tiles on NATS JetStream")
    p.add_argument("--nats", required=True, help="nats://HOST:PORT (comma-separate every server)")
    p.add_argument("--tenant", default="default", help="the tenant whose tiles it serves")
    p.add_argument("--id", default="", help="worker id (default: host-pid)")
    p.add_argument(
        "--origin",
        default=_DEFAULT_ORIGIN,
        help=f"LAT,LON of the scene's local metric frame (default {_DEFAULT_ORIGIN})",
    )
    p.add_argument(
        "--clock",
        choices=("wall", "stream"),
        default="wall",
        help="tick on the wall clock (default) or on the bench's tick markers in the stream",
    )
    p.add_argument("--message-set", default="csae2020", help="default message set of frames")
    p.add_argument("--servers", type=int, default=1, help="servers in the cluster (replicas)")
    p.add_argument("--lease-ttl", type=float, default=1.0, help="lease TTL in seconds (1.0)")
    p.add_argument(
        "--from-start",
        action="store_true",
        help="with --clock stream: read the frame stream from its first message (a backlog)",
    )
    p.add_argument(
        "--tile-zoom",
        type=int,
        help="zoom of the tiles workers own (default: runtime.tiles.TILE_ZOOM, 16; every worker "
        "and the bench must agree; benchmarks/cluster_capacity.py sizes 14/15/16 and "
        "docs/deploy.md says which to choose)",
    )
    p.add_argument(
        "--shard-zoom",
        type=int,
        metavar="Z",
        help="read the frames sharded by place (one stream V2X_FRAMES_{shard} per zoom-Z "
        "quadkey, 1-16; one pull per shard the tiles and halo touch): the deployment's "
        "gateways must be given the same Z (serve --shard-zoom). Default: the one stream "
        "V2X_FRAMES",
    )
    p.add_argument(
        "--load-window",
        type=float,
        default=5.0,
        help="seconds over which a worker measures its tiles' loads (frames/s, published in its "
        "heartbeat; the wall-clocked assignment balances them, runtime.ownership.assign_by_load)",
    )
    p.add_argument(
        "--split-fps",
        type=float,
        default=10_500.0,
        help="split an owned tile that alone would have a worker read more than this many "
        "frames/s (its own and its halo's) into its four children (quadkey zoom + 1, down to "
        "zoom 17; 0: never). Default: one worker's budget, 70 %% of ~15,000 frames/CPU-s "
        "(docs/deploy.md, Sizing)",
    )
    p.add_argument(
        "--merge-fps",
        type=float,
        default=None,
        help="merge a split tile back when its children's loads sum below this many frames/s "
        "(below --split-fps: the hysteresis). Default: half of --split-fps",
    )
    p.add_argument(
        "--merge-hold",
        type=float,
        default=30.0,
        help="seconds a split tile stays split, and its children below --merge-fps, before it "
        "merges back (runtime.ownership.MergeWatch; default 30)",
    )
    p.add_argument(
        "--misbehaviour-detection",
        action="store_true",
        help="screen the senders: the misbehaviour detector runs on every self-report the "
        "worker reads (its tiles' and halo's; ~32 us each on this machine, "
        "benchmarks/misbehaviour.py) and its tiles' flags are published; flags published by "
        "other workers are refused either way only when this is on",
    )
    p.add_argument(
        "--live-hz",
        type=float,
        default=2.0,
        help="how often the owned tiles' road users are sent to the centre's live map "
        "(live.{tenant}.{tile}, core NATS; default 2; 0: never)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from v2xcloud.gateways.nats import parse_nats_urls
    from v2xcloud.gateways.tile_worker import TileWorker, WorkerConfig
    from v2xcloud.runtime.tiles import Tiling
    from v2xcloud.security.misbehaviour import FLAG_TTL_MS, MisbehaviourDetector

    if (
        args.lease_ttl <= 0
        or args.servers < 1
        or args.load_window <= 0
        or args.split_fps < 0
        or args.live_hz < 0
        or args.merge_hold < 0
        or (args.merge_fps is not None and not 0 <= args.merge_fps < (args.split_fps or 0.0))
    ):
        raise ConfigError(
            "--lease-ttl and --load-window must be > 0, --split-fps, --live-hz and "
            "--merge-hold >= 0, --merge-fps >= 0 and below --split-fps, and --servers >= 1"
        )
    if args.shard_zoom is not None and not 1 <= args.shard_zoom <= 16:
        raise ConfigError("--shard-zoom must be 1 to 16 (runtime.backbone.TILE_DIGITS)")
    config = WorkerConfig(
        urls=parse_nats_urls(args.nats),
        origin=_origin(args.origin),
        tenant=args.tenant,
        worker_id=args.id,
        clock=args.clock,
        message_set=args.message_set,
        servers=args.servers,
        lease_ttl_s=args.lease_ttl,
        from_start=args.from_start,
        heartbeat_s=min(0.2, args.lease_ttl / 4),
        tiling=Tiling() if args.tile_zoom is None else Tiling(zoom=args.tile_zoom),
        # the checks of a sender's own history and its neighbours (no RSU coverage here)
        screen=MisbehaviourDetector if args.misbehaviour_detection else None,
        flag_ttl_ms=FLAG_TTL_MS,
        load_window_s=args.load_window,
        split_fps=args.split_fps or None,
        merge_fps=args.merge_fps,
        merge_hold_s=args.merge_hold,
        live_period_ms=round(1000 / args.live_hz) if args.live_hz else 0,
        shard_zoom=args.shard_zoom,
    )
    worker = TileWorker(config)
    stop = asyncio.Event()

    async def main() -> None:
        # SIGTERM/SIGINT set ``stop`` inside the loop, so ``run`` leaves while the NATS client
        # still runs: raised as SystemExit (cli.main) they made asyncio.run cancel every task,
        # the client's reader among them, and the leave's requests timed out ("leave failed:
        # TimeoutError": the tiles stayed held until their lease lapsed)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await worker.run(stop)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:  # SIGTERM (SystemExit 143) too: the worker left cleanly; say what it did
        print(json.dumps(worker.stats(), sort_keys=True), file=sys.stderr)
    return 0
