"""Compile the package's own ASN.1 modules once per process (asn1tools, UPER) and cache them."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import asn1tools

from v2xcloud.codec.message_set import MessageSet

ASN1_DIR = Path(__file__).parent / "asn1"

_FOLDERS: dict[MessageSet, tuple[str, ...]] = {
    MessageSet.CSAE2017: ("csae2017",),
    MessageSet.CSAE2020: ("csae2020", "day2"),
}


def schema_files(message_set: MessageSet) -> list[Path]:
    """The ``.asn`` files that make up one message set, in a stable order."""
    files: list[Path] = []
    for folder in _FOLDERS[message_set]:
        files.extend(sorted((ASN1_DIR / folder).glob("*.asn")))
    return files


@cache
def compiled(message_set: MessageSet) -> Any:
    """The asn1tools UPER specification of one message set (compiled on first use)."""
    return asn1tools.compile_files([str(p) for p in schema_files(message_set)], "uper")
