"""Packaging says what is true: every imported library declared, one version, themes shipped
inside the package, Python 3.11 (tomllib) everywhere."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import tuirecipe
from tuirecipe.ui.themes import builtin_theme_dir, discover_themes

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
# An import name that differs from the distribution that provides it.
DISTRIBUTION = {
    "sklearn": "scikit-learn",
    "textual_plotext": "textual-plotext",
    "tomli_w": "tomli-w",
}


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower()


def _third_party_imports() -> dict[str, str]:
    """Top-level module imported → first file importing it, over the whole package."""
    found: dict[str, str] = {}
    for path in sorted((REPO / "tuirecipe").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "tuirecipe" and top not in sys.stdlib_module_names:
                    found.setdefault(top, str(path.relative_to(REPO)))
    return found


def test_every_imported_library_is_declared() -> None:
    declared = {_requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
    # The framework hooks (tuirecipe/integrations, TensorBoard logs) import libraries of
    # the optional extra "frameworks".
    optional = {
        _requirement_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["frameworks"]
    }
    imported = _third_party_imports()
    missing = {
        module: where
        for module, where in imported.items()
        if DISTRIBUTION.get(module, module).lower() not in declared | optional
    }
    assert missing == {}
    # And nothing declared that the code does not use: plotext is the API the plots call
    # through textual-plotext's Plot (plt.plot, plt.title, …).
    used = {DISTRIBUTION.get(m, m).lower() for m in imported} | {"plotext"}
    assert declared - used == set()


def test_python_311_and_tomllib_without_a_fallback() -> None:
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    assert "tomli" not in _third_party_imports()
    # reading is tomllib's; tomli-w (writing) is a different package
    names = {_requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert "tomli" not in names


def test_the_version_is_written_once() -> None:
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "tuirecipe.__version__"
    }
    assert re.fullmatch(r"\d+\.\d+\.\d+", tuirecipe.__version__)


def test_themes_live_in_the_package_and_are_found_as_resources() -> None:
    assert not (REPO / "themes").exists()
    assert "data-files" not in PYPROJECT["tool"]["setuptools"]
    assert "themes/*.toml" in PYPROJECT["tool"]["setuptools"]["package-data"]["tuirecipe"]
    folder = builtin_theme_dir()
    assert Path(str(folder)).resolve() == Path(tuirecipe.__file__).resolve().parent / "themes"
    themes, problems = discover_themes([folder])
    assert problems == [] and {"dark", "light", "ansi16"} <= set(themes)


@pytest.mark.slow
def test_the_wheel_carries_the_themes_and_the_version(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    source = tmp_path / "src"
    source.mkdir()
    shutil.copytree(
        REPO / "tuirecipe", source / "tuirecipe", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["-w", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("tuirecipe-*.whl")
    assert wheel.name.startswith(f"tuirecipe-{tuirecipe.__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    for theme in ("dark", "light", "ansi16"):
        assert f"tuirecipe/themes/{theme}.toml" in names
    assert "tuirecipe/ui/app.tcss" in names
    assert not [n for n in names if "/share/" in n or n.startswith("themes/")]
