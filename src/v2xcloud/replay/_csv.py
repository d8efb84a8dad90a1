"""Shared CSV plumbing for the recording readers: header lookup and row issues."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import msgspec

from v2xcloud.errors import ReplayError

__all__ = ["RowIssue", "read_rows"]


class RowIssue(msgspec.Struct, frozen=True, kw_only=True):
    """A row a reader skipped: which file, which line (1-based, header is line 1), and why."""

    file: str
    line: int
    reason: str


def read_rows(
    path: Path, *, required: tuple[str, ...]
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Open ``path`` as CSV; return the header and an iterator of ``(line, cells)``.

    Header names are matched case-insensitively and stripped. Raises ``ReplayError`` when the
    file is missing or the header lacks one of ``required`` (the message names the columns).
    """
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ReplayError(f"{path}: cannot open ({exc.strerror})") from exc
    reader = csv.reader(fh)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration as exc:
        fh.close()
        raise ReplayError(f"{path}: empty file, expected a CSV header") from exc
    missing = [name for name in required if name not in header]
    if missing:
        fh.close()
        raise ReplayError(
            f"{path}: header lacks column(s) {missing}; found {header}. "
            "Expected INTERACTION-style names."
        )

    def rows() -> Iterator[tuple[int, list[str]]]:
        with fh:
            yield from enumerate(reader, start=2)

    return header, rows()
