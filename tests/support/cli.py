"""Running the ``tuirecipe`` command as a user does: a child process on this checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import REPO_ROOT


def run_tuirecipe(
    *args: str, cwd: Path, timeout: float = 150, columns: int = 200
) -> subprocess.CompletedProcess:
    """``python -m tuirecipe ARGS`` in ``cwd`` with this checkout on the path; output
    captured as text, tables ``columns`` wide."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-m", "tuirecipe", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
