"""A local Mosquitto broker for labs, tests and benchmarks: configured, started, killed, restarted.

``Mosquitto`` writes a configuration into its own temp dir and runs ``/usr/sbin/mosquitto`` on
127.0.0.1 (a free port unless one is given). The configuration is deliberate about the places
where a stock Mosquitto silently loses QoS 1 messages:

- ``max_queued_messages`` defaults to 1000 per client: a subscriber that falls behind by more
  loses the rest without a trace. Here it is raised to ``max_queued_messages`` (default one
  million; 0 means unlimited in Mosquitto 2.x) and ``max_queued_bytes`` bounds the memory instead
  (default 1 GiB per client);
- ``max_inflight_messages`` (unacknowledged QoS 1 messages per client, default 20) is set to
  ``max_inflight_messages`` so a subscriber acknowledging in batches is not throttled to a trickle;
- persistence is on with its own directory, so sessions, subscriptions and queued QoS 1
  messages survive ``restart()``. Mosquitto's persistence is a snapshot, not a log: it saves
  every ``autosave_interval`` changes (``autosave_on_changes``), default 1 = after each change,
  the strictest it offers. A SIGKILL can still lose what changed since the last snapshot.
  Each snapshot rewrites the whole database: on this machine one save per change caps a
  broker at a few hundred QoS 1 messages/s, one per 1000 changes at several thousand; a
  throughput benchmark raises ``autosave_interval`` and says so.

Without ``password_file`` or ``auth`` the listener allows anonymous clients: for lab and test
use only. With ``auth`` (``BrokerAuth``) anonymous access is off and there are two listeners:

- ``tls_url`` (``mqtts://``): mutual TLS, ``require_certificate true``, the client
  certificate's CN is the MQTT username (``use_identity_as_username``), the CRL checked at every
  handshake;
- ``url`` (``mqtt://``): username and password, for devices that cannot do TLS;

on both, ``use_username_as_clientid``: the broker replaces the client id a client sends with
its username (its certificate CN, or its password login), so one identity holds at most one
connection: a second connection with the same identity takes the first over. Mosquitto 2.0.11
has no per-user connection cap; this, with the registry's per-tenant device quota
(``DeviceRegistry``, ``max_devices`` of ``--tenant-limits``), is what bounds a tenant's
connections: at most one per registered device. The platform therefore connects with two
identities (its gateway and its dynamic-security control connection, ``security.tls``).
Mosquitto's dynamic-security plugin decides who may log in with a password and who may
publish or subscribe to what, from the document ``auth.dynsec`` (``gateways.access`` generates
it from the device registry; the platform's identity changes it at run time through the
plugin's control topic, and the plugin saves it). The TLS files are copied into the broker's
own directory (the broker drops to the ``mosquitto`` user and must read them); ``reload()``
copies them again (a new CRL) and sends SIGHUP.

As root, the temp dir is handed to the ``mosquitto`` user, which the broker drops to.

>>> "max_queued_messages 1000000" in Mosquitto(port=1883).config_text()
True
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from v2xcloud import processes
from v2xcloud.errors import GatewayError
from v2xcloud.processes import LocalServer

__all__ = ["DYNSEC_PLUGIN", "MOSQUITTO_BIN", "BrokerAuth", "Mosquitto", "find_mosquitto"]

logger = logging.getLogger(__name__)

MOSQUITTO_BIN = "/usr/sbin/mosquitto"


#: Where Debian's Mosquitto 2.0 package puts the dynamic-security plugin.
DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"


@dataclass(frozen=True)
class BrokerAuth:
    """Authenticated listeners: the TLS files (PEM paths) and the dynamic-security document.

    ``cafile`` is the CA device certificates must chain to, ``certfile``/``keyfile`` the
    broker's own pair, ``crlfile`` the revocation list (optional), ``dynsec`` the plugin's
    configuration (``gateways.access.dynsec_document``), ``tls_port`` 0 for a free port.
    """

    cafile: Path
    certfile: Path
    keyfile: Path
    dynsec: dict[str, Any]
    crlfile: Path | None = None
    tls_port: int = 0
    plugin: str = DYNSEC_PLUGIN

    def sources(self) -> dict[str, Path]:
        """The broker-local file name of each TLS file."""
        files = {"ca.crt": self.cafile, "server.crt": self.certfile, "server.key": self.keyfile}
        if self.crlfile is not None:
            files["crl.pem"] = self.crlfile
        return files


def find_mosquitto() -> str | None:
    """Path of the Mosquitto binary (``/usr/sbin/mosquitto`` or on ``PATH``), or None."""
    if os.access(MOSQUITTO_BIN, os.X_OK):
        return MOSQUITTO_BIN
    return shutil.which("mosquitto")


def _give_to_broker_user(path: Path) -> None:
    """As root, hand ``path`` to the ``mosquitto`` user the broker drops to."""
    if os.geteuid() != 0:
        return
    try:
        entry = pwd.getpwnam("mosquitto")
    except KeyError:
        return
    os.chown(path, entry.pw_uid, entry.pw_gid)


class Mosquitto(LocalServer):
    """One Mosquitto process: ``start()``, ``stop()``, ``kill()``, ``restart()``; a context manager.

    ``url`` is ``mqtt://HOST:PORT`` once started. The port stays the same across ``restart()``
    and so does the persistence directory. ``start`` raises ``GatewayError`` with the broker's
    log when the binary is missing or the broker does not accept connections within
    ``timeout_s``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        password_file: str | Path | None = None,
        auth: BrokerAuth | None = None,
        max_queued_messages: int = 1_000_000,
        max_queued_bytes: int = 1 << 30,
        max_inflight_messages: int = 1000,
        autosave_interval: int = 1,
        timeout_s: float = 10.0,
        binary: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.password_file = Path(password_file) if password_file is not None else None
        self.auth = auth
        if auth is not None and password_file is not None:
            raise GatewayError("give the broker either password_file or auth, not both")
        self.max_queued_messages = max_queued_messages
        self.max_queued_bytes = max_queued_bytes
        self.max_inflight_messages = max_inflight_messages
        self.autosave_interval = autosave_interval
        self.timeout_s = timeout_s
        self.binary = binary
        self.starts = 0
        self._root: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- configuration -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``mqtt://HOST:PORT`` of the listener (port 0 until started)."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def tls_url(self) -> str | None:
        """``mqtts://HOST:PORT`` of the TLS listener (with ``auth``), else None."""
        return f"mqtts://{self.host}:{self.auth.tls_port}" if self.auth is not None else None

    @property
    def pid(self) -> int | None:
        """Process id of the running broker, or None."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def log_path(self) -> Path | None:
        """The broker's log file (in the temp dir), once started."""
        return self._root / "mosquitto.log" if self._root is not None else None

    def config_text(self, root: Path | None = None) -> str:
        """The configuration this broker runs with (``root`` is its temp dir)."""
        base = root or Path("/tmp/v2xcloud-mosquitto")
        if self.auth is not None:
            auth = self._auth_text(base, self.auth)
        elif self.password_file is not None:
            auth = f"allow_anonymous false\npassword_file {self.password_file}\n"
        else:
            auth = "allow_anonymous true\n"
        return (
            "per_listener_settings false\n"
            f"listener {self.port} {self.host}\n"
            f"{auth}"
            "persistence true\n"
            f"persistence_location {base / 'persistence'}/\n"
            "persistence_file mosquitto.db\n"
            "autosave_on_changes true\n"
            f"autosave_interval {self.autosave_interval}\n"
            f"max_queued_messages {self.max_queued_messages}\n"
            f"max_queued_bytes {self.max_queued_bytes}\n"
            f"max_inflight_messages {self.max_inflight_messages}\n"
            "queue_qos0_messages false\n"
            "persistent_client_expiration 1d\n"
            f"log_dest file {base / 'mosquitto.log'}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            "connection_messages true\n"
            "log_timestamp_format %Y-%m-%dT%H:%M:%S\n"
        )

    def _auth_text(self, base: Path, auth: BrokerAuth) -> str:
        tls = base / "tls"
        crl = f"crlfile {tls / 'crl.pem'}\n" if auth.crlfile is not None else ""
        return (
            "use_username_as_clientid true\n"  # the password listener (the listener above)
            "allow_anonymous false\n"
            f"plugin {auth.plugin}\n"
            f"plugin_opt_config_file {base / 'dynamic-security.json'}\n"
            f"listener {auth.tls_port} {self.host}\n"
            f"cafile {tls / 'ca.crt'}\n"
            f"certfile {tls / 'server.crt'}\n"
            f"keyfile {tls / 'server.key'}\n"
            f"{crl}"
            "require_certificate true\n"
            "use_identity_as_username true\n"
            "use_username_as_clientid true\n"
        )

    def _install_auth(self, root: Path) -> None:
        """Copy the TLS files in (readable by the broker's user); the plugin's document only
        on the first start (afterwards the plugin owns it and saves every change)."""
        assert self.auth is not None
        tls = root / "tls"
        tls.mkdir(exist_ok=True)
        for name, source in self.auth.sources().items():
            try:
                data = Path(source).read_bytes()
            except OSError as exc:
                raise GatewayError(f"broker TLS file {source}: cannot read: {exc}") from exc
            target = tls / name
            tmp = target.with_name(name + ".tmp")
            tmp.write_bytes(data)
            os.chmod(tmp, 0o600)
            _give_to_broker_user(tmp)
            os.replace(tmp, target)
        _give_to_broker_user(tls)
        dynsec = root / "dynamic-security.json"
        if not dynsec.exists():
            dynsec.write_bytes(msgspec.json.encode(self.auth.dynsec))
            os.chmod(dynsec, 0o600)
            _give_to_broker_user(dynsec)

    def reload(self) -> None:
        """Copy the TLS files again (a new CRL) and SIGHUP the broker: it re-reads its
        configuration and applies the CRL to the next handshakes (a live connection stays)."""
        pid = self.pid
        if pid is None or self._root is None:
            raise GatewayError("the broker is not running: start() it before reload()")
        if self.auth is not None:
            self._install_auth(self._root)
        os.kill(pid, signal.SIGHUP)

    def _prepare(self) -> Path:
        root = Path(tempfile.mkdtemp(prefix="v2xcloud-mosquitto-"))
        (root / "persistence").mkdir()
        for path in (root, root / "persistence"):
            _give_to_broker_user(path)
        return root

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Mosquitto:
        """Write the config (first start only), launch the broker, wait until it accepts."""
        binary = self.binary or find_mosquitto()
        if binary is None:
            raise GatewayError(
                "mosquitto not found (/usr/sbin/mosquitto): install the Debian package "
                "'mosquitto' (tools/system-deps.sh does)"
            )
        if self.pid is not None:
            return self
        if self._root is None:
            self._root = self._prepare()
        if self.port == 0:
            self.port = processes.free_port(self.host)
        if self.auth is not None:
            if self.auth.tls_port == 0:
                self.auth = dataclasses.replace(self.auth, tls_port=processes.free_port(self.host))
            self._install_auth(self._root)
        conf = self._root / "mosquitto.conf"
        conf.write_text(self.config_text(self._root))
        try:
            self._proc = subprocess.Popen(
                [binary, "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            raise GatewayError(f"cannot run mosquitto at {binary}: {exc}") from exc
        self.starts += 1
        self._wait_ready()
        logger.info("mosquitto pid %d listening on %s", self._proc.pid, self.url)
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise GatewayError(
                    f"mosquitto exited with {self._proc.returncode} on {self.url}: {self._log_tail()}"
                )
            tls_ready = self.auth is None or processes.accepts(self.host, self.auth.tls_port)
            if tls_ready and processes.accepts(self.host, self.port):
                return
            time.sleep(0.02)
        self._terminate(signal.SIGKILL)
        raise GatewayError(
            f"mosquitto did not accept on {self.url} within {self.timeout_s} s: {self._log_tail()}"
        )

    def _log_tail(self) -> str:
        return processes.log_tail(self.log_path)

    def _terminate(self, sig: signal.Signals, *, grace_s: float = 5.0) -> None:
        processes.stop(self._proc, sig, grace_s=grace_s, name="mosquitto")
        self._proc = None

    def kill(self) -> None:
        """SIGKILL the broker (a crash: nothing is saved on the way down); files stay."""
        self._terminate(signal.SIGKILL)

    def terminate(self, *, grace_s: float = 5.0) -> None:
        """SIGTERM (the broker saves its persistence), SIGKILL after ``grace_s``; files stay."""
        self._terminate(signal.SIGTERM, grace_s=grace_s)

    def restart(self, *, crash: bool = False) -> Mosquitto:
        """Stop (SIGKILL when ``crash``) and start again on the same port and persistence."""
        if crash:
            self.kill()
        else:
            self.terminate()
        return self.start()

    def stop(self) -> None:
        """Terminate the broker and delete its temp dir; safe to call twice."""
        try:
            self.terminate()
        finally:
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None
