"""``tuirecipe data`` leaves without tearing the interpreter down (cli.entry): everything it
printed still arrives whole, through a pipe and into a reader that stops early, with the
exit status the command returned."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support import REPO_ROOT


def _data_file(folder: Path, rows: int = 3000) -> None:
    lines = ["text,label"] + [
        f'"row {i} says {"good" if i % 2 else "bad"} things, [/] and [b]markup[/b]",{i % 2}'
        for i in range(rows)
    ]
    (folder / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "config.toml").write_text('[data]\npath = "data.csv"\n', encoding="utf-8")


def _env(folder: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TUIRECIPE_CACHE": str(folder / "c")}


def test_the_whole_json_arrives_and_the_status_is_kept(tmp_path: Path) -> None:
    _data_file(tmp_path)
    command = [sys.executable, "-m", "tuirecipe", "data", "config.toml", "--json"]
    done = subprocess.run(
        command, cwd=tmp_path, env=_env(tmp_path), capture_output=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    profile = json.loads(done.stdout)  # cut short, this would not parse
    assert profile["profile"]["size"]["rows"] == 3000
    missing = subprocess.run(
        [sys.executable, "-m", "tuirecipe", "data", "nope.toml"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert missing.returncode == 2
    assert "nope.toml" in missing.stderr and "Traceback" not in missing.stderr


def test_a_reader_that_stops_early_is_no_error(tmp_path: Path) -> None:
    _data_file(tmp_path)
    command = [sys.executable, "-m", "tuirecipe", "data", "config.toml", "--json"]
    child = subprocess.Popen(
        command, cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert child.stdout is not None and child.stderr is not None
    head = child.stdout.read(10)
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait(timeout=240) == 0
    assert head.startswith(b"{") and "Traceback" not in err
