"""Architecture checks.

The layering is stated once: the import-linter contracts in ``pyproject.toml`` (run by
``lint-imports`` in ``make lint``). These tests check that the statement is complete, that
ARCHITECTURE.md's "may import" table and the packages' docstrings say the same, and that
``lint-imports`` really fails on an upward import written as a relative import. Every public
module lists ``__all__``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import v2xcloud

PACKAGE_DIR = Path(v2xcloud.__file__).parent
REPO = Path(__file__).resolve().parents[1]
ARCHITECTURE = REPO.parent / "shared" / "design" / "ARCHITECTURE.md"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

#: the package that sits on top of everything and so has no "may import" contract
TOP = "cli"

#: Where the contracts knowingly allow more than ARCHITECTURE.md's table, and why. The table
#: is read-only here (../shared); these are reported for the table to be brought up to date.
#: The test fails if an entry goes stale (the table or the contracts change), so this stays
#: exact.
TABLE_DEVIATIONS: dict[str, dict[str, str]] = {
    "sim": {
        "geo": "the bench geo-references its SUMO plane with the platform's LocalFrame",
        "gateways": "the bench can drive the platform through its MQTT gateway (sim.via_mqtt)",
    },
    "api": {"geo": "the scripted demo source (api.testing) places its junction with LocalFrame"},
}


def _contracts() -> list[dict[str, Any]]:
    with (REPO / "pyproject.toml").open("rb") as fh:
        config = tomllib.load(fh)
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _packages() -> set[str]:
    return {p.name for p in PACKAGE_DIR.iterdir() if (p / "__init__.py").is_file()}


def _short(module: str) -> str:
    prefix = "v2xcloud."
    assert module.startswith(prefix), module
    return module.removeprefix(prefix)


def contract_allows() -> dict[str, set[str]]:
    """package → the packages of ours its ``may-import-*`` contract lets it import directly."""
    packages = _packages()
    allowed: dict[str, set[str]] = {}
    for contract in _contracts():
        if not str(contract.get("id", "")).startswith("may-import-"):
            continue
        (source,) = contract["source_modules"]
        name = _short(source)
        assert contract["type"] == "forbidden" and contract.get("allow_indirect_imports") is True
        forbidden = {_short(m) for m in contract["forbidden_modules"]}
        assert forbidden <= packages, f"{contract['id']} forbids unknown {forbidden - packages}"
        allowed[name] = packages - forbidden - {name}
    return allowed


def _names(text: str) -> set[str]:
    return set(re.findall(r"`+([a-z_]+)`+", text)) - {"errors"}


def table_allows(markdown: str) -> dict[str, set[str]]:
    """package → "may import" of ARCHITECTURE.md's "Layers and who may import whom" table.

    "nothing of ours" is the empty set; "everything below" is every package in the rows
    above (the table lists the layers bottom-up); "`runtime` interfaces" names ``runtime``.
    """
    section = markdown.split("## Layers and who may import whom", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not re.fullmatch(r"`[a-z_]+`", cells[0]):
            continue
        name, may = cells[0].strip("`"), cells[2]
        if "everything below" in may:
            rows[name] = set(rows)
        elif "nothing of ours" in may:
            rows[name] = set()
        else:
            rows[name] = _names(may)
    return rows


def docstring_allows(package: str) -> str | set[str]:
    """What the package docstring's "May import:" sentence names ("everything" for the top)."""
    doc = importlib.import_module(f"v2xcloud.{package}").__doc__ or ""
    found = re.search(r"May import:(.*?)(?:\.\s|\.$|\n\n)", doc, re.DOTALL)
    assert found, f"v2xcloud.{package} docstring has no 'May import:' sentence"
    if found.group(1).strip().startswith("everything ("):
        return "everything"
    return _names(found.group(1))


# -- the contracts are complete --------------------------------------------------------------


def test_every_package_has_a_may_import_contract_and_a_layer() -> None:
    packages = _packages()
    assert set(contract_allows()) == packages - {TOP}
    (layers,) = [c for c in _contracts() if c["type"] == "layers"]
    in_layers = {m.strip() for layer in layers["layers"] for m in re.split(r"[|:]", layer)}
    assert in_layers == packages


def test_side_wings_are_independent_but_sim_may_drive_the_gateways() -> None:
    wings = {"ev", "sim", "replay", "security", "gateways"}
    independent = set()
    for contract in _contracts():
        if contract["type"] == "independence":
            mods = [_short(m) for m in contract["modules"]]
            independent |= {frozenset((a, b)) for a in mods for b in mods if a != b}
    pairs = {frozenset((a, b)) for a in wings for b in wings if a != b}
    assert pairs - independent == {frozenset(("sim", "gateways"))}


def test_every_apps_module_is_a_helper_or_an_individual_app() -> None:
    by_id = {c.get("id"): c for c in _contracts()}
    helpers = {_short(m) for m in by_id["apps-helpers"]["source_modules"]}
    apps = {_short(m) for m in by_id["apps-independent"]["modules"]}
    assert {_short(m) for m in by_id["apps-helpers"]["forbidden_modules"]} == apps
    on_disk = {
        f"apps.{p.stem}" for p in (PACKAGE_DIR / "apps").glob("*.py") if p.stem != "__init__"
    } | {
        f"apps.{p.name}" for p in (PACKAGE_DIR / "apps").iterdir() if (p / "__init__.py").is_file()
    }
    assert not helpers & apps and helpers | apps == on_disk


