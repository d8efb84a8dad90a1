"""Mutation testing of the decision modules, one module at a time, and a kill-rate table.

``make mutation`` runs this. For each module it prepares ``build/mutation/<name>/`` (a
``pyproject.toml`` whose ``[tool.mutmut]`` mutates only that module and selects only its own
test files, plus links to ``src`` and ``tests``), runs ``mutmut run`` there from scratch (mutmut
3 copies the tree into ``mutants/``; ``--resume`` keeps its earlier verdicts, which is only
right when the tests did not change), then reads mutmut's per-file result files and prints one
row per module::

    module                       mutants  killed  survived  other  kill %
    apps/hysteresis.py                87      80         7      0    92.0

"Killed" counts mutants a test failed on (or that timed out, or crashed the test process);
"survived" those every selected test passed with; "other" are mutants no selected test
reaches ("no tests") or that were skipped. The kill rate is killed / mutants, so an unreached
mutant counts against it. ``--list-survivors`` prints each survivor's diff.

Usage::

    python tools/mutation.py [--only hysteresis,grid] [--list-survivors] [--min-kill 85]

The exit status is 1 when a module's kill rate is below ``--min-kill``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MODULES", "ModuleResult", "main", "summarise"]

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutation"

#: module under test -> the test files that are its own (the only ones run per mutant).
MODULES: dict[str, tuple[str, ...]] = {
    "apps/hysteresis.py": ("tests/apps/test_hysteresis.py",),
    "apps/kinematics.py": ("tests/apps/test_kinematics.py",),
    "apps/_select.py": ("tests/apps/test_select.py",),
    "geo/grid.py": ("tests/geo/test_grid.py",),
    "geo/relevance.py": ("tests/geo/test_relevance.py",),
    "twin/relevance.py": ("tests/twin/test_relevance.py",),
    "ev/alarms.py": ("tests/ev/test_alarms.py", "tests/ev/test_charging.py"),
    "ev/anomaly.py": ("tests/ev/test_anomaly.py",),
}

# mutmut's statuses folded to three: a test noticed the mutant, none did, or none ran it.
_KILLED = {"killed", "timeout", "segfault", "caught by type check"}
# the pytest settings the selected tests need (importlib mode, helper folders on the path)
_PYTEST_INI = """\
[tool.pytest.ini_options]
pythonpath = ["tests/apps", "tests/apps/events"]
addopts = "-ra --strict-markers --import-mode=importlib -p no:cacheprovider"
markers = ["slow: long-running tests"]
"""


@dataclass(frozen=True, slots=True)
class ModuleResult:
    """Mutmut's verdicts for one module."""

    module: str
    mutants: int
    killed: int
    survived: int
    other: int
    survivors: tuple[str, ...]

    @property
    def kill_pct(self) -> float:
        """Killed mutants as a percentage of all mutants (0 when there are none)."""
        return 100.0 * self.killed / self.mutants if self.mutants else 0.0


def _slug(module: str) -> str:
    return module.removesuffix(".py").replace("/", "_").lstrip("_")


def _prepare(module: str, tests: tuple[str, ...]) -> Path:
    """A work directory whose config mutates ``module`` and runs only ``tests``."""
    work = WORK / _slug(module)
    work.mkdir(parents=True, exist_ok=True)
    for name in ("src", "tests"):
        link = work / name
        if not link.exists():
            link.symlink_to(ROOT / name, target_is_directory=True)
    selection = ", ".join(json.dumps(t) for t in tests)
    config = (
        "[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f'only_mutate = ["src/v2xcloud/{module}"]\n'
        f"pytest_add_cli_args_test_selection = [{selection}]\n"
        "use_git_change_detection = false\n"
        "\n" + _PYTEST_INI
    )
    (work / "pyproject.toml").write_text(config)
    return work


def _mutmut() -> str:
    found = shutil.which("mutmut", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("mutmut is not installed in this environment (pip install -e '.[dev]')")
    return found


def _run(module: str, tests: tuple[str, ...], *, max_children: int, resume: bool) -> Path:
    work = _prepare(module, tests)
    if not resume:  # mutmut keeps verdicts per function and would not see changed tests
        shutil.rmtree(work / "mutants", ignore_errors=True)
    env = dict(os.environ, PYTHONPATH="")
    cmd = [_mutmut(), "run", "--max-children", str(max_children)]
    print(f"== mutmut run: {module} with {', '.join(tests)}", flush=True)
    proc = subprocess.run(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    tail = proc.stdout.decode(errors="replace").replace("\r", "\n").strip().splitlines()[-5:]
    for line in tail:
        print(f"   {line}")
    return work


def summarise(module: str, work: Path) -> ModuleResult:
    """Read mutmut's ``.meta`` result file of ``module`` under ``work``."""
    meta = work / "mutants" / "src" / "v2xcloud" / f"{module}.meta"
    if not meta.is_file():
        return ModuleResult(module, 0, 0, 0, 0, ())
    from mutmut.stats import status_by_exit_code

    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    status = {k: status_by_exit_code[c] for k, c in codes.items()}
    killed = sum(1 for s in status.values() if s in _KILLED)
    survivors = tuple(sorted(k for k, s in status.items() if s == "survived"))
    other = len(codes) - killed - len(survivors)
    return ModuleResult(module, len(codes), killed, len(survivors), other, survivors)


def _print_table(results: list[ModuleResult]) -> None:
    print(f"{'module':<24} {'mutants':>7} {'killed':>7} {'survived':>8} {'other':>6} {'kill %':>7}")
    for r in results:
        print(
            f"{r.module:<24} {r.mutants:>7} {r.killed:>7} {r.survived:>8} {r.other:>6}"
            f" {r.kill_pct:>7.1f}"
        )


def _show_survivors(result: ModuleResult, work: Path) -> None:
    for name in result.survivors:
        proc = subprocess.run(
            [_mutmut(), "show", name], cwd=work, stdout=subprocess.PIPE, text=True, check=False
        )
        print(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    """Run the selected modules one after the other and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated module name parts")
    parser.add_argument("--list-survivors", action="store_true")
    parser.add_argument("--summary-only", action="store_true", help="do not run, only report")
    parser.add_argument("--min-kill", type=float, default=85.0)
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument(
        "--resume", action="store_true", help="keep mutmut's earlier verdicts (same tests only)"
    )
    args = parser.parse_args(argv)
    wanted = [w for w in args.only.split(",") if w]
    chosen = {m: t for m, t in MODULES.items() if not wanted or any(w in m for w in wanted)}
    results = []
    for module, tests in chosen.items():
        work = (
            _prepare(module, tests)
            if args.summary_only
            else _run(module, tests, max_children=args.max_children, resume=args.resume)
        )
        result = summarise(module, work)
        results.append(result)
        if args.list_survivors:
            _show_survivors(result, work)
    _print_table(results)
    low = [r.module for r in results if r.kill_pct < args.min_kill]
    if low:
        print(f"below {args.min_kill:.0f} % killed: {', '.join(low)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
