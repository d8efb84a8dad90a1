"""``v2xcloud serve``: the platform as a service: devices in through the gateways (``--mqtt``,
``--udp``, ``--gb32960``), the runtime ticking on them, warnings out through the down-link, the
operator API and dashboard (``--http``), history recorded (``--store``). The device registry is
kept in the store and seeded from ``--devices FILE``; unknown devices are refused (counted and
logged) unless ``--allow-unknown``. ``--nats URL`` publishes every accepted frame to the
JetStream backbone; ``--role gateway`` makes this process the gateway tier only (no scene: the
edge workers run it), ``--role centre`` the centre tier (the workers' advisories, events,
dead letters and live map into the API, dashboard and history; docs/deploy.md). ``--scripted`` serves a built-in intersection instead (UI work).

Tokens come from the environment (``V2XCLOUD_ADMIN_TOKEN``, ``V2XCLOUD_VIEWER_TOKEN``), never
from the command line (it would show in ``ps``); CORS origins from ``V2XCLOUD_CORS_ORIGINS``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from v2xcloud.cli._ev_signatures import add_signature_options, signature_check
from v2xcloud.cli.logs import add_long_running
from v2xcloud.errors import ConfigError, V2xCloudError

if TYPE_CHECKING:
    from v2xcloud.runtime import Clock

__all__ = ["register"]

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Attach ``serve``."""
    p = add_long_running(
        sub,
        "serve",
        help="serve the operator API and the dashboard (history in DuckDB or PostgreSQL)",
        description="REST + WebSocket API (schema at /docs) and the live dashboard at /.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    p.add_argument("--port", type=int, default=8080, help="HTTP port of the API and console")
    p.add_argument(
        "--time-zone",
        default=None,
        metavar="ZONE",
        help="the district's IANA time zone, e.g. Asia/Shanghai: the console shows times in it "
        "(default: $V2XCLOUD_TIME_ZONE, else the browser's)",
    )
    p.add_argument(
        "--store",
        default=None,
        help="history: duckdb (default, under --data-dir), memory, duckdb:///dir or "
        "postgresql://user@host/db",
    )
    p.add_argument("--data-dir", default="data", help="where the DuckDB history file lives")
    p.add_argument(
        "--evaluations",
        type=Path,
        default=None,
        metavar="DIR",
        help="runs of `v2xcloud evaluate --report DIR/<run>` shown in the console's evaluation "
        "view (default: DATA_DIR/evaluations)",
    )
    p.add_argument(
        "--trajectory-days",
        type=float,
        default=7.0,
        help="raw trajectories (and their pseudonym day keys) are deleted after this many days",
    )
    p.add_argument(
        "--participant-interval-ms",
        type=int,
        default=1000,
        help="keep one participant state per participant per interval (0: all)",
    )
    p.add_argument(
        "--http",
        default=None,
        metavar="HOST:PORT",
        help="API and dashboard address (or --host/--port)",
    )
    p.add_argument(
        "--live",
        choices=("scripted", "runtime"),
        default="runtime",
        help="runtime (default): the platform core fed by the device gateways; scripted: a "
        "built-in signalised intersection with a hazard (same as --scripted)",
    )
    p.add_argument(
        "--scripted",
        action="store_const",
        const="scripted",
        dest="live",
        help="serve the built-in scripted intersection instead of the platform (UI work)",
    )
    p.add_argument(
        "--origin",
        default="31.2304,121.4737",
        help="lat,lon of the deployment's local frame",
    )
    p.add_argument("--mqtt", default=None, metavar="URL", help="device broker, mqtt://HOST:PORT")
    p.add_argument(
        "--udp",
        default=None,
        metavar="HOST:PORT",
        help="raw UPER over UDP (PORT generic, the next 5 per type)",
    )
    p.add_argument(
        "--gb32960",
        default=None,
        metavar="HOST:PORT",
        help="GB/T 32960 TCP server for EV terminals",
    )
    p.add_argument(
        "--devices", default=None, metavar="FILE", help="seed the device registry (TOML or JSON)"
    )
    p.add_argument(
        "--ev-secrets",
        default=None,
        metavar="FILE",
        help="GB/T 32960 terminal login secrets and platform accounts (TOML/JSON, chmod 600)",
    )
    p.add_argument(
        "--ev-chargers",
        default=None,
        metavar="FILE",
        help="JSON list of charging stations (id, lat_deg, lon_deg, power_kw, ports): enables "
        "the EV charging warnings and the charging plan (/api/ev/charging)",
    )
    add_signature_options(p)
    p.add_argument(
        "--allow-unknown",
        action="store_true",
        help="accept and register devices not in the registry (labs); default: refuse them",
    )
    p.add_argument(
        "--no-misbehaviour-detection",
        action="store_true",
        help="believe every report (default: senders failing the misbehaviour checks are "
        "flagged, their reports refused as 'misbehaving' and reported at /api/misbehaviour)",
    )
    p.add_argument(
        "--mqtt-client-id", default="v2xcloud-platform", help="the platform's MQTT session id"
    )
    p.add_argument(
        "--mqtt-tls",
        default=None,
        metavar="DIR",
        help="TLS PKI directory (ca.crt, platform.crt/.key, server.crt/.key, crl.pem, devices/): "
        "the platform logs in to --mqtt mqtts://... with its certificate and keeps the broker's "
        "per-device rights in step with the registry",
    )
    p.add_argument(
        "--mqtt-broker",
        action="store_true",
        help="start the project's Mosquitto for --mqtt (with --mqtt-tls: TLS listener at its "
        "port, password listener at --mqtt-password-port; rights from the registry)",
    )
    p.add_argument(
        "--tenant-limits",
        default=None,
        metavar="FILE",
        help="TOML: [default] / [tenants.NAME] messages_per_s = N, all of a tenant's devices "
        "together (over it frames are dropped as rate_limited), and max_devices = N, the "
        "tenant's registered devices (an extra one is refused; with one broker connection per "
        "device identity this bounds the tenant's MQTT connections)",
    )
    p.add_argument(
        "--mqtt-password-port",
        type=int,
        default=0,
        help="the password listener's port with --mqtt-broker --mqtt-tls (0: a free one)",
    )
    p.add_argument(
        "--nats",
        default=None,
        metavar="URL[,URL...]",
        help="NATS JetStream backbone (every server's nats://HOST:PORT, comma-separated): each "
        "accepted frame is published on v2x.{tenant}.{tile}.{cell}.{type} (docs/deploy.md)",
    )
    p.add_argument(
        "--role",
        choices=("all", "gateway", "centre"),
        default="all",
        help="all (default): gateways, scene and applications in this process; gateway: the "
        "gateway tier only (needs --nats; frames and dead letters to the backbone, no scene); "
        "centre: the workers' advisories, events and dead letters from --nats into the API, "
        "dashboard and history (no device gateways)",
    )
    p.add_argument(
        "--frames-max-age-s",
        type=float,
        default=120.0,
        help="how long the V2X_FRAMES stream keeps frames for catch-up (default 120 s)",
    )
    p.add_argument(
        "--shard-zoom",
        type=int,
        default=None,
        metavar="Z",
        help="shard the frame stream by place (with --nats): frames on "
        "v2x.{tenant}.{shard}.{tile}.{cell}.{type} in one stream V2X_FRAMES_{shard} per "
        "zoom-Z quadkey (1-16) instead of V2X_FRAMES; every gateway, centre and worker of "
        "the deployment must be given the same Z (docs/deploy.md, Sizing). Default: one stream",
    )
    p.add_argument("--hz", type=float, default=10.0, help="tick rate")
    p.add_argument(
        "--pki",
        default=None,
        metavar="DIR",
        help="verify signed frames against this PKI (v2xcloud pki init DIR) and sign the "
        "down-link (RSI, advisories) with its platform certificate; in a cluster give it to "
        "--role gateway, which signs the workers' and the centre's RSI too",
    )
    p.add_argument(
        "--security-policy",
        default=None,
        metavar="POLICY",
        help="require, verify-if-signed (default with --pki) or off; per device kind too, "
        "e.g. 'require,radar=off'",
    )
    p.add_argument(
        "--security-window-ms",
        type=int,
        default=5_000,
        metavar="MS",
        help="oldest generation time a signed frame may have on arrival (default 5000; "
        "older is stale, and so is one more than 1000 ms ahead of the platform's clock)",
    )
    p.set_defaults(func=_run)


def _parse_origin(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise ConfigError(f"--origin {text!r}: expected 'lat,lon' in degrees") from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ConfigError(f"--origin {text!r}: outside WGS-84 degree ranges")
    return lat, lon


def _live(
    args: argparse.Namespace,
    origin: tuple[float, float],
    clock: Clock,
    store: Any,
    *,
    audit: Any | None = None,
    writer: Any | None = None,
) -> tuple[Any, Any]:
    """The live source the API serves, started at ``args.hz`` on ``clock``'s time, and the
    platform service around it (None for the scripted intersection)."""
    # EV terminals log in only if registered (kind ev-terminal) with their own credential; a
    # refused login is recorded in ``audit`` (the store's audit trail)
    from v2xcloud.api.runtime_live import RuntimeLive
    from v2xcloud.api.testing import ScriptedLive
    from v2xcloud.cli._ev_access import load_ev_secrets
    from v2xcloud.cli._mqtt_auth import (
        control_credentials,
        platform_credentials,
        revoke_on_removal,
        start_broker,
    )
    from v2xcloud.cli._platform import (
        Platform,
        downlink_signer,
        misbehaviour_screen,
        security_stage,
    )
    from v2xcloud.gateways.limits import load_tenant_limits
    from v2xcloud.gateways.nats import parse_nats_urls
    from v2xcloud.gateways.registry import DeviceRegistry, load_devices_file
    from v2xcloud.geo import LocalFrame
    from v2xcloud.runtime import Runtime
    from v2xcloud.runtime.corridor import CorridorCongestion
    from v2xcloud.runtime.remote import RemoteResults
    from v2xcloud.store.devices import DeviceTable

    if args.live == "scripted":
        scripted = ScriptedLive(start_ms=clock.now_ms(), clock=clock)
        scripted.start(hz=args.hz)
        return scripted, None
    seed = load_devices_file(args.devices) if args.devices else []
    tenant_limits = load_tenant_limits(args.tenant_limits) if args.tenant_limits else None
    registry = DeviceRegistry(
        repository=DeviceTable(store),
        device_quota=tenant_limits.device_quota if tenant_limits is not None else None,
    )
    registry.seed(seed)
    lat, lon = origin
    rsus = registry.rsus()
    frame = LocalFrame(origin_lat_deg=lat, origin_lon_deg=lon)
    remote = RemoteResults() if args.role == "centre" else None
    corridor: CorridorCongestion | None = None
    if remote is not None:
        # the workers ran the scene: their results are this tick's; the centre's detectors are
        # those of whole corridors, on the workers' tile traffic
        corridor = CorridorCongestion()
        runtime = Runtime(frame=frame, clock=clock, rsus=rsus, apps=[remote], detectors=[corridor])
    else:
        runtime = Runtime(
            frame=frame,
            clock=clock,
            rsus=rsus,
            screen=None if args.no_misbehaviour_detection else misbehaviour_screen(rsus),
            guard=security_stage(args.pki, args.security_policy, window_ms=args.security_window_ms),
        )
    pki, credentials = (
        platform_credentials(args.mqtt_tls, args.mqtt) if args.mqtt_tls else (None, None)
    )
    control = control_credentials(pki) if pki is not None else None
    broker = (
        start_broker(args.mqtt, registry, pki, password_port=args.mqtt_password_port)
        if args.mqtt_broker
        else None
    )
    if pki is not None:
        revoke_on_removal(registry, pki, broker)
    platform = Platform(
        runtime,
        registry,
        mqtt_url=args.mqtt,
        udp=args.udp,
        gb32960=args.gb32960,
        allow_unknown=args.allow_unknown,
        mqtt_client_id=args.mqtt_client_id,
        ev_secrets=load_ev_secrets(args.ev_secrets) if args.ev_secrets else None,
        ev_signatures=signature_check(args) if args.gb32960 else None,
        audit=audit,
        mqtt_credentials=credentials,
        control_credentials=control,
        manage_broker_access=pki is not None,
        broker=broker,
        downlink_signer=downlink_signer(args.pki),
        tenant_limits=tenant_limits,
        nats_urls=parse_nats_urls(args.nats) if args.nats else None,
        role=args.role,
        frames_max_age_s=args.frames_max_age_s,
        shard_zoom=args.shard_zoom,
        remote=remote,
        corridor=corridor,
        **_ev_options(args, store, writer),
    )
    try:
        platform.start()
    except Exception:
        platform.stop()  # the broker started for it too
        raise
    # the centre serves the workers' live map (their tiles' road users) as its participants
    live = RuntimeLive(runtime, before_tick=platform.before_tick, participants=platform.live_map)
    live.start(hz=args.hz)
    return live, platform


def _ev_options(args: argparse.Namespace, store: Any, writer: Any | None) -> dict[str, Any]:
    """The EV monitor's set-up for ``--gb32960`` (and for ``--role centre``, whose EV analytics
    read the gateways' reports off the backbone): chargers (``--ev-chargers``), reports into
    the history (``ev_reports``) and read back from it for windows older than it keeps."""
    if not args.gb32960 and args.role != "centre":
        return {}
    import msgspec

    from v2xcloud.ev.charging import load_chargers
    from v2xcloud.model.ev import EvReport
    from v2xcloud.store import HistoryReportSink

    def history(vin: str, start_ms: int, end_ms: int, limit: int) -> list[EvReport]:
        rows = store.ev_reports(vin, start_ms=start_ms, end_ms=end_ms, limit=limit)
        return [msgspec.convert(r.payload, EvReport) for r in rows]

    return {
        "ev_chargers": load_chargers(args.ev_chargers) if args.ev_chargers else None,
        "ev_report_sink": HistoryReportSink(writer) if writer is not None else None,
        "ev_history": history,
    }


def _http(args: argparse.Namespace) -> tuple[str, int]:
    if args.http is None:
        return args.host, args.port
    host, _, port = args.http.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--http {args.http!r}: write HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


def _check_gateway_args(args: argparse.Namespace) -> None:
    from v2xcloud.gateways.mqtt import parse_mqtt_url
    from v2xcloud.gateways.udp import parse_udp_address

    gateways = args.mqtt or args.udp or args.gb32960 or args.devices or args.allow_unknown
    if args.live == "scripted" and gateways:
        raise ConfigError("--scripted serves a built-in intersection: drop the gateway options")
    if args.mqtt:
        parse_mqtt_url(args.mqtt)
    if (args.mqtt_tls or args.mqtt_broker) and not args.mqtt:
        raise ConfigError("--mqtt-tls and --mqtt-broker need --mqtt URL")
    if args.udp:
        parse_udp_address(args.udp)
    if args.nats:
        from v2xcloud.gateways.nats import parse_nats_urls

        parse_nats_urls(args.nats)
        if args.live == "scripted":
            raise ConfigError("--scripted serves a built-in intersection: drop --nats")
    if args.role != "all" and not args.nats:
        raise ConfigError(f"--role {args.role} works on the backbone: give --nats URL")
    if args.role == "centre" and (args.mqtt or args.udp):
        raise ConfigError(
            "--role centre reads the workers' results: devices connect to the gateway tier "
            "(drop --mqtt/--udp here)"
        )
    if args.role == "centre" and (args.pki is not None or args.security_policy is not None):
        # the signing key lives where devices are reached: the centre's RSI goes through it
        raise ConfigError(
            "--role centre sends nothing to devices and verifies no device frame: the gateway "
            "tier signs every RSI and warning it sends down, the centre's and the workers' "
            "alike (give --pki DIR and --security-policy to serve --role gateway; drop them here)"
        )
    if args.ev_chargers and not args.gb32960 and args.role != "centre":
        raise ConfigError(
            "--ev-chargers serves the GB/T 32960 fleet: give --gb32960 HOST:PORT "
            "(or run the centre, --role centre)"
        )
    if args.frames_max_age_s <= 0:
        raise ConfigError("--frames-max-age-s must be positive")
    if args.shard_zoom is not None and not 1 <= args.shard_zoom <= 16:
        raise ConfigError("--shard-zoom must be 1 to 16 (runtime.backbone.TILE_DIGITS)")
    if args.shard_zoom is not None and not args.nats:
        raise ConfigError("--shard-zoom shards the backbone's frame stream: give --nats")
    if args.security_policy is not None and args.pki is None:
        raise ConfigError("--security-policy needs --pki DIR (the trust anchors to verify with)")
    if args.security_window_ms <= 0:
        raise ConfigError("--security-window-ms must be positive")
    if args.pki is not None and args.live == "scripted":
        raise ConfigError("--scripted serves a built-in intersection: drop --pki")
    if args.pki is not None:
        from v2xcloud.security.pki import load_pki
        from v2xcloud.security.verify import Policy

        load_pki(args.pki)  # a missing or broken PKI is a usage error before anything opens
        Policy.parse(args.security_policy or "verify-if-signed")


def _run(args: argparse.Namespace) -> int:

    from v2xcloud.api import ApiSettings, create_app, record_history
    from v2xcloud.api.limits import Server, server_config
    from v2xcloud.api.settings import default_web_dir
    from v2xcloud.cli.audit_commands import ANCHOR_NAME
    from v2xcloud.runtime import SystemClock
    from v2xcloud.runtime.alarms import AlarmBook
    from v2xcloud.store import HistoryWriter, Retention, open_store
    from v2xcloud.store.alarms import AlarmTable
    from v2xcloud.store.audit import AuditTrail

    if args.hz <= 0:
        raise ConfigError("--hz must be positive")
    origin = _parse_origin(args.origin)  # check every argument before opening anything
    host, port = _http(args)
    _check_gateway_args(args)
    evaluations = args.evaluations or Path(args.data_dir) / "evaluations"
    zone = {"time_zone": args.time_zone} if args.time_zone else {}
    settings = ApiSettings.from_env(web_dir=default_web_dir(), evaluations_dir=evaluations, **zone)
    if host not in ("127.0.0.1", "localhost", "::1") and settings.viewer_token is None:
        print(
            "serve: warning: reads are open to anyone who can reach "
            f"{host}:{port}; set V2XCLOUD_VIEWER_TOKEN",
            file=sys.stderr,
        )
    if not args.trajectory_days > 0:
        raise ConfigError("--trajectory-days must be positive")
    retention = Retention(participant_states_ms=int(args.trajectory_days * 86_400_000))
    store = open_store(args.store, data_dir=args.data_dir, retention=retention)
    try:  # the audit trail (>= 180 days) is pruned on the writer's retention rounds
        audit = AuditTrail(store, anchor_path=Path(args.data_dir) / ANCHOR_NAME)
        alarm_table = AlarmTable(store)  # the alarm workflow's history (closed: 90 days)
    except Exception:
        store.close()
        raise
    alarms = AlarmBook(repository=alarm_table)
    writer = HistoryWriter(
        store,
        participant_interval_ms=args.participant_interval_ms,
        retention_hooks=[
            lambda now_ms: audit.apply_retention(now_ms=now_ms),
            lambda now_ms: alarm_table.apply_retention(now_ms=now_ms),
        ],
    )
    try:
        live, platform = _live(  # one clock
            args, origin, SystemClock(), store, audit=audit, writer=writer
        )
    except Exception:
        writer.close()
        store.close()
        raise
    if platform is not None and platform.gb_server is not None:
        from v2xcloud.ev.monitor import feed_alarm_book

        feed_alarm_book(platform.ev, alarms, tenant_of=platform.tenant_of)  # level 3
    stop_recording = record_history(live, writer)
    app = create_app(
        live=live,
        store=store,
        settings=settings,
        writer=writer,
        devices=platform,
        audit=audit,  # API writes and refused API credentials too
        alarms=alarms,  # road events, device faults, misbehaviour (fed by the app), EV alarms
        ev=platform.ev if platform is not None and platform.gb_server is not None else None,
    )
    print(f"serve: dashboard http://{host}:{port}/  API schema /docs", flush=True)
    if platform is not None:
        broker = platform.broker
        password_door = (
            f" (password listener {broker.url})" if broker is not None and broker.auth else ""
        )
        doors = [
            f"mqtt {args.mqtt}{password_door}" if args.mqtt else "",
            f"udp {args.udp}" if args.udp else "",
            f"gb32960 {args.gb32960}" if args.gb32960 else "",
        ]
        if args.nats:
            print(f"serve: role {args.role}; frames to the NATS backbone {args.nats}", flush=True)
        print(
            f"serve: {len(platform.registry)} devices registered; gateways: "
            f"{', '.join(d for d in doors if d) or 'none (no --mqtt/--udp/--gb32960)'}",
            flush=True,
        )
    try:
        # uvicorn's records go through the one configuration (cli.logs); the server's
        # connection, header-time and size limits are the settings' (api.limits)
        config, app.state.server_guard = server_config(
            app, host=host, port=port, limits=settings.server, log_level=args.log_level
        )
        Server(config, settings.server).run()
    finally:
        live.stop()
        if platform is not None:
            platform.stop()
        stop_recording()
        writer.close()
        try:  # rows still queued (an EV login refused at the last moment) reach the table
            audit.flush(timeout_s=5.0)
        except V2xCloudError as exc:
            logger.error("audit trail not flushed at shutdown: %s", exc)
        store.close()
    return 0
