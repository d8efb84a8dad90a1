"""Who may do what on the MQTT broker, generated from the device registry.

Mosquitto's dynamic-security plugin (``mosquitto_dynamic_security.so``, Mosquitto 2.0) holds the
broker's clients and roles; this module writes its configuration from the registry and the
control commands that keep it in step with every registry change:

- every enabled RSU, OBU and radar is a plugin *client* whose username is its device id (the
  CN of its certificate on the TLS listener, ``use_identity_as_username``; the username on the
  password listener) with one *role* ``device:{id}``: publish only its own ``…/UP`` topics
  (an RSU also its down-link ACKs and ``V2X/RSU/INFO/UP``), subscribe to and receive only its
  own ``…/DOWN`` topics. The default is deny for everything else;
- a device with a ``password_hash`` (``hash_password``: PBKDF2-HMAC-SHA512, the format of
  ``mosquitto_passwd``, ``$7$iterations$salt$hash``) may also log in on the password listener;
  the hash goes into the plugin's file, the clear password never;
- the platform's identity reads every up-link and ACK and publishes every down-link; its
  control identity (its own certificate, ``security.tls.control_id``) is the plugin's administrator (``$CONTROL/dynamic-security/#``) and nothing
  else. Two identities because the broker makes the username the client id
  (``use_username_as_clientid``, see ``gateways.broker``): one identity for both connections
  would have them take each other over.

Revocation: disabling a device removes its role and disables its client in one control
message (``disable_commands``). In Mosquitto 2.0.11 ``disableClient`` disconnects a live
connection at once ("disconnected by administrative action") but a certificate client may
reconnect (the plugin only checks ``disabled`` on password logins), so the role goes first:
without it every publish and subscribe is denied. Re-enabling adds the role back and enables
the client (its password hash is still in the plugin). A reload (SIGHUP) does not cut a live
certificate connection in 2.0.11; the CRL (``security.tls.revoke``) keeps a revoked
certificate from completing a new handshake once the broker has reloaded it.

>>> verify_password("s3cret", hash_password("s3cret", iterations=1000))
True
>>> [a.topic for a in device_acls(Device(device_id="car-1", kind=DeviceKind.OBU))]
['V2X/OBU/car-1/+/UP', 'V2X/OBU/car-1/+/DOWN', 'V2X/OBU/car-1/+/DOWN']
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

import msgspec

from v2xcloud.errors import ConfigError
from v2xcloud.model import Device, DeviceKind

__all__ = [
    "CONTROL_RESPONSE_TOPIC",
    "CONTROL_TOPIC",
    "MQTT_KINDS",
    "PASSWORD_ITERATIONS",
    "Acl",
    "device_acls",
    "device_commands",
    "disable_commands",
    "dynsec_document",
    "hash_password",
    "platform_acls",
    "remove_commands",
    "role_name",
    "verify_password",
]

#: Where the plugin takes commands and answers (Mosquitto 2.0 dynamic security, v1).
CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
CONTROL_RESPONSE_TOPIC = "$CONTROL/dynamic-security/v1/response"
#: Device kinds that speak MQTT (an EV terminal speaks GB/T 32960 over TCP).
MQTT_KINDS = frozenset({DeviceKind.RSU, DeviceKind.OBU, DeviceKind.RADAR})
#: PBKDF2 rounds of a new hash: the broker pays them once per password login.
PASSWORD_ITERATIONS = 10_000
_SALT_BYTES = 12
_PLATFORM_ROLE = "v2xcloud-platform"
_ADMIN_ROLE = "dynsec-admin"


class Acl(msgspec.Struct, frozen=True):
    """One allow rule of the plugin (``acltype`` as the plugin names it, an MQTT filter)."""

    acltype: str
    topic: str

    def to_json(self) -> dict[str, Any]:
        """The plugin's JSON form (an allow rule)."""
        return {"acltype": self.acltype, "topic": self.topic, "allow": True}


# -- passwords --------------------------------------------------------------------------------


