"""Logging flags on every long-running command, and the one logging configuration."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from v2xcloud.api.server import free_port
from v2xcloud.cli import logs
from v2xcloud.cli.main import build_parser
from v2xcloud.errors import ConfigError

LONG_RUNNING = [
    ("serve",),
    ("demo",),
    ("evaluate",),
    ("replay",),
    ("gb32960", "serve"),
    ("gb32960", "fleet"),
]


def _subparser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


@pytest.mark.parametrize("path", LONG_RUNNING, ids=" ".join)
def test_every_long_running_command_has_the_logging_flags(path: tuple[str, ...]) -> None:
    options = {s for a in _subparser(path)._actions for s in a.option_strings}
    assert {"--log-level", "--log-json"} <= options


def test_log_level_is_checked_and_case_insensitive() -> None:
    parser = build_parser()
    args = parser.parse_args(["gb32960", "fleet", "--vehicles", "1", "--log-level", "DEBUG"])
    assert args.log_level == "debug" and args.log_json is False
    with pytest.raises(SystemExit):
        parser.parse_args(["gb32960", "fleet", "--vehicles", "1", "--log-level", "loud"])
    with pytest.raises(ConfigError, match="loud"):
        logs.configure("loud")


def test_json_lines_carry_level_logger_extra_fields_and_the_traceback() -> None:
    stream = io.StringIO()
    logs.configure("info", json_lines=True, stream=stream)
    log = logging.getLogger("v2xcloud.test_logs")
    try:
        raise KeyError("k")
    except KeyError:
        log.exception("boom %d", 7, extra={"boundary": "app:FCW"})
    log.debug("not written at info")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "ERROR" and record["logger"] == "v2xcloud.test_logs"
    assert record["message"] == "boom 7" and record["boundary"] == "app:FCW"
    assert "KeyError: 'k'" in record["exc"] and record["ts"].endswith("+00:00")
    logs.configure()  # back to the default for the other tests


def test_configuring_twice_keeps_one_handler() -> None:
    logs.configure("info")
    handler = logs.configure("debug", json_lines=True)
    ours = [h for h in logging.getLogger().handlers if type(h) is type(handler)]
    assert ours == [handler] and logging.getLogger().level == logging.DEBUG
    logs.configure()
    assert logging.getLogger().level == logging.WARNING


def test_serve_writes_json_log_lines_to_stderr(tmp_path: Path) -> None:
    """A real ``serve`` process with ``--log-json --log-level info``: uvicorn's start-up records
    arrive as JSON lines through the one configuration."""
    port = free_port()
    env = {**os.environ, "V2XCLOUD_ADMIN_TOKEN": "t" * 24}
    argv = [sys.executable, "-m", "v2xcloud", "serve", "--port", str(port)]
    argv += ["--store", "memory", "--log-json", "--log-level", "info"]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines: queue.Queue[bytes] = queue.Queue()
        stderr = process.stderr
        assert stderr is not None
        threading.Thread(target=lambda: [lines.put(x) for x in stderr], daemon=True).start()
        deadline = time.monotonic() + 30
        records: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            try:
                records.append(json.loads(lines.get(timeout=deadline - time.monotonic())))
            except queue.Empty:
                break
            if "Uvicorn running" in str(records[-1]["message"]):
                break
        assert any("Uvicorn running" in str(r["message"]) for r in records), records
        assert all(r["level"] == "INFO" and r["logger"].startswith("uvicorn") for r in records)
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_rate_limit_filter_bounds_each_kind_and_the_total_and_says_what_it_held() -> None:
    from v2xcloud.cli.logs import RateLimitFilter

    now = [0.0]

    def record(msg: str, arg: object = 1) -> logging.LogRecord:
        return logging.LogRecord("uvicorn.error", logging.WARNING, "", 0, msg, (arg,), None)

    limit = RateLimitFilter(per_kind=3, interval_s=10, clock=lambda: now[0])
    passed = [limit.filter(record("refused %s", i)) for i in range(100)]
    assert passed.count(True) == 3 and limit.suppressed == 97
    now[0] = 10.0  # the next interval: the kind passes again and says what was held back
    again = record("refused %s", "10.0.0.9")
    assert limit.filter(again)
    assert again.getMessage() == "refused 10.0.0.9 [97 similar records suppressed]"

    bounded = RateLimitFilter(
        per_kind=3, interval_s=10, max_kinds=4, max_per_interval=8, clock=lambda: now[0]
    )
    many = [bounded.filter(record(f"kind {k} %s")) for k in range(10)]
    assert many.count(True) == 8  # at most 8 records of all kinds per interval
    assert bounded.kinds_evicted == 6  # at most 4 kinds tracked
