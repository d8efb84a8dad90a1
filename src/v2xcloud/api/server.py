"""Run the API with uvicorn on a background thread (tests, demos), with the server limits of
its settings (``api.limits``; the CLI's ``serve`` uses the same ``server_config``)."""

from __future__ import annotations

import threading
import time

from fastapi import FastAPI

from v2xcloud.api.limits import Server, ServerLimits, server_config
from v2xcloud.errors import ConfigError
from v2xcloud.processes import free_port

__all__ = ["ServerThread", "free_port"]


class ServerThread:
    """uvicorn serving ``app`` on ``host:port`` from a daemon thread; ``url`` once started.

    >>> # with ServerThread(app, port=free_port()) as server: httpx.get(server.url + "/api/health")
    """

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        settings = getattr(app.state, "settings", None)
        limits = settings.server if settings is not None else ServerLimits()
        config, self.guard = server_config(app, host=host, port=self.port, limits=limits)
        app.state.server_guard = self.guard
        self._server = Server(config, limits)
        self._thread = threading.Thread(target=self._server.run, name="api-server", daemon=True)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8123``."""
        return f"http://{self.host}:{self.port}"

    def start(self, *, timeout_s: float = 20.0) -> ServerThread:
        """Start and wait until the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"API server did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
