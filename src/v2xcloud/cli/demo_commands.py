"""``v2xcloud demo``: the whole platform in one process on a simulated signalised district.

SUMO drives a district with pedestrians and scripted hazards in real time; every connected
vehicle, roadside sensor and traffic light talks UPER through a channel model into the
platform, whose advisories are scored live against ground truth. ``--via mqtt`` puts a real
broker in the path: each RSU and OBU publishes as its own MQTT client and the platform reads
through its MQTT gateway (``sim.via_mqtt``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import msgspec

from v2xcloud.cli._signed import SignedRun, add_signed_arguments, format_security
from v2xcloud.cli.logs import add_long_running
from v2xcloud.errors import ConfigError

__all__ = ["add_via_arguments", "paced_scenario", "register", "via_config"]


def register(sub: argparse._SubParsersAction) -> None:
    """Attach ``demo``."""
    p = add_long_running(
        sub,
        "demo",
        help="run the whole platform on a simulated district (SUMO) in real time",
        description="Simulated district -> UPER -> channel -> platform -> advisories, scored "
        "against ground truth. Ctrl-C stops it cleanly and prints the table so far.",
    )
    p.add_argument("--headless", action="store_true", help="no dashboard; print status lines")
    p.add_argument("--duration", type=float, help="simulated seconds (default: the scenario's)")
    p.add_argument("--speed", type=float, default=1.0, help="times real time (0: flat out)")
    p.add_argument("--scenario", default="demo_district", help="library scenario to run")
    p.add_argument("--latency-ms", type=float, default=20.0, help="channel latency (ms)")
    p.add_argument("--loss", type=float, default=0.01, help="channel loss probability")
    p.add_argument("--port", type=int, default=8080, help="dashboard port on 127.0.0.1")
    p.add_argument("--store", default="memory", help="history store (default: in memory)")
    p.add_argument(
        "--no-misbehaviour-detection",
        action="store_true",
        help="believe every report (default, as in serve: senders failing the misbehaviour "
        "checks are flagged, their reports refused as 'misbehaving' and shown on the dashboard)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="run through a local NATS JetStream cluster of this many tile workers (default 0: "
        "the embedded single process); status lines, no dashboard",
    )
    p.add_argument(
        "--nats-servers", type=int, default=1, help="with --workers: JetStream servers (1)"
    )
    add_via_arguments(p)
    add_signed_arguments(p)
    p.set_defaults(func=_run)


def paced_scenario(args: argparse.Namespace) -> Any:
    """The library scenario ``--scenario`` names, cut to ``--duration`` simulated seconds, once
    ``--speed`` (times real time, 0 = flat out) is checked: what ``demo`` and ``devices`` run."""
    from v2xcloud.sim.scenario import load_library

    if args.speed < 0:
        raise ConfigError("--speed must be >= 0 (0 runs as fast as possible)")
    (scenario,) = load_library(args.scenario)
    if args.duration is not None:
        if args.duration <= 0:
            raise ConfigError("--duration must be positive seconds")
        scenario = msgspec.structs.replace(scenario, duration_s=args.duration)
    return scenario


def add_via_arguments(p: argparse.ArgumentParser) -> None:
    """``--via``, ``--mqtt`` and ``--payload``: how the bench's frames reach the platform."""
    p.add_argument(
        "--via",
        choices=["inproc", "mqtt"],
        default="inproc",
        help="inproc (default): frames handed to the platform; mqtt: each RSU and OBU publishes "
        "on a broker and the platform reads them through its MQTT gateway",
    )
    p.add_argument(
        "--mqtt",
        metavar="URL",
        help="with --via mqtt: the broker (mqtt://HOST:PORT); default: start a Mosquitto",
    )
    p.add_argument(
        "--payload",
        choices=["uper", "hex", "json"],
        default="uper",
        help="with --via mqtt: what devices publish (UPER bytes, hex text or CSAE JSON)",
    )


