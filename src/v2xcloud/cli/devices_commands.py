"""``v2xcloud devices``: a SUMO scenario's RSUs and vehicles publishing on an MQTT broker.

Every connected vehicle is an OBU publishing its BSM on ``V2X/OBU/{id}/BSM/UP``; every RSU
publishes MAP, SPAT, the RSM of its roadside sensor and a heartbeat on ``V2X/RSU/{esn}/…/UP``;
each device is its own MQTT client (QoS 1). A platform listening on the same broker
(``v2xcloud serve --mqtt URL``) sees a live deployment.
"""

from __future__ import annotations

import argparse
from typing import Any

from v2xcloud.cli.demo_commands import paced_scenario
from v2xcloud.cli.logs import add_long_running

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Attach ``devices``."""
    p = add_long_running(
        sub,
        "devices",
        help="publish a simulated scenario as its RSUs and OBUs would, on an MQTT broker",
        description="SUMO scenario -> one MQTT client per RSU and OBU -> broker (QoS 1). "
        "Ctrl-C stops it.",
    )
    p.add_argument("--mqtt", required=True, help="broker URL, mqtt://HOST:PORT")
    p.add_argument("--scenario", default="demo_district", help="library scenario to run")
    p.add_argument("--duration", type=float, help="simulated seconds (default: the scenario's)")
    p.add_argument("--speed", type=float, default=1.0, help="times real time (0: flat out)")
    p.add_argument(
        "--payload",
        choices=["uper", "hex", "json"],
        default="uper",
        help="UPER bytes (default), their hex text, or lossless CSAE JSON",
    )
    p.add_argument("--message-set", default="csae2020", help="csae2017 or csae2020")
    p.add_argument(
        "--max-clients",
        type=int,
        default=1000,
        help="MQTT connections at most; further devices share them (default 1000)",
    )
    p.set_defaults(func=_run)


def _line(status: dict[str, Any]) -> None:
    print(
        f"t={status['sim_s']:6.1f}s  wall={status['wall_s']:6.1f}s  "
        f"road users={status['road_users']:4d}  frames={status['frames']:7d}  "
        f"published={status['published']:7d}  acked={status['acked']:7d}  "
        f"devices={status['devices']:4d}  clients={status['clients']:4d}",
        flush=True,
    )


def _run(args: argparse.Namespace) -> int:
    from v2xcloud.sim.devices import PayloadFormat
    from v2xcloud.sim.via_mqtt import publish_scenario

    scenario = paced_scenario(args)
    print(f"devices: {scenario.name} on {args.mqtt} ({args.payload})", flush=True)
    result, link, devices = publish_scenario(
        scenario,
        url=args.mqtt,
        payload=PayloadFormat(args.payload),
        message_set=args.message_set,
        pace=args.speed or None,
        max_clients=args.max_clients,
        on_second=_line,
    )
    if result.is_interrupted:
        print("interrupted")
    frames = ", ".join(f"{k}={v}" for k, v in sorted(result.frames.items()))
    print(
        f"published {link.published} frames ({frames}) and {link.heartbeats} heartbeats "
        f"from {devices['devices']} devices on {devices['clients']} MQTT clients "
        f"({devices['multiplexed_devices']} sharing); broker acknowledged {devices['acked']}, "
        f"refused {devices['failed']}; {result.wall_s:.1f} s wall"
    )
    return 0
