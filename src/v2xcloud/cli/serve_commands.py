"""``v2xcloud serve``: the operator API and dashboard over a live platform, recording history.

Tokens come from the environment (``V2XCLOUD_ADMIN_TOKEN``, ``V2XCLOUD_VIEWER_TOKEN``), never
from the command line (it would show in ``ps``); CORS origins from ``V2XCLOUD_CORS_ORIGINS``.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from v2xcloud.cli.logs import add_long_running
from v2xcloud.errors import ConfigError

if TYPE_CHECKING:
    from v2xcloud.runtime import Clock

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Attach ``serve``."""
    p = add_long_running(
        sub,
        "serve",
        help="serve the operator API and the dashboard (history in DuckDB or PostgreSQL)",
        description="REST + WebSocket API (schema at /docs) and the live dashboard at /.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument(
        "--store",
        default=None,
        help="history: duckdb (default, under --data-dir), memory, duckdb:///dir or "
        "postgresql://user@host/db",
    )
    p.add_argument("--data-dir", default="data", help="where the DuckDB history file lives")
    p.add_argument(
        "--participant-interval-ms",
        type=int,
        default=1000,
        help="keep one participant state per participant per interval (0: all)",
    )
    p.add_argument(
        "--live",
        choices=("scripted", "runtime"),
        default="scripted",
        help="scripted: a built-in signalised intersection with a hazard; runtime: "
        "the platform core ticking on the system clock (fed by gateways)",
    )
    p.add_argument(
        "--origin",
        default="31.2304,121.4737",
        help="lat,lon of the runtime's local frame (--live runtime)",
    )
    p.add_argument("--hz", type=float, default=10.0, help="tick rate")
    p.set_defaults(func=_run)


def _parse_origin(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise ConfigError(f"--origin {text!r}: expected 'lat,lon' in degrees") from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ConfigError(f"--origin {text!r}: outside WGS-84 degree ranges")
    return lat, lon


def _live(args: argparse.Namespace, origin: tuple[float, float], clock: Clock) -> Any:
    """The live source the API serves, started at ``args.hz`` on ``clock``'s time."""
    from v2xcloud.api.runtime_live import RuntimeLive
    from v2xcloud.api.testing import ScriptedLive
    from v2xcloud.geo import LocalFrame
    from v2xcloud.runtime import Runtime

    if args.live == "scripted":
        scripted = ScriptedLive(start_ms=clock.now_ms(), clock=clock)
        scripted.start(hz=args.hz)
        return scripted
    lat, lon = origin
    runtime = Runtime(frame=LocalFrame(origin_lat_deg=lat, origin_lon_deg=lon), clock=clock)
    live = RuntimeLive(runtime)
    live.start(hz=args.hz)
    return live


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from v2xcloud.api import ApiSettings, create_app, record_history
    from v2xcloud.api.settings import default_web_dir
    from v2xcloud.runtime import SystemClock
    from v2xcloud.store import HistoryWriter, open_store

    if args.hz <= 0:
        raise ConfigError("--hz must be positive")
    origin = _parse_origin(args.origin)  # check every argument before opening anything
    settings = ApiSettings.from_env(web_dir=default_web_dir())
    if args.host not in ("127.0.0.1", "localhost", "::1") and settings.viewer_token is None:
        print(
            "serve: warning: reads are open to anyone who can reach "
            f"{args.host}:{args.port}; set V2XCLOUD_VIEWER_TOKEN",
            file=sys.stderr,
        )
    store = open_store(args.store, data_dir=args.data_dir)
    writer = HistoryWriter(store, participant_interval_ms=args.participant_interval_ms)
    live = _live(args, origin, SystemClock())  # the one clock of this process
    stop_recording = record_history(live, writer)
    app = create_app(live=live, store=store, settings=settings, writer=writer)
    print(f"serve: dashboard http://{args.host}:{args.port}/  API schema /docs", flush=True)
    try:
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_config=None,  # uvicorn's records go through the one configuration (cli.logs)
            log_level=args.log_level,
            ws="websockets-sansio",
        )
    finally:
        live.stop()
        stop_recording()
        writer.close()
        store.close()
    return 0
