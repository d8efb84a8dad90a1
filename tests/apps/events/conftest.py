"""Make the scripted road-side scene helpers of ``tests/apps`` importable here."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
