"""``serve``'s device identity on the MQTT broker: the platform's certificate, the broker the
project configures, and certificate revocation when a device is removed.

``--mqtt-tls DIR`` names a TLS PKI directory (``security.tls.write_tls_pki``: ``ca.crt``,
``platform.crt``/``.key``, ``server.crt``/``.key``, ``crl.pem``, ``devices/``): the platform
logs in to ``--mqtt mqtts://…`` with its certificate and keeps the broker's per-device rights
in step with the registry. ``--mqtt-broker`` starts the project's Mosquitto for ``--mqtt`` (the
TLS listener at its port, the password listener at ``--mqtt-password-port``) with the rights
generated from the registry; there, removing a device also puts its certificate on the CRL and
reloads the broker, so the certificate cannot complete another handshake.
"""

from __future__ import annotations

import logging

from v2xcloud.errors import ConfigError
from v2xcloud.gateways.access import dynsec_document
from v2xcloud.gateways.broker import BrokerAuth, Mosquitto
from v2xcloud.gateways.mqtt import MqttCredentials, is_tls_url, parse_mqtt_url
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import Device
from v2xcloud.security.tls import TlsPki, certificate_identity, load_tls_pki, revoke

__all__ = ["control_credentials", "platform_credentials", "revoke_on_removal", "start_broker"]

logger = logging.getLogger(__name__)


def platform_credentials(tls_dir: str, mqtt_url: str) -> tuple[TlsPki, MqttCredentials]:
    """The PKI in ``tls_dir`` and the platform's login from it; ``ConfigError`` when the URL
    is not ``mqtts://`` or a file is missing."""
    if not is_tls_url(mqtt_url):
        raise ConfigError(f"--mqtt-tls needs an mqtts:// broker URL, not {mqtt_url!r}")
    pki = load_tls_pki(tls_dir)
    for path in (pki.platform_cert, pki.platform_key):
        if not path.is_file():
            raise ConfigError(f"--mqtt-tls {tls_dir}: {path.name} (the platform's) is missing")
    credentials = MqttCredentials(
        ca_certs=str(pki.ca_cert), certfile=str(pki.platform_cert), keyfile=str(pki.platform_key)
    )
    return pki, credentials


def control_credentials(pki: TlsPki) -> MqttCredentials:
    """The login of the platform's broker-control connection (``control.crt``, its own
    identity: the broker makes the username the client id, so the gateway's and the control's
    connections must not share one); ``ConfigError`` when the PKI has no control certificate."""
    for path in (pki.control_cert, pki.control_key):
        if not path.is_file():
            raise ConfigError(
                f"--mqtt-tls {pki.directory}: {path.name} (the platform's control connection) "
                "is missing; `v2xcloud pki` (write_tls_pki) on the directory again adds it"
            )
    return MqttCredentials(
        ca_certs=str(pki.ca_cert), certfile=str(pki.control_cert), keyfile=str(pki.control_key)
    )


def start_broker(
    mqtt_url: str, registry: DeviceRegistry, pki: TlsPki | None, *, password_port: int = 0
) -> Mosquitto:
    """Start the project's Mosquitto for ``mqtt_url``: authenticated (TLS at the URL's port,
    passwords at ``password_port``, 0 = a free one) with a PKI, anonymous without one."""
    host, port = parse_mqtt_url(mqtt_url)
    if pki is None:
        return Mosquitto(host=host, port=port).start()
    auth = BrokerAuth(
        cafile=pki.ca_cert,
        certfile=pki.server_cert,
        keyfile=pki.server_key,
        crlfile=pki.crl,
        tls_port=port,
        dynsec=dynsec_document(
            registry.all(),
            platform_id=certificate_identity(pki.platform_cert),
            control_id=certificate_identity(pki.control_cert),
        ),
    )
    return Mosquitto(host=host, port=password_port, auth=auth).start()


def revoke_on_removal(registry: DeviceRegistry, pki: TlsPki, broker: Mosquitto | None) -> None:
    """When a device is removed from the registry, put its certificate (if ``pki`` issued one)
    on the CRL and reload ``broker`` so the next handshake with it fails."""

    def removed(device: Device) -> None:
        try:
            changed = pki.device_cert(device.device_id).exists() and revoke(pki, [device.device_id])
            if changed and broker is not None:
                broker.reload()
        except (ConfigError, OSError) as exc:  # the broker rights are gone already; say so
            logger.error("certificate of removed device %r not revoked: %s", device.device_id, exc)
            return
        if changed:
            logger.info("certificate of removed device %r revoked", device.device_id)

    registry.removal_listeners.append(removed)
