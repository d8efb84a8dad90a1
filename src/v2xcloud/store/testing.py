"""A throwaway PostgreSQL server for tests and benchmarks (``initdb`` + ``pg_ctl``, local only).

Runs the Debian PostgreSQL binaries from ``/usr/lib/postgresql/<version>/bin``; as root the
cluster is owned by and run as the ``postgres`` user (PostgreSQL refuses to run as root).
It listens on 127.0.0.1 on a free port with its socket in a temp dir, so it never touches a
system cluster. ``fsync`` is off: this is for tests, never for data anyone keeps.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from v2xcloud.errors import StoreError
from v2xcloud.processes import LocalServer, free_port

__all__ = ["TempPostgres", "find_postgres_bin"]


def find_postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` that has ``initdb``, or ``None``."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        return None
    return Path(max(found, key=lambda p: int(Path(p).parts[-3]))).parent


class TempPostgres(LocalServer):
    """Start with ``with TempPostgres() as pg: ... pg.dsn``; stopped and deleted on exit.

    Raises ``StoreError`` (with the server log) if the binaries are missing or it fails to start.
    """

    def __init__(self, *, timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s
        self.bin_dir = find_postgres_bin()
        self.port = 0
        self._root: Path | None = None
        self._user: str | None = "postgres" if os.geteuid() == 0 else None

    @property
    def dsn(self) -> str:
        """libpq connection string of the running server."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def _pg(self, tool: str, *args: str) -> None:
        assert self.bin_dir is not None
        result = subprocess.run(
            [str(self.bin_dir / tool), *args],
            user=self._user,
            capture_output=True,
            text=True,
            timeout=self.timeout_s,
            check=False,
        )
        if result.returncode != 0:
            log = self._root / "server.log" if self._root else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise StoreError(f"{tool} failed ({result.returncode}): {result.stderr}{tail}")

    def start(self) -> TempPostgres:
        """initdb into a temp dir and start the server; returns self."""
        if self.bin_dir is None:
            raise StoreError(
                "PostgreSQL binaries not found under /usr/lib/postgresql; run make test"
            )
        self._root = Path(tempfile.mkdtemp(prefix="v2xcloud-pg-"))
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self._root, entry.pw_uid, entry.pw_gid)
        data = self._root / "data"
        self._pg(
            "initdb",
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        self.port = free_port()
        options = (
            f"-p {self.port} -k {self._root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._pg(
            "pg_ctl",
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(self._root / "server.log"),
            "-w",
            "-t",
            str(int(self.timeout_s)),
            "start",
        )
        return self

    def stop(self) -> None:
        """Stop the server (immediate) and delete its files; safe to call twice."""
        if self._root is None:
            return
        try:
            self._pg("pg_ctl", "-D", str(self._root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
