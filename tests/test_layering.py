"""Architecture checks: imports point downward only, and every package lists ``__all__``."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import v2xcloud

PACKAGE_DIR = Path(v2xcloud.__file__).parent

# package -> packages of ours it may import (besides itself and the layerless ``errors``,
# ``failures`` and ``bounded``)
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "codec": {"model"},
    "geo": {"model"},
    "twin": {"model", "geo"},
    "apps": {"model", "geo", "twin"},
    "security": {"model", "codec"},
    "runtime": {"model", "codec", "geo", "twin", "apps", "security"},
    "gateways": {"model", "codec", "runtime"},
    "store": {"model"},
    "ev": {"model", "runtime", "store"},
    "api": {"model", "runtime", "store", "twin", "geo", "ev"},
    "sim": {"model", "codec", "runtime", "geo", "twin", "apps", "gateways", "store"},
    "replay": {"model", "codec", "runtime", "geo", "twin", "apps"},
}


def _our_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "v2xcloud" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_downward(package: str) -> None:
    allowed = ALLOWED[package] | {package, "errors", "failures", "bounded"}
    for path in (PACKAGE_DIR / package).rglob("*.py"):
        upward = _our_imports(path) - allowed
        assert not upward, f"{path.relative_to(PACKAGE_DIR)} imports {sorted(upward)} (upward)"


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
