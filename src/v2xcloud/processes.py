"""Child processes the platform starts itself (a lab Mosquitto, NATS servers, edge workers, a
``serve`` under probe): a free port, a readiness probe, the tail of a log, and a stop that never
hangs and never raises.

Stopping is done with ``os.waitpid`` rather than ``Popen.wait``: a signal handler that raises
(the SIGTERM that ends ``cluster up`` becomes ``SystemExit``) can land inside ``Popen.poll`` and
leave that ``Popen``'s wait lock held, after which every ``Popen.wait`` of it times out although
the child has long ended. A child that ignores its signal for ``grace_s`` is killed; one still
there after SIGKILL is logged, not waited for forever.

Like ``errors`` and ``bounded``, this module sits beside the layers: every package may import it.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = [
    "LocalServer",
    "accepts",
    "cpu_seconds",
    "free_port",
    "log_tail",
    "reap",
    "stop",
    "stop_all",
]

logger = logging.getLogger(__name__)

_KILL_GRACE_S = 5.0


class LocalServer(abc.ABC):
    """A server the platform starts on this machine for labs, tests and benchmarks (Mosquitto,
    NATS, PostgreSQL): ``start()`` returns it running, ``stop()`` ends it and removes what it
    made (safe twice); ``with Server(...) as s:`` does both."""

    @abc.abstractmethod
    def start(self) -> Self:
        """Start the server and wait until it accepts clients."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the server and delete its temporary files; safe to call twice."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host``."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def accepts(host: str, port: int, *, timeout_s: float = 0.2) -> bool:
    """Whether a TCP connection to ``host:port`` is accepted now."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def log_tail(path: Path | None, chars: int = 2000) -> str:
    """The last ``chars`` characters of a log file, or ``"(no log)"``."""
    if path is None or not path.exists():
        return "(no log)"
    return path.read_text(errors="replace")[-chars:]


def cpu_seconds(pid: int | None) -> float:
    """CPU seconds (user + system) that process ``pid`` has used so far, from ``/proc``; 0.0
    when there is no such process (or no ``/proc``), so a benchmark can read a child that
    has ended without a guard."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reap(proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for ``proc`` to end (``os.waitpid``, see the module docstring);
    sets ``proc.returncode``. True when it has ended."""
    if proc.returncode is not None:
        return True
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
        except ChildProcessError:  # already reaped (by Popen itself)
            if proc.returncode is None:
                proc.returncode = 0
            return True
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def stop(
    proc: subprocess.Popen[bytes] | None,
    sig: signal.Signals = signal.SIGTERM,
    *,
    grace_s: float = 10.0,
    name: str = "child",
) -> int | None:
    """Send ``sig`` to ``proc`` and reap it; SIGKILL if it is still running after ``grace_s``.
    Returns its exit code (``None`` if even SIGKILL did not end it within 5 s, logged)."""
    if proc is None:
        return None
    stop_all([proc], sig, grace_s=grace_s, name=name)
    return proc.returncode


def stop_all(
    procs: Sequence[subprocess.Popen[bytes]],
    sig: signal.Signals = signal.SIGTERM,
    *,
    grace_s: float = 10.0,
    name: str = "child",
) -> None:
    """``stop`` for several processes at once: all are signalled first, then reaped, so the
    grace periods run side by side. Never raises."""
    for proc in procs:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, sig)
    for proc in procs:
        if reap(proc, grace_s):
            continue
        logger.warning(
            "%s pid %d ignored %s for %s s; killing it", name, proc.pid, sig.name, grace_s
        )
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        if not reap(proc, _KILL_GRACE_S):
            logger.error("%s pid %d did not end after SIGKILL", name, proc.pid)
