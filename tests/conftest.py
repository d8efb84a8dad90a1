"""Shared fixtures: where the third-party reference data lives.

Outside CI a test that needs ``../shared/reference`` skips with the reason when it is absent.
In CI (environment ``CI`` set to anything but ``""``/``0``/``false``, as ``.ci/run`` does) such a
skip is turned into a failure, so the reference-data tests can never be skipped silently.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference"


def in_ci() -> bool:
    """True when the environment says this is a CI run (``CI=true``, ``CI=1``, ...)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/reference``; tests that need it skip with the reason when it is absent
    (and fail in CI, see the module docstring)."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip(
            f"reference data not found at {REFERENCE_DIR} (needs ../shared beside the repo)"
        )
    return REFERENCE_DIR


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """In CI, a test that uses ``reference_dir`` and skipped fails instead, with the reason."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.skipped and in_ci() and "reference_dir" in getattr(item, "fixturenames", ()):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"reference-data test skipped in CI ({reason}); CI must run it: put the reference "
            f"data at {REFERENCE_DIR}"
        )
