"""Layering proofs (DESIGN.md §4): the core imports no UI library, the UI imports no torch.

Each side's modules are imported one by one in a fresh interpreter, and the first module
to load a forbidden package is named. Modules are enumerated at test time, so new ones are
covered automatically.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tuirecipe"
# integrations/: hooks run inside a user's own Lightning or Hugging Face process; they
# import their framework (optional, and Lightning brings rich), never the console.
NOT_CORE = {"cli", "cli_report", "__main__", "integrations"}


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


_SCAN = """
import importlib, json, sys
watched, modules = sys.argv[1].split(","), sys.argv[2].split(",")
culprits = {}
for name in modules:
    before = {m for m in watched if m in sys.modules}
    importlib.import_module(name)
    new = [m for m in watched if m in sys.modules and m not in before]
    if new:
        culprits[name] = new
print(json.dumps(culprits))
"""


def _culprits(modules: list[str], watched: tuple[str, ...]) -> dict[str, list[str]]:
    """Import ``modules`` one after another in one fresh interpreter; name each module that
    brought in a watched package. None of the watched packages is loaded by anything but
    these imports, so the first module to load one is the one that imports it."""
    result = subprocess.run(
        [sys.executable, "-c", _SCAN, ",".join(watched), ",".join(modules)],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
        timeout=300,
    )
    assert result.returncode == 0, f"an import failed:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_module_lists_are_not_empty():
    assert "tuirecipe.config" in core_modules()
    assert "tuirecipe.ui.app" in ui_modules()


def test_core_modules_import_no_ui_library():
    assert _culprits(core_modules(), ("textual", "rich")) == {}


def test_ui_modules_import_no_torch():
    assert _culprits(ui_modules(), ("torch",)) == {}


def test_the_scan_names_a_culprit():
    # A scan that could not fail would prove nothing: the CLI imports rich when it prints.
    assert _culprits(["tuirecipe.config", "rich.console"], ("rich",)) == {"rich.console": ["rich"]}


def test_no_module_imports_the_encoder_libraries_when_imported():
    # The 'encoders' extra is optional: importing any module, core or UI, must work
    # without it (transformers is imported only when an encoder folder is used).
    watched = ("transformers", "sentence_transformers", "huggingface_hub")
    assert _culprits(core_modules() + ui_modules(), watched) == {}
