"""Entry point of the ``v2xcloud`` command.

Each subcommand lives in its own module exposing ``register(subparsers)``; the module's
``register`` attaches a parser whose ``func`` default receives the parsed arguments and
returns the exit code. Modules are listed once, in ``_COMMAND_MODULES``. A long-running
command is created with :func:`v2xcloud.cli.logs.add_long_running`, which gives it
``--log-level`` and ``--log-json``; :func:`main` configures logging from them (warnings to
stderr for the other commands) before running the command.

Exit status, for every command: 0 (``EXIT_OK``) all went fine; 1 (``EXIT_FAILED``) something
failed or was rejected; 2 (``EXIT_USAGE``) usage or configuration error (``ConfigError``, and
argparse's own usage errors).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Sequence

from v2xcloud import __version__
from v2xcloud.cli import logs
from v2xcloud.errors import ConfigError, V2xCloudError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

EXIT_OK = 0
"""Everything went fine."""
EXIT_FAILED = 1
"""The command ran but something failed or was rejected (e.g. ``decode``: a frame)."""
EXIT_USAGE = 2
"""Usage or configuration error: a bad option or value, an unreadable input (``ConfigError``)."""

_COMMAND_MODULES: tuple[str, ...] = (
    "v2xcloud.cli.codec_commands",
    "v2xcloud.cli.gb32960_commands",
    "v2xcloud.cli.evaluate_commands",
    "v2xcloud.cli.demo_commands",
    "v2xcloud.cli.devices_commands",
    "v2xcloud.cli.replay_commands",
    "v2xcloud.cli.serve_commands",
    "v2xcloud.cli.cluster_commands",
    "v2xcloud.cli.security_commands",
    "v2xcloud.cli.audit_commands",
    "v2xcloud.cli.export_commands",
    "v2xcloud.cli.token_commands",
    "v2xcloud.cli.worker_commands",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="v2xcloud", description="Open vehicle-road-cloud platform (C-V2X and GB/T 32960)."
    )
    parser.add_argument("--version", action="version", version=f"v2xcloud {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _exit_on_sigterm() -> None:
    """Make SIGTERM (``kill PID``, a service manager stopping us) unwind like Ctrl-C does, so
    every ``finally`` and context manager runs: a broker, database or SUMO the command started is
    stopped by pid instead of being orphaned. Only from the main thread (signal's own rule)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def _terminate(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    _exit_on_sigterm()
    try:
        logs.configure_from_args(args)
        return int(args.func(args))
    except ConfigError as exc:  # like argparse's own usage errors
        print(f"v2xcloud: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except V2xCloudError as exc:
        print(f"v2xcloud: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
