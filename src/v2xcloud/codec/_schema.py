"""Compile the package's own ASN.1 modules once per process (asn1tools, UPER) and cache them.

Nothing is compiled, and asn1tools is not even imported, until a caller first needs a
message set's specification; compiling takes seconds, so importing ``v2xcloud.codec`` stays
cheap for callers that never decode. The first use compiles under a lock: threads that
decode at once wait for the one compilation instead of each running their own.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from v2xcloud.codec.message_set import MessageSet

__all__ = ["ASN1_DIR", "compiled", "compiled_count", "compiled_files", "schema_files"]

ASN1_DIR = Path(__file__).parent / "asn1"

_FOLDERS: dict[MessageSet, tuple[str, ...]] = {
    MessageSet.CSAE2017: ("csae2017",),
    MessageSet.CSAE2020: ("csae2020", "day2"),
}

_LOCK = threading.Lock()
_COMPILED: dict[MessageSet, Any] = {}
_COMPILED_BY_KEY: dict[str, Any] = {}
_COMPILATIONS = 0


def schema_files(message_set: MessageSet) -> list[Path]:
    """The ``.asn`` files that make up one message set, in a stable order."""
    files: list[Path] = []
    for folder in _FOLDERS[message_set]:
        files.extend(sorted((ASN1_DIR / folder).glob("*.asn")))
    return files


def compiled(message_set: MessageSet) -> Any:
    """The asn1tools UPER specification of one message set (compiled once, on first use)."""
    spec = _COMPILED.get(message_set)
    if spec is not None:
        return spec
    global _COMPILATIONS
    with _LOCK:
        spec = _COMPILED.get(message_set)
        if spec is None:
            import asn1tools  # imported with the first compilation, not with the package

            spec = asn1tools.compile_files([str(p) for p in schema_files(message_set)], "uper")
            _COMPILED[message_set] = spec
            _COMPILATIONS += 1
    return spec


def compiled_files(key: str, files: list[Path], codec: str) -> Any:
    """The asn1tools specification of ``files`` in ``codec`` (``"uper"``, ``"oer"``, ...),
    compiled once per process under ``key`` on first use, like the message sets: other
    packages' own ASN.1 modules (``security``) share this cache, lock and lazy import."""
    spec = _COMPILED_BY_KEY.get(key)
    if spec is not None:
        return spec
    global _COMPILATIONS
    with _LOCK:
        spec = _COMPILED_BY_KEY.get(key)
        if spec is None:
            import asn1tools

            spec = asn1tools.compile_files([str(p) for p in files], codec)
            _COMPILED_BY_KEY[key] = spec
            _COMPILATIONS += 1
    return spec


def compiled_count() -> int:
    """How many schemas this process has compiled (each message set or key at most once)."""
    return _COMPILATIONS
