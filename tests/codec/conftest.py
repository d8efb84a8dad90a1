"""Codec test fixtures: the published reference schemas, and random valid values of their
types (``_asn1_values.ValueStrategies``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asn1tools
import pytest
from _asn1_values import ValueStrategies

REFERENCE_SETS = ("csae53-2017", "ydt3709-2020", "csae53-2020-day2")  # folders of reference/asn1


@pytest.fixture(scope="session")
def reference_specs(reference_dir: Path) -> dict[str, Any]:
    """The three published references, compiled with asn1tools (UPER)."""
    specs = {}
    for name in REFERENCE_SETS:
        files = sorted(str(p) for p in (reference_dir / "asn1" / name).glob("*.asn"))
        specs[name] = asn1tools.compile_files(files, "uper")
    return specs


@pytest.fixture(scope="session")
def value_strategies(reference_specs: dict[str, Any]) -> dict[str, ValueStrategies]:
    """One ``ValueStrategies`` per reference set, generating from the *reference* types."""
    return {name: ValueStrategies(spec) for name, spec in reference_specs.items()}