def via_config(args: argparse.Namespace) -> dict[str, Any]:
    """The ``RunConfig`` fields of ``--via``/``--mqtt``/``--payload``."""
    if args.via != "mqtt" and (args.mqtt is not None or args.payload != "uper"):
        raise ConfigError("--mqtt and --payload need --via mqtt")
    return {"via": args.via, "mqtt_url": args.mqtt, "mqtt_payload": args.payload}


def _line(status: dict[str, Any]) -> None:
    apps = " ".join(f"{a}={n}" for a, n in sorted(status["advisories"].items())) or "none"
    print(
        f"t={status['sim_s']:6.1f}s  wall={status['wall_s']:6.1f}s  road users={status['road_users']:4d}  "
        f"frames={status['frames']:7d}  lost={status['lost']:5d}  advisories: {apps}",
        flush=True,
    )


def _run(args: argparse.Namespace) -> int:
    from v2xcloud.cli._platform import misbehaviour_screen
    from v2xcloud.runtime import SystemClock
    from v2xcloud.sim.evaluate import scenario_rsus
    from v2xcloud.sim.platform import runtime_platform
    from v2xcloud.sim.result import RunConfig

    scenario = paced_scenario(args)
    if args.workers < 0 or args.nats_servers < 1:
        raise ConfigError("--workers must be >= 0 and --nats-servers >= 1")
    if args.workers and (args.signed or args.via != "inproc"):
        raise ConfigError("--workers runs the bench's frames in-process to the cluster, unsigned")
    config = RunConfig(
        latency_ms=args.latency_ms,
        jitter_ms=args.latency_ms / 4,
        loss=args.loss,
        epoch_ms=SystemClock().now_ms(),  # simulated time starts at the wall clock's now
        **via_config(args),
    )
    if args.workers:
        return _run_workers(args, scenario, config)
    platform, runtime = runtime_platform(
        message_set=config.message_set,
        origin_lat_deg=scenario.origin_lat_deg,
        origin_lon_deg=scenario.origin_lon_deg,
        screen=None
        if args.no_misbehaviour_detection
        else misbehaviour_screen(scenario_rsus(scenario)),
    )
    signed = SignedRun(args, now_ms=config.epoch_ms, message_set=config.message_set)
    with signed:
        return _run_platform(args, scenario, config, platform, runtime, signed)


def _run_platform(
    args: argparse.Namespace,
    scenario: Any,
    config: Any,
    platform: Any,
    runtime: Any,
    signed: SignedRun,
) -> int:
    """The demo once its scenario, run settings, platform and signing are settled."""
    from v2xcloud.sim.evaluate import aggregate
    from v2xcloud.sim.report import format_table, implemented_families
    from v2xcloud.sim.runner import model_encoder, run_scenario

    signed.secure(runtime)
    service = None
    if config.via == "mqtt":
        # the platform service's registry, health and ingest path, without its own gateways:
        # the bench's broker link feeds them and /api/devices shows the devices it registers
        from v2xcloud.cli._platform import Platform as Service
        from v2xcloud.gateways.registry import DeviceRegistry

        service = Service(runtime, DeviceRegistry())
    stop_dashboard = (
        None
        if args.headless
        else _dashboard(runtime, port=args.port, store=args.store, devices=service)
    )
    print(f"demo: {scenario.description}", flush=True)
    if signed.is_signed:
        print(f"demo: {signed.describe()}", flush=True)
    try:
        if config.via == "mqtt":
            from v2xcloud.sim.via_mqtt import run_through_broker

            result = run_through_broker(
                scenario,
                config=config,
                platform=platform,
                runtime=runtime,
                encode=model_encoder(config.message_set),
                pace=args.speed or None,
                on_second=_line,
                ingestor=None if service is None else service.ingest,
                signing=signed.devices,
            )
        else:
            result = run_scenario(
                scenario,
                config=config,
                platform=platform,
                encode=model_encoder(config.message_set),
                pace=args.speed or None,
                on_second=_line,
                signing=signed.devices,
            )
    finally:
        if stop_dashboard is not None:
            stop_dashboard()
    if result.is_interrupted:
        print("interrupted: scoring what ran so far")
    print(format_table(aggregate([result]), implemented=implemented_families([result])))
    print(f"not scored (INFO level, or no ground truth): {result.unscored_advisories or 'none'}")
    stats = runtime.stats()
    print(f"dead letters: {dict(stats['dead_letters']) or 'none'}")
    if "misbehaviour" in stats:
        mb = stats["misbehaviour"]
        print(
            f"misbehaviour: {mb.get('checked', 0)} reports checked, {mb.get('reports', 0)} "
            f"senders reported, {mb.get('refused', 0)} reports refused, "
            f"{mb.get('advisories_suppressed', 0)} advisories suppressed"
        )
    if result.broker:
        print(f"via MQTT: {result.broker}")
    if signed.is_signed:
        print(format_security(runtime.stats(), result.signing), flush=True)
        if signed.downlink is not None:
            print(f"down-link (in-process): {dict(signed.downlink.counts) or 'nothing sent'}")
    return 0


