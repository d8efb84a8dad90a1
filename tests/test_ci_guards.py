"""CI cannot run without the reference data: ``.ci/run`` refuses, and a reference test's skip
fails under ``CI=true`` (tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ci_run_refuses_without_reference_data(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(REPO / ".ci" / "run", repo / ".ci" / "run")
    (repo / "Makefile").write_text("test:\n\t@echo MAKE-TEST-RAN\n", encoding="utf-8")
    done = subprocess.run(
        ["bash", str(repo / ".ci" / "run")], capture_output=True, text=True, timeout=30
    )
    assert done.returncode != 0
    assert "reference data not found" in done.stderr
    assert "MAKE-TEST-RAN" not in done.stdout
    (tmp_path / "shared" / "reference").mkdir(parents=True)  # now present: make test runs
    done = subprocess.run(
        ["bash", str(repo / ".ci" / "run")], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "MAKE-TEST-RAN" in done.stdout


def _run_reference_test(
    tmp_path: Path, ci: str, body: str = "    assert reference_dir.is_dir()\n"
) -> subprocess.CompletedProcess[str]:
    tests = tmp_path / "repo" / "tests"
    tests.mkdir(parents=True)
    shutil.copy(REPO / "tests" / "conftest.py", tests / "conftest.py")
    (tests / "test_needs_reference.py").write_text(
        "import pytest\n\ndef test_reads(reference_dir):\n" + body, encoding="utf-8"
    )
    env = {**os.environ, "CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tests.parent,
    )


def test_reference_skip_is_a_failure_in_ci(tmp_path: Path) -> None:
    done = _run_reference_test(tmp_path, ci="true")  # tmp/shared/reference is absent
    assert done.returncode == 1, done.stdout  # a failure (in fixture setup: an error)
    assert " skipped" not in done.stdout.splitlines()[-1]
    assert "reference-data test skipped in CI" in done.stdout


def test_reference_skip_stays_a_skip_outside_ci(tmp_path: Path) -> None:
    done = _run_reference_test(tmp_path, ci="")
    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout


def test_another_skip_of_a_reference_test_stays_a_skip_in_ci(tmp_path: Path) -> None:
    (tmp_path / "shared" / "reference").mkdir(parents=True)  # the data is there
    done = _run_reference_test(tmp_path, ci="true", body="    pytest.skip('no PostgreSQL')\n")
    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout
