"""The CLI's answer to a bad config: one line naming file and key, exit status 2 (split
from ``tests/unit/test_config.py``: it starts ``python -m tuirecipe``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def write(tmp_path: Path, text: str, name: str = "cfg.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_reports_config_error_in_one_line_with_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, "[train]\nbatch_size = 0\n")
    result = subprocess.run(
        [sys.executable, "-m", "tuirecipe", "train", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "train.batch_size" in lines[0] and str(path) in lines[0]
    assert "Traceback" not in result.stderr
