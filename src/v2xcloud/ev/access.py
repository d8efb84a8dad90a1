"""Who may log in to the GB/T 32960 server: registered terminals with their own credential.

Neither the 2016 nor the 2025 vehicle login (0x01) has a credential field: its data unit is
time, serial, ICCID and pack codes, all of which an eavesdropper or the vehicle's owner can
read. What a terminal can prove, within the standard's frame, is:

- **a per-terminal secret**: the frame's encryption byte lets the data unit be encrypted
  (0x03 AES-128 in both layouts, 0x05 SM4 in 2025). A terminal registered with a 16-byte
  secret must send its login data unit encrypted under that key (ECB, PKCS#7 padding: the
  standard names the algorithm, not the mode, so the mode is this platform's documented
  choice). The platform decrypts it with the registered key; only a login that decrypts to a
  well-formed login body whose time is within ``max_clock_skew_ms`` of the platform clock and
  whose (time, serial) is newer than the last login accepted for that VIN is taken. A replayed
  capture therefore fails (stale or not newer), and a forger without the key cannot produce a
  data unit that decrypts to a fresh login.
- **its source address**: a terminal registered with ``addresses`` may log in only from one
  of them. This is weaker (anyone on that address or able to spoof a TCP handshake from it
  passes) and is used alone only for terminals registered without a secret; TLS client
  identity would be the stronger binding, and this server speaks plain TCP.
- **the 2025 signature** on its reports, where the terminal has a registered SM2 key and the
  server requires signatures (``has_signing_key``; ``security`` verifies, ``ev`` does not
  import it). The login itself carries no signature, so such a login is only *provisional*:
  the session is proven by its first report whose signature verifies. Until then a newer
  login for the VIN may replace it (an attacker cannot squat a VIN by logging in and staying
  silent), and a report whose signature fails refuses the whole session (closed, VIN
  released, audited as ``bad_signature``). A proven session is never replaced.

A terminal registered with none of these is refused: registration alone is not a credential. The platform login (0x05, a forwarding platform logging in) is checked against
``platform_accounts``: user -> password hash (``hash_password``: PBKDF2-HMAC-SHA256, salted,
the password itself is never stored).

Every refusal is counted (``login_refused:<why>``), kept as a dead letter
(``DropReason.BAD_CREDENTIAL``) and recorded in the audit trail when one is given (action
``ev.login_refused``); the connection is then closed. The replay state holds at most
``max_vins`` VINs (least recently used evicted).

>>> access = TerminalAccess(StaticDirectory([TerminalCredential(vin="LTEST000000000001",
...                                                             addresses=("10.0.0.7",))]))
>>> access.directory.terminal("LTEST000000000001").addresses
('10.0.0.7',)
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any, Protocol

import msgspec
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from v2xcloud.bounded import LruTable
from v2xcloud.errors import ConfigError, Gb32960Error, V2xCloudError
from v2xcloud.ev._throttle import LogThrottle
from v2xcloud.ev.codec import Message
from v2xcloud.ev.commands import PlatformLogin, VehicleLogin, read_body
from v2xcloud.ev.frame import Encryption
from v2xcloud.model import DeadLetter, DropReason

__all__ = [
    "AuditRecorder",
    "LoginDecision",
    "StaticDirectory",
    "TerminalAccess",
    "TerminalCredential",
    "TerminalDirectory",
    "encrypt_data_unit",
    "hash_password",
    "parse_secret",
    "verify_password",
]

logger = logging.getLogger(__name__)

_PBKDF2_ITERATIONS = 100_000
_SECRET_BYTES = 16
_FAILURE_WINDOW_MS = 60_000


class TerminalCredential(msgspec.Struct, frozen=True, kw_only=True):
    """What the platform knows of one registered EV terminal (VIN = device id).

    ``secret``: 16-byte key its login is encrypted with (AES-128, or SM4 in 2025);
    ``addresses``: IP addresses or networks (CIDR) it may connect from (empty = any);
    ``has_signing_key``: its reports must carry a signature verified under its registered key.
    """

    vin: str
    tenant: str = "default"
    secret: bytes | None = None
    addresses: tuple[str, ...] = ()
    is_enabled: bool = True
    has_signing_key: bool = False


class TerminalDirectory(Protocol):
    """Where the server looks terminals up (the device registry, wired in by ``cli``)."""

    def terminal(self, vin: str) -> TerminalCredential | None:
        """The registered terminal with this VIN, or ``None``."""
        ...


class AuditRecorder(Protocol):
    """The audit trail's non-blocking append (``store.audit.AuditTrail.submit`` matches it)."""

    def submit(
        self,
        actor: str,
        action: str,
        target: str,
        *,
        tenant: str = "",
        detail: Mapping[str, Any] | None = None,
        at_ms: int,
    ) -> None:
        """Queue one audit row (never blocks the server's loop)."""
        ...


