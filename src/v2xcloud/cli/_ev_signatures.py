"""The GB/T 32960-2025 signature options shared by ``serve --gb32960`` and ``gb32960 serve``.

``--ev-signatures`` is the policy: ``verify-if-signed`` (default: a signed report must verify
under its VIN's registered key, an unsigned one passes), ``require`` (an unsigned report is
refused too) or ``off`` (signatures are parsed only). ``--ev-keys FILE`` registers the
terminals' SM2 public keys (``security.terminal_keys.load_terminal_keys``);
``--ev-register-on-activation`` lets a 2025 activation register the key it proves.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_signature_options", "signature_check"]

POLICIES = ("verify-if-signed", "require", "off")


def add_signature_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--ev-signatures``, ``--ev-keys`` and ``--ev-register-on-activation``."""
    parser.add_argument(
        "--ev-signatures",
        choices=POLICIES,
        default="verify-if-signed",
        help="GB/T 32960-2025 SM2 report signatures: verify when present (default), "
        "require on every report, or off (parsed only)",
    )
    parser.add_argument(
        "--ev-keys",
        default=None,
        metavar="FILE",
        help="terminals' SM2 public keys: TOML/JSON table terminal_keys of VIN = hex",
    )
    parser.add_argument(
        "--ev-register-on-activation",
        action="store_true",
        help="a 2025 activation (0x09) registers the key its signature proves (labs)",
    )


def signature_check(args: argparse.Namespace) -> Any | None:
    """The server's signature check for the parsed options (``None`` with ``off``).

    Raises:
        ConfigError: the keys file cannot be read or holds a key that is not an SM2 point.
    """
    if args.ev_signatures == "off":
        return None
    from v2xcloud.security.terminal_keys import TerminalSignatures, load_terminal_keys

    keys = load_terminal_keys(args.ev_keys) if args.ev_keys else {}
    return TerminalSignatures(
        keys,
        require=args.ev_signatures == "require",
        register_on_activation=args.ev_register_on_activation,
    )
