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

Without ``password_file`` the listener allows anonymous clients: for lab and test use only.

As root, the temp dir is handed to the ``mosquitto`` user, which the broker drops to.

>>> "max_queued_messages 1000000" in Mosquitto(port=1883).config_text()
True
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from v2xcloud.errors import GatewayError

__all__ = ["MOSQUITTO_BIN", "Mosquitto", "find_mosquitto"]

logger = logging.getLogger(__name__)

MOSQUITTO_BIN = "/usr/sbin/mosquitto"


def find_mosquitto() -> str | None:
    """Path of the Mosquitto binary (``/usr/sbin/mosquitto`` or on ``PATH``), or None."""
    if os.access(MOSQUITTO_BIN, os.X_OK):
        return MOSQUITTO_BIN
    return shutil.which("mosquitto")


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class Mosquitto:
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
        auth = (
            f"allow_anonymous false\npassword_file {self.password_file}\n"
            if self.password_file is not None
            else "allow_anonymous true\n"
        )
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

    def _prepare(self) -> Path:
        root = Path(tempfile.mkdtemp(prefix="v2xcloud-mosquitto-"))
        (root / "persistence").mkdir()
        if os.geteuid() == 0:  # the broker drops to the mosquitto user; it must own its files
            try:
                entry = pwd.getpwnam("mosquitto")
            except KeyError:
                entry = None
            if entry is not None:
                for path in (root, root / "persistence"):
                    os.chown(path, entry.pw_uid, entry.pw_gid)
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
            self.port = _free_port(self.host)
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
            if _accepts(self.host, self.port):
                return
            time.sleep(0.02)
        self._terminate(signal.SIGKILL)
        raise GatewayError(
            f"mosquitto did not accept on {self.url} within {self.timeout_s} s: {self._log_tail()}"
        )

    def _log_tail(self) -> str:
        path = self.log_path
        if path is None or not path.exists():
            return "(no log)"
        return path.read_text(errors="replace")[-2000:]

    def _terminate(self, sig: signal.Signals, *, grace_s: float = 5.0) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, sig)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                logger.warning("mosquitto pid %d ignored %s; sending SIGKILL", proc.pid, sig.name)
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=grace_s)
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

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
