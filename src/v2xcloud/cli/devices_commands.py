"""``v2xcloud devices``: a SUMO scenario's RSUs and vehicles publishing on an MQTT broker.

Every connected vehicle is an OBU publishing its BSM on ``V2X/OBU/{id}/BSM/UP``; every RSU
publishes MAP, SPAT, the RSM of its roadside sensor and a heartbeat on ``V2X/RSU/{esn}/…/UP``;
each device is its own MQTT client (QoS 1). A platform listening on the same broker
(``v2xcloud serve --mqtt URL``) sees a live deployment.

On an authenticated broker (``serve --mqtt-tls DIR --mqtt-broker``) each device logs in as
itself: ``--tls DIR`` with its certificate ``DIR/devices/{id}.crt`` (``mqtts://`` URL), or
``--password-file FILE`` (lines ``device_id:password``) on the password listener.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from v2xcloud.cli.demo_commands import paced_scenario
from v2xcloud.cli.logs import add_long_running
from v2xcloud.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    from v2xcloud.gateways.mqtt import MqttCredentials

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
    who = p.add_mutually_exclusive_group()
    who.add_argument(
        "--tls",
        default=None,
        metavar="DIR",
        help="TLS PKI directory: each device logs in to the mqtts:// broker with "
        "DIR/devices/{id}.crt (v2xcloud pki init writes it under tls/)",
    )
    who.add_argument(
        "--password-file",
        default=None,
        metavar="FILE",
        help="lines device_id:password: each device logs in with its password",
    )
    p.add_argument(
        "--pki",
        default=None,
        metavar="DIR",
        help="sign every frame as its device with this PKI (v2xcloud pki init DIR; devices it "
        "does not list are enrolled by its CAs), for a platform run with 'serve --pki DIR'",
    )
    p.set_defaults(func=_run)


def _signing(args: argparse.Namespace) -> Any:
    """``--pki``: the devices' signer (``security.signers.DeviceSigners``), or None."""
    if args.pki is None:
        return None
    from v2xcloud.codec import message_set_of
    from v2xcloud.security.pki import load_pki
    from v2xcloud.security.signers import DeviceSigners

    return DeviceSigners(load_pki(args.pki), message_set=message_set_of(args.message_set))


def _credentials(args: argparse.Namespace) -> Callable[[str], MqttCredentials] | None:
    """Each device's own login from ``--tls`` or ``--password-file``; ``ConfigError`` names
    a missing certificate or password."""
    from v2xcloud.gateways.mqtt import MqttCredentials, is_tls_url

    if args.tls is not None:
        from v2xcloud.security.tls import load_tls_pki

        if not is_tls_url(args.mqtt):
            raise ConfigError(f"--tls needs an mqtts:// broker URL, not {args.mqtt!r}")
        pki = load_tls_pki(args.tls)

        def by_certificate(device_id: str) -> MqttCredentials:
            cert, key = pki.device_cert(device_id), pki.device_key(device_id)
            if not cert.is_file() or not key.is_file():
                raise ConfigError(f"--tls {args.tls}: no certificate for device {device_id!r}")
            return MqttCredentials(ca_certs=str(pki.ca_cert), certfile=str(cert), keyfile=str(key))

        return by_certificate
    if args.password_file is not None:
        passwords = _read_passwords(Path(args.password_file))

        def by_password(device_id: str) -> MqttCredentials:
            if device_id not in passwords:
                raise ConfigError(f"--password-file: no password for device {device_id!r}")
            return MqttCredentials(username=device_id, password=passwords[device_id])

        return by_password
    return None


def _read_passwords(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"--password-file {path}: cannot read: {exc}") from exc
    passwords: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        device_id, sep, password = line.partition(":")
        if not sep or not device_id or not password:
            raise ConfigError(f"--password-file {path}, line {number}: write device_id:password")
        passwords[device_id] = password
    return passwords


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
        credentials=_credentials(args),
        signing=_signing(args),
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
    if result.signing:
        signed = {k[7:]: v for k, v in result.signing.items() if k.startswith("signed.")}
        print(f"signed {signed} ({result.signing.get('certificates_sent', 0)} with the full "
              f"certificate) by {result.signing.get('devices', 0)} devices")  # fmt: skip
    return 0