class StaticDirectory:
    """A fixed set of terminals (tests, ``gb32960 serve --terminals FILE``)."""

    def __init__(self, terminals: Iterable[TerminalCredential]) -> None:
        self._by_vin = {t.vin: t for t in terminals}

    def terminal(self, vin: str) -> TerminalCredential | None:
        """The terminal with this VIN, or ``None``."""
        return self._by_vin.get(vin)


class LoginDecision(msgspec.Struct, frozen=True, kw_only=True):
    """Outcome of a login check: ``why`` is empty when accepted, else a short tag;
    ``login_at_ms`` is the decrypted login's time (an encrypted login's ack echoes it);
    ``is_proven`` is false for a login accepted only provisionally (signature credential)."""

    is_accepted: bool
    is_proven: bool = True
    why: str = ""
    detail: str = ""
    tenant: str = ""
    login_at_ms: int | None = None


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>`` of ``password``."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _PBKDF2_ITERATIONS)
    return f"pbkdf2_sha256${_PBKDF2_ITERATIONS}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a ``hash_password`` result (constant-time compare);
    raises ``ConfigError`` for a stored value that is not such a hash."""
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != "pbkdf2_sha256":
            raise ValueError(f"scheme {scheme!r}")
        computed = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), bytes.fromhex(salt), int(iterations)
        )
        return hmac.compare_digest(computed, bytes.fromhex(digest))
    except ValueError as exc:
        raise ConfigError(f"stored password is not a pbkdf2_sha256 hash: {exc}") from exc


def _cipher(encryption: int, key: bytes) -> Cipher[Any]:
    if encryption == Encryption.AES128:
        return Cipher(algorithms.AES128(key), modes.ECB())
    if encryption == Encryption.SM4:
        return Cipher(algorithms.SM4(key), modes.ECB())
    raise ValueError(f"encryption 0x{encryption:02x} is not AES-128 (0x03) or SM4 (0x05)")


def encrypt_data_unit(data: bytes, key: bytes, *, encryption: int = Encryption.AES128) -> bytes:
    """Encrypt a data unit as a terminal does for its login (ECB, PKCS#7)."""
    padder = padding.PKCS7(128).padder()
    enc = _cipher(encryption, key).encryptor()
    return enc.update(padder.update(data) + padder.finalize()) + enc.finalize()


def _decrypt(data: bytes, key: bytes, encryption: int) -> bytes:
    dec = _cipher(encryption, key).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plain = dec.update(data) + dec.finalize()
    return unpadder.update(plain) + unpadder.finalize()


def _address_ok(peer: str, allowed: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(peer)
        return any(ip in ipaddress.ip_network(a, strict=False) for a in allowed)
    except ValueError:  # an unparsable peer or registered address matches nothing
        return False


class TerminalAccess:
    """The login gate of the GB/T 32960 server (see the module docstring).

    ``platform_accounts``: user -> ``hash_password`` value for 0x05 logins;
    ``dead_letter`` receives each refused login frame; ``audit`` records each refusal.
    """

    def __init__(
        self,
        directory: TerminalDirectory,
        *,
        platform_accounts: Mapping[str, str] | None = None,
        max_clock_skew_ms: int = 300_000,
        max_vins: int = 10_000,
        max_password_failures: int = 5,
        dead_letter: Callable[[DeadLetter], None] | None = None,
        audit: AuditRecorder | None = None,
    ) -> None:
        self.directory = directory
        self.platform_accounts = dict(platform_accounts or {})
        self.max_clock_skew_ms = max_clock_skew_ms
        self.dead_letter = dead_letter
        self.audit = audit
        self.max_password_failures = max_password_failures
        self._log = LogThrottle(logger)
        self.stats: Counter[str] = Counter()
        self._failures: LruTable[str, tuple[int, int]] = LruTable(
            limit=max_vins, name="GB/T 32960 platform login failures (addresses)"
        )
        self._last_login: LruTable[str, tuple[int, int]] = LruTable(
            limit=max_vins, name="GB/T 32960 login replay check (VINs)"
        )

    # -- vehicle login -------------------------------------------------------------------------
    def vehicle_login(self, frame: Message, *, peer: str, now_ms: int) -> LoginDecision:
        """Check a decoded vehicle login (0x01) from ``peer`` (IP address); an encrypted data
        unit is the message's ``bytes`` body."""
        terminal = self.directory.terminal(frame.vin)
        if terminal is None:
            return _refused("unknown_vin", f"VIN {frame.vin} is not a registered EV terminal")
        if not terminal.is_enabled:
            return _refused("disabled", f"terminal {frame.vin} is disabled", terminal.tenant)
        if terminal.addresses and not _address_ok(peer, terminal.addresses):
            return _refused(
                "wrong_address",
                f"terminal {frame.vin} may log in from {', '.join(terminal.addresses)}, not {peer}",
                terminal.tenant,
            )
        if terminal.secret is not None:
            return self._secret_login(frame, terminal, now_ms)
        if terminal.addresses:
            return LoginDecision(is_accepted=True, tenant=terminal.tenant)
        if terminal.has_signing_key:
            return LoginDecision(is_accepted=True, is_proven=False, tenant=terminal.tenant)
        return _refused(
            "no_credential",
            f"terminal {frame.vin} has no secret, address or signing key registered; register one",
            terminal.tenant,
        )

    def _secret_login(
        self, frame: Message, terminal: TerminalCredential, now_ms: int
    ) -> LoginDecision:
        tenant = terminal.tenant
        if frame.encryption not in (Encryption.AES128, Encryption.SM4) or not isinstance(
            frame.body, bytes
        ):
            return _refused(
                "not_encrypted",
                f"terminal {frame.vin} must encrypt its login with its secret "
                f"(encryption 0x03/0x05), got 0x{frame.encryption:02x}",
                tenant,
            )
        assert terminal.secret is not None
        try:
            plain = _decrypt(frame.body, terminal.secret, frame.encryption)
            login = read_body(0x01, 0xFE, plain, layout=frame.layout)
        except (ValueError, Gb32960Error) as exc:
            return _refused("wrong_secret", f"login of {frame.vin} does not decrypt: {exc}", tenant)
        if not isinstance(login, VehicleLogin):  # read_body of 0x01 only yields logins
            return _refused("wrong_secret", f"login of {frame.vin} is not a login", tenant)
        if abs(login.at_ms - now_ms) > self.max_clock_skew_ms:
            return _refused(
                "stale",
                f"login of {frame.vin} is {abs(login.at_ms - now_ms) / 1000:.0f} s off the "
                f"platform clock (at most {self.max_clock_skew_ms / 1000:.0f} s)",
                tenant,
            )
        key = (login.at_ms, login.serial)
        last = self._last_login.get(frame.vin)
        if last is not None and key <= last:
            return _refused("replayed", f"login of {frame.vin} is not newer than the last", tenant)
        self._last_login[frame.vin] = key
        return LoginDecision(is_accepted=True, tenant=tenant, login_at_ms=login.at_ms)

    # -- platform login ------------------------------------------------------------------------
    def platform_login(self, body: object, *, vin: str, peer: str, now_ms: int) -> LoginDecision:
        """Check a platform login (0x05) body against ``platform_accounts``.

        Each check costs a PBKDF2 (~50 ms of CPU); an address with ``max_password_failures``
        failures in the last minute is refused without checking (``too_many_failures``).
        """
        if not isinstance(body, PlatformLogin):
            return _refused("not_readable", f"platform login from {vin} is encrypted or malformed")
        start, failures = self._failures.get(peer) or (now_ms, 0)
        if now_ms - start > _FAILURE_WINDOW_MS:
            start, failures = now_ms, 0
        if failures >= self.max_password_failures:
            return _refused("too_many_failures", f"{peer}: {failures} failed platform logins")
        stored = self.platform_accounts.get(body.user)
        # compare against a hash even for an unknown user, so timing does not tell users apart
        ok = verify_password(body.password, stored or _dummy_hash()) and stored is not None
        if not ok:
            self._failures[peer] = (start, failures + 1)
            return _refused("wrong_password", f"platform login of user {body.user!r} refused")
        return LoginDecision(is_accepted=True)

    # -- refusals ------------------------------------------------------------------------------
    def refused(
        self, decision: LoginDecision, *, frame: bytes, vin: str, peer: str, now_ms: int
    ) -> None:
        """Dead-letter, audit and log one refused login (the session counts it; the log is
        throttled to one record a minute per reason)."""
        self._log.log(
            decision.why,
            logging.INFO,
            "GB/T 32960 login refused from %s: %s",
            peer,
            decision.detail,
        )
        if self.dead_letter is not None:
            self.dead_letter(
                DeadLetter(
                    raw=frame,
                    source=f"gb32960:{peer}",
                    received_at_ms=now_ms,
                    reason=DropReason.BAD_CREDENTIAL,
                    detail=decision.detail,
                    where="byte 2",
                )
            )
        if self.audit is not None:
            try:
                self.audit.submit(
                    f"gb32960:{peer}",
                    "ev.login_refused",
                    vin,
                    tenant=decision.tenant,
                    detail={"why": decision.why, "detail": decision.detail, "command": frame[2]},
                    at_ms=now_ms,
                )
            except V2xCloudError as exc:  # the refusal stands; an audit misuse is counted
                self.stats["audit_errors"] += 1
                logger.error("cannot audit a refused GB/T 32960 login: %s", exc, exc_info=exc)


@cache
def _dummy_hash() -> str:
    return hash_password("not a password", salt=b"\x00" * 16)


def _refused(why: str, detail: str, tenant: str = "") -> LoginDecision:
    return LoginDecision(is_accepted=False, why=why, detail=detail, tenant=tenant)


def parse_secret(text: str, *, where: str) -> bytes:
    """A terminal secret from 32 hex digits; raises ``ConfigError`` naming ``where``."""
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: secret is not hex: {exc}") from exc
    if len(key) != _SECRET_BYTES:
        raise ConfigError(f"{where}: secret must be {_SECRET_BYTES} bytes (32 hex digits)")
    return key
