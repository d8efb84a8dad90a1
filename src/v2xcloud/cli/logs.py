"""Logging for the ``v2xcloud`` command: one configuration, plain text or JSON lines.

Every module of the package logs through ``logging.getLogger(__name__)`` and never configures
logging itself; the command line does it once, here. Long-running commands get
``--log-level`` and ``--log-json`` by being created with :func:`add_long_running`, so a new
command gets the same flags (and the same meaning) for free::

    p = add_long_running(sub, "serve", help="...")

:func:`configure` installs one handler on the root logger (writing to stderr); calling it again
replaces that handler instead of adding a second one. With ``json=True`` each record is one
JSON object per line: ``ts`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``,
``message``, ``exc`` (the formatted traceback, when there is one) and any ``extra=`` fields.

The handler is rate-limited (:class:`RateLimitFilter`): of each kind of record (logger, level,
message template) the first ``per_kind`` in an interval are written and the rest counted; the
next record of that kind written says how many were suppressed. An attack that makes the
platform log (bad requests, refused logins, failing accepts) cannot fill the disk.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import IO, Any

__all__ = [
    "LEVELS",
    "JsonFormatter",
    "RateLimitFilter",
    "add_logging_arguments",
    "add_long_running",
    "configure",
    "configure_from_args",
]

LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error", "critical")
"""Accepted ``--log-level`` values, most verbose first."""

_DEFAULT_LEVEL = "warning"
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# attributes every LogRecord has; anything else on a record came from ``extra=``
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record (JSON lines), for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single line of JSON."""
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in out:
                out[key] = value
        return json.dumps(out, ensure_ascii=False, default=str)


class RateLimitFilter(logging.Filter):
    """Let the first ``per_kind`` records of a kind through per ``interval_s``, count the rest.

    A kind is (logger name, level, message template — the ``msg`` before its arguments), so
    ``"connection from %s refused"`` is one kind whatever the address. At most ``max_kinds``
    kinds are tracked (the least recently seen is forgotten, counted in ``kinds_evicted``) and
    at most ``max_per_interval`` records of all kinds pass per interval, so the output is
    bounded whatever the input. When a kind passes again after suppressions, its record says
    how many were suppressed. ``suppressed`` counts every record held back. Thread-safe.

    >>> f = RateLimitFilter(per_kind=2, interval_s=60)
    >>> rec = lambda: logging.LogRecord("x", logging.WARNING, "", 0, "bad %s", ("a",), None)
    >>> [f.filter(rec()) for _ in range(3)], f.suppressed
    ([True, True, False], 1)
    """

    def __init__(
        self,
        *,
        per_kind: int = 20,
        interval_s: float = 60.0,
        max_kinds: int = 1000,
        max_per_interval: int = 2000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.per_kind = per_kind
        self.interval_s = interval_s
        self.max_kinds = max_kinds
        self.max_per_interval = max_per_interval
        self._clock = clock
        self._lock = threading.Lock()
        # kind -> [window, passed in window, suppressed since last pass]
        self._kinds: OrderedDict[tuple[str, int, str], list[int]] = OrderedDict()
        self._window = -1
        self._passed_in_window = 0
        self.suppressed = 0
        self.kinds_evicted = 0

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` is written (it may get a note of earlier suppressions)."""
        kind = (record.name, record.levelno, str(record.msg)[:200])
        with self._lock:
            window = int(self._clock() // self.interval_s)
            if window != self._window:
                self._window, self._passed_in_window = window, 0
            state = self._kinds.pop(kind, None) or [window, 0, 0]
            self._kinds[kind] = state
            if len(self._kinds) > self.max_kinds:
                self._kinds.popitem(last=False)
                self.kinds_evicted += 1
            if state[0] != window:
                state[0], state[1] = window, 0
            if state[1] >= self.per_kind or self._passed_in_window >= self.max_per_interval:
                state[2] += 1
                self.suppressed += 1
                return False
            state[1] += 1
            self._passed_in_window += 1
            held, state[2] = state[2], 0
        if held:
            record.msg = f"{record.getMessage()} [{held} similar records suppressed]"
            record.args = None
        return True


class _Handler(logging.StreamHandler[IO[str]]):
    """The one handler :func:`configure` owns (so a second call replaces it).

    Without an explicit stream it writes to whatever ``sys.stderr`` is at the time of the
    record, so a replaced stderr (a test capturing it, a daemon redirecting it) is followed.
    """

    def __init__(self, stream: IO[str] | None) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self._follow_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record (to the current ``sys.stderr`` unless a stream was given)."""
        if self._follow_stderr:
            self.stream = sys.stderr
        super().emit(record)


def configure(
    level: str = _DEFAULT_LEVEL, *, json_lines: bool = False, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every logger's records at ``level`` and above to ``stream`` (default stderr).

    Raises :class:`~v2xcloud.errors.ConfigError` for a level not in :data:`LEVELS`.
    """
    from v2xcloud.errors import ConfigError

    if level.lower() not in LEVELS:
        raise ConfigError(f"log level {level!r}: use one of {', '.join(LEVELS)}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
        old.close()
    handler = _Handler(stream)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(_TEXT_FORMAT))
    handler.addFilter(RateLimitFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    return handler


def configure_from_args(args: argparse.Namespace) -> logging.Handler:
    """:func:`configure` from parsed arguments (defaults where a command has no log flags)."""
    return configure(
        getattr(args, "log_level", _DEFAULT_LEVEL), json_lines=getattr(args, "log_json", False)
    )


def add_logging_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--log-level`` and ``--log-json`` to ``parser``; returns it."""
    group = parser.add_argument_group("logging")
    group.add_argument(
        "--log-level",
        choices=LEVELS,
        default=_DEFAULT_LEVEL,
        type=str.lower,
        help=f"least severe records written to stderr (default: {_DEFAULT_LEVEL})",
    )
    group.add_argument(
        "--log-json",
        action="store_true",
        help="write log records as JSON lines (ts, level, logger, message, exc)",
    )
    return parser


def add_long_running(
    sub: argparse._SubParsersAction, name: str, **kwargs: Any
) -> argparse.ArgumentParser:
    """``sub.add_parser(name, **kwargs)`` for a long-running command: with the logging flags."""
    parser: argparse.ArgumentParser = sub.add_parser(name, **kwargs)
    return add_logging_arguments(parser)
