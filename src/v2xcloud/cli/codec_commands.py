"""``v2xcloud decode`` and ``v2xcloud encode`` (filled in by the message layer)."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Attach the codec subcommands."""