def test_layerless_modules_import_no_package() -> None:
    modules = {p.stem for p in PACKAGE_DIR.glob("*.py") if p.stem not in ("__init__", "__main__")}
    (layerless,) = [c for c in _contracts() if c.get("id") == "layerless"]
    assert {_short(m) for m in layerless["source_modules"]} == modules
    assert {_short(m) for m in layerless["forbidden_modules"]} == _packages()


# -- the statements agree ---------------------------------------------------------------------


def test_architecture_table_equals_the_contracts() -> None:
    if not ARCHITECTURE.is_file():
        pytest.skip(f"ARCHITECTURE.md not found at {ARCHITECTURE} (needs ../shared)")
    table = table_allows(ARCHITECTURE.read_text(encoding="utf-8"))
    assert len(table) >= 12, f"table not parsed: {table}"
    contracts = contract_allows()
    for package, may in sorted(table.items()):
        extra = TABLE_DEVIATIONS.get(package, {})
        assert not set(extra) & may, f"{package}: deviation {set(extra) & may} is in the table"
        assert contracts.get(package) == may | set(extra), (
            f"{package}: table says {sorted(may)} (+ known deviations {sorted(extra)}), "
            f"contracts say {sorted(contracts.get(package, set()))}"
        )
    assert set(TABLE_DEVIATIONS) <= set(table)


@pytest.mark.parametrize("package", sorted(_packages()))
def test_package_docstring_states_the_contract(package: str) -> None:
    said = docstring_allows(package)
    if package == TOP:
        assert said == "everything"
    else:
        assert said == contract_allows()[package], f"v2xcloud.{package} docstring vs contract"


def test_architecture_table_parser() -> None:
    text = (
        "## Layers and who may import whom\n\n| package | holds | may import |\n|---|---|---|\n"
        "| `model` | types | nothing of ours |\n| `geo` | frames | `model` |\n"
        "| `runtime` | wiring | everything below |\n| `gateways` | io | `model`, `runtime` "
        "interfaces |\n\n## Next\n| `x` | y | `z` |\n"
    )
    assert table_allows(text) == {
        "model": set(),
        "geo": {"model"},
        "runtime": {"model", "geo"},
        "gateways": {"model", "runtime"},
    }


# -- lint-imports catches an upward relative import --------------------------------------------


def _lint_copy(tmp_path: Path, target: str, source: str) -> subprocess.CompletedProcess[str]:
    """Run lint-imports over a copy of the package with ``source`` appended to the module file
    ``target`` (created if absent), e.g. ``"model/_injected.py"``."""
    src = tmp_path / "src"
    shutil.copytree(
        PACKAGE_DIR,
        src / "v2xcloud",
        ignore=shutil.ignore_patterns("__pycache__", "web"),
    )
    if source:
        path = src / "v2xcloud" / target
        before = path.read_text(encoding="utf-8") if path.exists() else ""
        path.write_text(before + source, encoding="utf-8")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(tmp_path / "pyproject.toml")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
    )


def test_lint_imports_passes_on_the_package_as_it_is(tmp_path: Path) -> None:
    done = _lint_copy(tmp_path, "model/_injected.py", "")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout and "KEPT" in done.stdout


@pytest.mark.parametrize(
    ("target", "source", "broken"),
    [
        # upward in the layers and outside model's "may import" (nothing)
        ("model/_injected.py", "from ..codec import decode\n", ["Layers", "model may import"]),
        ("model/_injected.py", "from .. import twin\n", ["Layers", "model may import"]),
        # apps sit above codec in the layers, but apps may not import codecs
        ("apps/_injected.py", "from ..codec import decode\n", ["apps may import"]),
        # a side wing reaching into another
        ("ev/_injected.py", "from ..sim import scenario\n", ["Side wings", "ev may import"]),
        ("gateways/_injected.py", "from ..ev import server\n", ["Gateways independent"]),
        # a shared app helper importing an individual app, and one app importing another
        ("apps/_signals.py", "from .rlvw import RlvwConfig\n", ["Apps' shared helpers"]),
        ("apps/tjw.py", "from .hlw import HlwConfig\n", ["Individual apps"]),
        # a layerless module importing a layer
        ("bounded.py", "from .model import Bsm\n", ["Layerless"]),
    ],
)
def test_injected_relative_import_breaks_lint_imports(
    tmp_path: Path, target: str, source: str, broken: list[str]
) -> None:
    done = _lint_copy(tmp_path, target, source)
    assert done.returncode != 0, done.stdout
    failed = [line for line in done.stdout.splitlines() if " BROKEN" in line]
    for name in broken:
        assert any(line.startswith(name) for line in failed), (name, done.stdout)
    module = "v2xcloud." + target.removesuffix(".py").replace("/", ".")
    assert module in done.stdout


# -- every public module lists __all__ ---------------------------------------------------------


def _public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="v2xcloud."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module_name", _public_modules())
def test_public_modules_declare_all(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{module_name} has no __all__"
    for name in exported:
        assert hasattr(module, name), f"{module_name}.__all__ names missing {name!r}"
