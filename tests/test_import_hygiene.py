"""Layering proofs (DESIGN.md §4): the core imports no UI library, the UI imports no torch.

Each module is imported in a fresh interpreter, so one test's imports cannot hide
another's. Modules are enumerated at test time, so new ones are covered automatically.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tuirecipe"
NOT_CORE = {"cli", "cli_report", "__main__"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(under: Path) -> list[str]:
    return sorted(_module_name(p) for p in under.rglob("*.py") if "__pycache__" not in p.parts)


def core_modules() -> list[str]:
    out = []
    for name in _modules(PACKAGE):
        rest = name.split(".")[1:]
        if rest and (rest[0] == "ui" or rest[0] in NOT_CORE):
            continue
        out.append(name)
    return out


def ui_modules() -> list[str]:
    return _modules(PACKAGE / "ui")


def _loaded_after_import(module: str, watched: tuple[str, ...]) -> list[str]:
    code = ("import importlib, sys\n"
            f"importlib.import_module({module!r})\n"
            f"print(','.join(m for m in {watched!r} if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=PACKAGE.parent, timeout=120)
    assert result.returncode == 0, f"importing {module} failed:\n{result.stderr[-2000:]}"
    return [m for m in result.stdout.strip().split(",") if m]


def test_the_module_lists_are_not_empty():
    assert "tuirecipe.config" in core_modules()
    assert "tuirecipe.ui.app" in ui_modules()


@pytest.mark.parametrize("module", core_modules())
def test_core_module_imports_no_ui_library(module):
    assert _loaded_after_import(module, ("textual", "rich")) == []


@pytest.mark.parametrize("module", ui_modules())
def test_ui_module_imports_no_torch(module):
    assert _loaded_after_import(module, ("torch",)) == []
