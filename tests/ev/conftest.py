"""Fixtures for the EV wing: the real GB/T 32960 frames from ../shared/reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def reference_frames(reference_dir: Path) -> list[dict[str, object]]:
    """The entries of ``gb32960/frames.json`` (hex, source, standard, bcc_valid)."""
    path = reference_dir / "gb32960" / "frames.json"
    if not path.is_file():
        pytest.skip(f"GB/T 32960 reference frames not found at {path}")
    frames: list[dict[str, object]] = json.loads(path.read_text(encoding="utf-8"))
    return frames


@pytest.fixture(scope="session")
def frames_2016(reference_frames: list[dict[str, object]]) -> list[bytes]:
    """The real 2016-layout frames as bytes (their BCC is valid)."""
    return [
        bytes.fromhex(str(f["hex"])) for f in reference_frames if str(f["hex"]).startswith("2323")
    ]


@pytest.fixture(scope="session")
def frame_2025(reference_frames: list[dict[str, object]]) -> bytes:
    """The one real 2025-layout frame (its BCC does not match)."""
    return next(
        bytes.fromhex(str(f["hex"])) for f in reference_frames if str(f["hex"]).startswith("2424")
    )
