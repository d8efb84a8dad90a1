"""The GB/T 32960 login gate of a deployment: registered EV terminals and their secrets.

The device registry (``gateways``) says which VINs are EV terminals (kind ``ev-terminal``,
device id = VIN), their tenant, state and registered addresses; ``ev`` may not import
``gateways``, so :class:`RegistryTerminals` adapts the registry to ``ev.access``'s
``TerminalDirectory`` here. Secrets are not in the registry (the registry's table is readable
by every operator tool): they come from a separate file, ``--ev-secrets FILE`` (TOML or
JSON), which should be readable by the platform's user only::

    [terminals]                      # VIN = 32 hex digits (AES-128 / SM4 login key)
    LSIM0000000000000 = "00112233445566778899aabbccddeeff"

    [platform_accounts]              # user = hash from v2xcloud.ev.access.hash_password
    forwarder = "pbkdf2_sha256$100000$...$..."
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from v2xcloud.errors import ConfigError
from v2xcloud.ev.access import TerminalCredential, parse_secret, verify_password
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import DeviceKind
from v2xcloud.security.terminal_keys import TerminalSignatures

__all__ = ["EvSecrets", "RegistryTerminals", "load_ev_secrets"]

logger = logging.getLogger(__name__)


class EvSecrets(msgspec.Struct, frozen=True, kw_only=True):
    """Per-terminal login secrets (VIN -> 16 bytes) and platform accounts (user -> hash)."""

    terminals: dict[str, bytes] = msgspec.field(default_factory=dict)
    platform_accounts: dict[str, str] = msgspec.field(default_factory=dict)


def load_ev_secrets(path: str | Path) -> EvSecrets:
    """Read an ``--ev-secrets`` file; ``ConfigError`` names the file and the bad entry."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"--ev-secrets {path}: cannot read: {exc}") from exc
    if mode & 0o077:
        logger.warning("--ev-secrets %s is readable by other users; chmod 600 it", path)
    try:
        doc: Any = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--ev-secrets {path}: not valid {path.suffix or 'JSON'}: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"--ev-secrets {path}: expected a table with [terminals]")
    terminals = {
        str(vin): parse_secret(str(hex_key), where=f"--ev-secrets {path}: terminal {vin}")
        for vin, hex_key in dict(doc.get("terminals", {})).items()
    }
    accounts = {str(u): str(h) for u, h in dict(doc.get("platform_accounts", {})).items()}
    for user, stored in accounts.items():
        try:
            verify_password("", stored)  # checks the format now, not at the first login
        except ConfigError as exc:
            raise ConfigError(f"--ev-secrets {path}: platform account {user}: {exc}") from exc
    return EvSecrets(terminals=terminals, platform_accounts=accounts)


class RegistryTerminals:
    """``ev.access.TerminalDirectory`` over the device registry plus the secrets file.

    ``signatures`` (``security.terminal_keys.TerminalSignatures``, from ``--ev-signatures
    require`` and ``--ev-keys``): a VIN with a registered SM2 key has a signature credential.
    """

    def __init__(
        self,
        registry: DeviceRegistry,
        secrets: Mapping[str, bytes],
        *,
        signatures: TerminalSignatures | None = None,
    ) -> None:
        self.registry = registry
        self.secrets = dict(secrets)
        self.signatures = signatures

    def terminal(self, vin: str) -> TerminalCredential | None:
        """The registered EV terminal ``vin`` with its secret, or ``None`` (not registered,
        or registered as another kind of device)."""
        device = self.registry.get(vin)
        if device is None or device.kind is not DeviceKind.EV_TERMINAL:
            return None
        return TerminalCredential(
            vin=vin,
            tenant=device.tenant,
            secret=self.secrets.get(vin),
            addresses=device.addresses,
            is_enabled=device.is_enabled,
            has_signing_key=self._has_signing_key(vin),
        )

    def _has_signing_key(self, vin: str) -> bool:
        s = self.signatures
        return s is not None and s.require and s.key_of(vin) is not None