def hash_password(
    password: str, *, iterations: int = PASSWORD_ITERATIONS, salt: bytes | None = None
) -> str:
    """``$7$iterations$salt$hash`` (PBKDF2-HMAC-SHA512, base64), as ``mosquitto_passwd`` writes."""
    if not password:
        raise ConfigError("an empty password cannot be a device credential")
    salt = os.urandom(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${_b64(salt)}${_b64(digest)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _parse_hash(hashed: str, device_id: str = "") -> tuple[int, str, str]:
    """(iterations, salt base64, hash base64); ``ConfigError`` naming the device otherwise."""
    parts = hashed.split("$")
    try:
        if len(parts) != 5 or parts[0] or parts[1] != "7":
            raise ValueError("not $7$ITERATIONS$SALT$HASH")
        iterations = int(parts[2])
        if iterations < 1 or len(base64.b64decode(parts[4], validate=True)) != 64:
            raise ValueError("iterations below 1 or not a 64-byte SHA-512 hash")
        base64.b64decode(parts[3], validate=True)
    except ValueError as exc:
        raise ConfigError(
            f"device {device_id!r}: password_hash is not a PBKDF2-SHA512 hash ($7$…, as "
            f"hash_password or mosquitto_passwd write it): {exc}"
        ) from exc
    return iterations, parts[3], parts[4]


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a ``hash_password`` hash (constant-time comparison)."""
    iterations, salt, digest = _parse_hash(hashed)
    got = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), iterations)
    return hmac.compare_digest(got, base64.b64decode(digest))


# -- rules ------------------------------------------------------------------------------------


def role_name(device_id: str) -> str:
    """The plugin role holding ``device_id``'s rules."""
    return f"device:{device_id}"


def device_acls(device: Device) -> tuple[Acl, ...]:
    """What ``device`` may do: publish its own up-links, read its own down-links."""
    if device.kind not in MQTT_KINDS:
        return ()
    base = f"V2X/{device.kind.name}/{device.device_id}"
    rules = [Acl("publishClientSend", f"{base}/+/UP")]
    if device.kind is not DeviceKind.RADAR:  # radars have no down-link
        rules += [
            Acl("subscribePattern", f"{base}/+/DOWN"),
            Acl("publishClientReceive", f"{base}/+/DOWN"),
        ]
    if device.kind is DeviceKind.RSU:
        rules += [
            Acl("publishClientSend", f"{base}/+/DOWN/ACK"),
            Acl("publishClientSend", "V2X/RSU/INFO/UP"),
        ]
    return tuple(rules)


def platform_acls() -> tuple[Acl, ...]:
    """The platform: every up-link and ACK in, every down-link out."""
    reads = ("V2X/+/+/+/UP", "V2X/RSU/INFO/UP", "V2X/RSU/+/+/DOWN/ACK")
    return (
        *(Acl("subscribePattern", t) for t in reads),
        *(Acl("publishClientReceive", t) for t in reads),
        Acl("publishClientSend", "V2X/+/+/+/DOWN"),
    )


def _admin_acls() -> tuple[Acl, ...]:
    topic = "$CONTROL/dynamic-security/#"
    return (
        Acl("publishClientSend", topic),
        Acl("publishClientReceive", topic),
        Acl("subscribePattern", topic),
    )


def _role(name: str, acls: tuple[Acl, ...]) -> dict[str, Any]:
    return {"rolename": name, "acls": [a.to_json() for a in acls]}


def _client(device: Device) -> dict[str, Any]:
    doc: dict[str, Any] = {"username": device.device_id, "textname": device.tenant}
    if device.password_hash:
        iterations, salt, digest = _parse_hash(device.password_hash, device.device_id)
        doc |= {"password": digest, "salt": salt, "iterations": iterations}
    if device.is_enabled:
        doc["roles"] = [{"rolename": role_name(device.device_id)}]
    else:
        doc["disabled"] = True
    return doc


def dynsec_document(devices: list[Device], *, platform_id: str, control_id: str) -> dict[str, Any]:
    """The plugin's configuration file for these devices (``plugin_opt_config_file``).

    ``platform_id`` is the platform's username (its certificate CN); it gets the platform's
    rules. ``control_id`` is the username of its control connection (the CN of its own
    certificate), which administers the plugin and does nothing else. Devices of other kinds than ``MQTT_KINDS`` are
    left out; a device whose id is one of the platform's identities is refused.
    """
    control = control_id
    if control == platform_id:
        raise ConfigError(
            f"the platform's control identity must differ from its identity {platform_id!r}"
        )
    mqtt_devices = [d for d in devices if d.kind in MQTT_KINDS]
    for device in mqtt_devices:
        if device.device_id in (platform_id, control):
            raise ConfigError(
                f"device {device.device_id!r}: its id is the platform's own broker identity"
            )
    platform = {"username": platform_id, "roles": [{"rolename": _PLATFORM_ROLE}]}
    admin = {"username": control, "roles": [{"rolename": _ADMIN_ROLE}]}
    return {
        "clients": [platform, admin, *(_client(d) for d in mqtt_devices)],
        "groups": [],
        "roles": [
            _role(_PLATFORM_ROLE, platform_acls()),
            _role(_ADMIN_ROLE, _admin_acls()),
            *(_role(role_name(d.device_id), device_acls(d)) for d in mqtt_devices),
        ],
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
    }


# -- control commands -------------------------------------------------------------------------


def device_commands(device: Device, *, password: str | None = None) -> list[dict[str, Any]]:
    """Commands that make the broker match ``device`` as it is now (``[]`` for a non-MQTT kind).

    An enabled device gets (again) its role and an enabled client; a disabled one the
    ``disable_commands``. ``password`` (clear, as an operator just set it) replaces the
    client's password; the plugin's control API takes no hash, so a device whose password
    was set only as a hash gets it from the configuration file at the broker's start.
    """
    if device.kind not in MQTT_KINDS:
        return []
    if not device.is_enabled:
        return disable_commands(device.device_id)
    role = role_name(device.device_id)
    create_client: dict[str, Any] = {"command": "createClient", "username": device.device_id}
    if password is not None:
        create_client["password"] = password
    commands: list[dict[str, Any]] = [
        {"command": "deleteRole", "rolename": role},
        _role(role, device_acls(device)) | {"command": "createRole"},
        create_client,  # fails harmlessly ("Client already exists") when it is there
        {"command": "addClientRole", "username": device.device_id, "rolename": role},
        {"command": "enableClient", "username": device.device_id},
    ]
    if password is not None:
        commands.append(
            {"command": "setClientPassword", "username": device.device_id, "password": password}
        )
    return commands


def disable_commands(device_id: str) -> list[dict[str, Any]]:
    """Take the device's rights away, then disconnect it (``disableClient`` kicks it)."""
    return [
        {"command": "removeClientRole", "username": device_id, "rolename": role_name(device_id)},
        {"command": "disableClient", "username": device_id},
    ]


def remove_commands(device_id: str) -> list[dict[str, Any]]:
    """Forget the device on the broker (``deleteClient`` disconnects it too)."""
    return [
        {"command": "deleteClient", "username": device_id},
        {"command": "deleteRole", "rolename": role_name(device_id)},
    ]
