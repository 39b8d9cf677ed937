"""``tuirecipe augment-preview`` prints original/augmented pairs (split from
``tests/unit/test_regularize.py``: it starts ``python -m tuirecipe``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_augment_preview_cli(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tuirecipe",
            "augment-preview",
            "-n",
            "3",
            "--set",
            "augment.p_insert=0.2",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("original") == 3 and out.stdout.count("augmented") == 3
