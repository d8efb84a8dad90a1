"""Waiting in tests for something that happens in another thread or process: ``until`` polls a
predicate, ``until_json`` polls an HTTP endpoint of a running ``serve``."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


def until(predicate: Callable[[], T], timeout_s: float, step_s: float = 0.05) -> T | None:
    """Call ``predicate`` every ``step_s`` until it returns something true, and return that;
    ``None`` when ``timeout_s`` passes first."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() >= deadline:
            return None
        time.sleep(step_s)


def until_json(
    url: str,
    check: Callable[[Any], bool],
    timeout_s: float = 30.0,
    *,
    process: subprocess.Popen[Any] | None = None,
) -> Any:
    """GET ``url`` every 0.2 s until its JSON answer passes ``check``; returns that answer.
    Raises ``AssertionError`` with the last answer after ``timeout_s``, or at once when
    ``process`` (the server) has exited."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}; last {last}")
        try:
            answer = httpx.get(url, timeout=2)
            last = answer.json()
            if answer.status_code == 200 and check(last):
                return last
        except (httpx.TransportError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url}: never satisfied; last answer {str(last)[:1500]}")
