"""Signed end to end, wired for the bench commands (``demo``, ``evaluate``, ``devices``).

``add_signed_arguments`` gives a command ``--signed``, ``--pki DIR`` and ``--profile``;
``SignedRun`` (``SecureBench`` for ``evaluate``'s worker processes) opens the PKI (``--pki``, or a throwaway one in a temporary directory, made for
the run's start time so its certificates are valid through the run), gives the bench's
devices their signer (``security.signers.DeviceSigners``) and makes a runtime secure:
the receive-side security stage as its frame guard under the policy ``require`` (every frame
must be signed and verify) and the platform's signer for what dissemination sends
(``security.signers.PlatformSigner``), counted by a ``DownlinkTally`` where the bench has no
down-link. ``format_security`` is the line the commands print at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from typing import Any

from v2xcloud.errors import ConfigError

__all__ = [
    "DownlinkTally",
    "SecureBench",
    "SignedRun",
    "add_signed_arguments",
    "format_security",
]


def add_signed_arguments(p: argparse.ArgumentParser) -> None:
    """``--signed``, ``--pki DIR``, ``--profile cn|intl``."""
    p.add_argument(
        "--signed",
        action="store_true",
        help="every device signs its frames (SM2 or ECDSA-P256 certificates), the platform "
        "verifies them (policy require) and signs what it sends",
    )
    p.add_argument(
        "--pki",
        metavar="DIR",
        help="with --signed: the PKI to sign and verify with ('v2xcloud pki init'); devices it "
        "does not list are enrolled by its CAs; default: a throwaway PKI",
    )
    p.add_argument(
        "--profile",
        choices=("cn", "intl"),
        default="cn",
        help="with --signed and no --pki: the throwaway PKI's profile (cn: SM2/SM3, default; "
        "intl: ECDSA-P256/SHA-256)",
    )


class SignedRun(contextlib.AbstractContextManager["SignedRun"]):
    """One run's PKI and signers (see the module docstring); a context manager that removes a
    throwaway PKI on exit. ``ConfigError`` for ``--pki``/``--profile`` without ``--signed``."""

    def __init__(self, args: argparse.Namespace, *, now_ms: int, message_set: str) -> None:
        self.is_signed = bool(args.signed)
        if not self.is_signed and (args.pki is not None or args.profile != "cn"):
            raise ConfigError("--pki and --profile need --signed")
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.pki: Any = None
        self.devices: Any = None
        self.downlink: DownlinkTally | None = None
        if not self.is_signed:
            return
        from v2xcloud.codec import message_set_of
        from v2xcloud.security.pki import init_pki, load_pki
        from v2xcloud.security.signers import DeviceSigners
        from v2xcloud.security.types import SecurityProfile

        self.message_set = message_set_of(message_set)
        if args.pki is not None:
            self.pki = load_pki(args.pki)
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="v2xcloud-pki-")
            self.pki = init_pki(
                self._tmp.name,
                profile=SecurityProfile(args.profile),
                now_ms=now_ms,
                with_tls=False,
            )
        self.devices = DeviceSigners(self.pki, message_set=self.message_set)

    def secure(self, runtime: Any) -> None:
        """Make ``runtime`` verify every frame (policy ``require``) and sign what it sends."""
        if not self.is_signed:
            return
        from v2xcloud.security.signers import PlatformSigner
        from v2xcloud.security.verify import Policy, stage_from_pki

        runtime.guard = stage_from_pki(
            self.pki, policy=Policy.parse("require"), message_set=self.message_set
        )
        runtime.delivery.signer = PlatformSigner(self.pki)
        self.downlink = DownlinkTally()
        runtime.add_delivery_sink(self.downlink)

    def describe(self) -> str:
        """Which PKI the run signs with."""
        where = "throwaway" if self._tmp is not None else str(self.pki.directory)
        return f"signed: {self.pki.profile.value} profile ({self.pki.algorithm.value}), {where} PKI"

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class SecureBench:
    """``evaluate --signed``'s ``sim.evaluate.Secure``: in each worker process, a
    ``SignedRun`` (the given PKI, or a throwaway one made for the run's epoch) secures the
    runtime and yields the devices' signer. Picklable: it crosses into the workers."""

    def __init__(self, *, pki: str | None, profile: str) -> None:
        self.pki = pki
        self.profile = profile

    @contextlib.contextmanager
    def __call__(self, runtime: Any, config: Any) -> Iterator[Any]:
        """Secure ``runtime`` for one run of ``config`` and yield the devices' signer."""
        args = argparse.Namespace(signed=True, pki=self.pki, profile=self.profile)
        with SignedRun(args, now_ms=config.epoch_ms, message_set=config.message_set) as run:
            run.secure(runtime)
            yield run.devices


class DownlinkTally:
    """The bench's stand-in for the down-link (a ``runtime.DeliverySink``): the in-process
    bench has no transport to RSUs and vehicles, so what dissemination sends is counted here,
    per message type, with or without the platform's signature (``secured``)."""

    name = "downlink-tally"

    def __init__(self) -> None:
        from collections import Counter

        self.counts: Counter[str] = Counter()

    def deliver(self, deliveries: Any, *, now_ms: int) -> None:
        """Count one tick's deliveries (expired ones send nothing)."""
        for d in deliveries:
            if d.reason == "expired":
                continue
            kind = "RSI" if d.rsi_uper is not None else type(d.payload).__name__.upper()
            self.counts[f"{'signed' if d.secured is not None else 'unsigned'}.{kind}"] += 1


def format_security(stats: dict[str, Any], devices: dict[str, Any] | None) -> str:
    """One line: frames verified and refused per reason, what the devices and the platform
    signed (from ``Runtime.stats()`` and ``DeviceSigners.stats()``)."""
    guard = stats.get("guard", {})
    rejected = {k.split(".", 1)[1]: v for k, v in guard.items() if k.startswith("rejected.")}
    signed_by = {
        k.split(".", 1)[1]: v for k, v in (devices or {}).items() if k.startswith("signed.")
    }
    line = (
        f"security: verified {guard.get('verified', 0)}, rejected {rejected or 'none'}; "
        f"devices signed {signed_by or 'none'} ({(devices or {}).get('certificates_sent', 0)} "
        f"with the full certificate)"
    )
    if "signer" in stats:
        signer = stats["signer"]
        platform = {k.split(".", 1)[1]: v for k, v in signer.items() if k.startswith("signed.")}
        line += f"; the platform signed {platform or 'none'}"
    return line