def _run_workers(args: argparse.Namespace, scenario: Any, config: Any) -> int:
    """The demo through a local cluster (``sim.cluster.run_through_workers``): the bench's
    frames published to JetStream by tile, ``--workers`` stream-clocked tile workers issuing
    the advisories, scored as the embedded demo's."""
    from v2xcloud.sim.cluster import run_through_workers
    from v2xcloud.sim.evaluate import aggregate
    from v2xcloud.sim.report import format_table, implemented_families

    seen: dict[str, Any] = {}

    def ready(platform: Any) -> None:
        seen["platform"] = platform
        owners = sorted(set(platform.owners.values()))
        print(
            f"demo: {args.workers} tile workers on {args.nats_servers} JetStream server(s); "
            f"{len(platform.owners)} tiles owned by {', '.join(owners)} (no dashboard: "
            "`serve --role centre` shows a cluster's results)",
            flush=True,
        )

    print(f"demo: {scenario.description}", flush=True)
    result = run_through_workers(
        scenario,
        config,
        workers=args.workers,
        servers=args.nats_servers,
        on_ready=ready,
        pace=args.speed or None,
        on_second=_line,
    )
    if result.is_interrupted:
        print("interrupted: scoring what ran so far")
    print(format_table(aggregate([result]), implemented=implemented_families([result])))
    print(f"not scored (INFO level, or no ground truth): {result.unscored_advisories or 'none'}")
    platform = seen.get("platform")
    if platform is not None:
        print(
            f"cluster: {dict(platform.counts)}; advisories per worker "
            f"{dict(sorted(platform.by_worker.items()))}",
            flush=True,
        )
    return 0


def _dashboard(
    runtime: Any, *, port: int, store: str, devices: Any | None = None
) -> Callable[[], None]:
    """Serve the API and dashboard over the demo's runtime on 127.0.0.1; returns the stopper.
    ``devices`` (a ``DeviceDirectory``, with ``--via mqtt``) serves ``/api/devices``."""
    from v2xcloud.api import ApiSettings, create_app, record_history
    from v2xcloud.api.runtime_live import RuntimeLive
    from v2xcloud.api.server import ServerThread
    from v2xcloud.api.settings import default_web_dir
    from v2xcloud.store import HistoryWriter, open_store

    live = RuntimeLive(runtime)
    history = open_store(store)
    writer = HistoryWriter(history)
    stop_recording = record_history(live, writer)
    settings = ApiSettings.from_env(web_dir=default_web_dir())
    server = ServerThread(
        create_app(live=live, store=history, settings=settings, devices=devices), port=port
    )
    server.start()
    print(f"demo: dashboard {server.url}/  (API schema {server.url}/docs)", flush=True)

    def stop() -> None:
        server.stop()
        stop_recording()
        writer.close()
        history.close()

    return stop
