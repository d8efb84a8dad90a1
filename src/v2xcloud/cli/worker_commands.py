"""``v2xcloud worker``: an edge worker that owns geographic tiles on the NATS backbone.

    v2xcloud worker --nats nats://127.0.0.1:4222[,nats://...] [--tenant T] [--origin LAT,LON]
                    [--id NAME] [--clock wall|stream] [--servers N]

It joins the members bucket, takes its share of the tiles (leases in JetStream KV), reads its
tiles' and halo's frames from ``V2X_FRAMES``, runs the scene and the safety applications and
publishes the advisories of the vehicles in its own tiles (``gateways.tile_worker``).
Ctrl-C/SIGTERM leaves cleanly (heartbeat key deleted, tiles released) and prints the counters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
        "and the bench must agree; 14 or 15 for large areas: a 480 m halo is then a thin strip "
        "of cells along ~1-2 km tiles)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from v2xcloud.gateways.nats import parse_nats_urls
    from v2xcloud.gateways.tile_worker import TileWorker, WorkerConfig
    from v2xcloud.runtime.tiles import Tiling

    if args.lease_ttl <= 0 or args.servers < 1:
        raise ConfigError("--lease-ttl must be > 0 and --servers >= 1")
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
    )
    worker = TileWorker(config)
    stop = asyncio.Event()

    async def main() -> None:
        await worker.run(stop)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:  # SIGTERM (SystemExit 143) too: the worker left cleanly; say what it did
        print(json.dumps(worker.stats(), sort_keys=True), file=sys.stderr)
    return 0
