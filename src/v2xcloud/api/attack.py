"""The attacks of the access issue, as load generators for tests and ``benchmarks/api_attack.py``.

- ``big_body``: a request declaring a huge body (100 MB of JSON to ``POST /api/events``),
  sent as fast as the server takes it; measures how long the answer took and how much of the
  body the server let in before it answered and closed.
- ``Slowloris``: many connections that each send part of a request's headers and then one
  more header line every ``trickle_s``, never finishing; a closed one is opened again.
- ``probe``: ``/api/health`` latencies on a fresh connection each time (what a load balancer
  sees).
- ``serve_process``: ``v2xcloud serve --scripted`` in a child process with a given file limit
  and its stderr in a file (for RSS, log volume and file-descriptor limits of its own).

Only ever point these at a server you run yourself on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import msgspec

from v2xcloud import processes
from v2xcloud.errors import ConfigError

__all__ = [
    "RETRY_BACKOFF_S",
    "BigBody",
    "Slowloris",
    "big_body",
    "get_status",
    "percentile",
    "probe",
    "rss_kib",
    "serve_process",
    "summary",
]


class BigBody(msgspec.Struct, frozen=True, kw_only=True):
    """What ``big_body`` saw: the status line's code (0: none), seconds to it, bytes sent."""

    status: int
    seconds: float
    bytes_sent: int


def big_body(
    host: str,
    port: int,
    *,
    size: int,
    path: str = "/api/events",
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 20.0,
) -> BigBody:
    """Send a request declaring ``size`` bytes of JSON body and push it until the server
    answers (or closes, or ``timeout_s``). When the server closes while the body is still
    coming, its answer may already be in this side's receive buffer: it is read before
    giving up (a close with unread data resets the connection, and the send that meets the
    reset came after the answer)."""
    head = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json"]
    head += [f"Content-Length: {size}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    chunk = b"[" + b"1," * (512 * 1024) + b"1]"
    began = time.monotonic()
    sent = 0
    answer = b""
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sock.setblocking(False)
        while time.monotonic() - began < timeout_s and b"\r\n" not in answer:
            try:
                got = sock.recv(65536)
            except BlockingIOError:
                got = None
            except OSError:
                break  # reset: nothing more will come
            if got == b"":
                break  # closed
            answer += got or b""
            if b"\r\n" in answer:
                break
            if sent < size:
                try:
                    sent += sock.send(chunk[: size - sent])
                except BlockingIOError:
                    time.sleep(0.001)
                except OSError:  # the server closed: it will not read the rest
                    answer += _rest(sock)
                    break
            else:
                time.sleep(0.001)
    status = int(answer.split(b" ", 2)[1]) if b"\r\n" in answer else 0
    return BigBody(status=status, seconds=time.monotonic() - began, bytes_sent=sent)


def _rest(sock: socket.socket) -> bytes:
    """What is still readable on a connection the peer has closed or reset."""
    out = b""
    with contextlib.suppress(OSError):
        while got := sock.recv(65536):
            out += got
    return out


class Slowloris:
    """``connections`` half-sent requests kept open (re-opened when closed) on a thread."""

    def __init__(self, host: str, port: int, *, connections: int, trickle_s: float = 1.0) -> None:
        self.host, self.port = host, port
        self.connections = connections
        self.trickle_s = trickle_s
        self.opened = 0
        self.closed_by_server = 0
        self.connect_failures = 0
        self._socks: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slowloris", daemon=True)

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=1.0)
            sock.sendall(f"GET /api/health HTTP/1.1\r\nHost: {self.host}\r\n".encode())
        except OSError:
            self.connect_failures += 1
            return None
        self.opened += 1
        return sock

    def _run(self) -> None:
        while not self._stop.is_set():
            alive: list[socket.socket] = []
            for sock in self._socks:
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                    alive.append(sock)
                except OSError:
                    self.closed_by_server += 1
                    sock.close()
            while len(alive) < self.connections and not self._stop.is_set():
                fresh = self._open()
                if fresh is None:
                    break
                alive.append(fresh)
            self._socks = alive
            self._stop.wait(self.trickle_s)

    def __enter__(self) -> Slowloris:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self._socks:
            sock.close()


#: pause before each reconnect (s), as an HTTP client's retry back-off (urllib3's pattern)
RETRY_BACKOFF_S = (0.1, 0.3)


def get_status(host: str, port: int, path: str, timeout_s: float = 5.0, *, retries: int = 2) -> int:
    """``GET path`` on a new connection: the status code, 0 when it failed.

    A connection the server closes or resets before any response byte is tried again, up to
    ``retries`` times after a short back-off (``RETRY_BACKOFF_S``), as browsers and HTTP
    clients do for an idempotent request (a server shedding connections may close one that
    was a real client's)."""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S)) - 1])
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            return response.status
        except (ConnectionResetError, BrokenPipeError):  # incl. http.client.RemoteDisconnected
            if attempt == retries:
                return 0
        except OSError:  # refused, timed out
            return 0
        finally:
            conn.close()
    return 0


def probe(
    host: str, port: int, *, duration_s: float, period_s: float = 0.05, path: str = "/api/health"
) -> list[float | None]:
    """``GET path`` on a new connection every ``period_s`` for ``duration_s``: latency in ms
    (reconnects after a connection closed unanswered included, see ``get_status``), ``None``
    for a failure (timeout 5 s, refused, closed three times, not 200)."""
    found: list[float | None] = []
    end = time.monotonic() + duration_s
    while time.monotonic() < end:
        began = time.perf_counter()
        ok = get_status(host, port, path) == 200
        found.append((time.perf_counter() - began) * 1000 if ok else None)
        time.sleep(period_s)
    return found


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank) of ``values``."""
    if not values:
        raise ConfigError("percentile of no values")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def rss_kib(pid: int) -> int:
    """Resident set size of process ``pid`` in KiB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ConfigError(f"no VmRSS for pid {pid}")


@contextlib.contextmanager
def serve_process(
    port: int,
    *,
    log_path: Path,
    nofile: int | None = None,
    env: Mapping[str, str] | None = None,
    log_level: str = "info",
) -> Iterator[subprocess.Popen[bytes]]:
    """``v2xcloud serve --scripted --store memory`` on 127.0.0.1:``port`` with ``nofile`` as
    its file limit and stderr to ``log_path``; stopped (SIGTERM, then kill) on exit."""

    def limit_files() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "v2xcloud",
                "serve",
                "--scripted",
                "--store",
                "memory",
                "--http",
                f"127.0.0.1:{port}",
                "--log-level",
                log_level,
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, **(env or {})},
            preexec_fn=limit_files,
        )
        try:
            deadline = time.monotonic() + 60
            while get_status("127.0.0.1", port, "/api/health", 1.0) != 200:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise ConfigError(f"serve did not start on port {port}; see {log_path}")
                time.sleep(0.1)
            yield proc
        finally:
            processes.stop(proc, grace_s=15.0, name="serve")


def summary(latencies: list[float | None]) -> dict[str, float]:
    """n, failures, p50, p99 and max of probe latencies (ms)."""
    ok = [v for v in latencies if v is not None]
    return {
        "n": float(len(latencies)),
        "failed": float(len(latencies) - len(ok)),
        "p50_ms": statistics.median(ok) if ok else float("nan"),
        "p99_ms": percentile(ok, 99) if ok else float("nan"),
        "max_ms": max(ok) if ok else float("nan"),
    }
