"""``tuirecipe check`` and ``tuirecipe check --list`` with real worker processes: a result
is listed as today's verdict only for the config it ran on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tuirecipe.checks.base import get_check
from tuirecipe.checks.fingerprint import CurrentInputs
from tuirecipe.config import load_config
from tuirecipe.events import CheckResult
from tuirecipe.runs import create_run_dir
from tuirecipe.runs.rundir import EventWriter

CONFIG = """
[data]
path = "data/a.csv"
dev_fraction = 0.25

[model]
name = "fasttext"
embed_dim = 16

[train]
device = "cpu"
batch_size = 16
threads = 1
"""


def tuirecipe(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tuirecipe", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def setup(folder: Path) -> Path:
    (folder / "data").mkdir()
    rows = ["text,label"]
    for i in range(40):
        rows += [f"good great fine {i},pos", f"bad awful poor {i},neg"]
    (folder / "data" / "a.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "exp.toml").write_text(CONFIG, encoding="utf-8")
    return folder / "exp.toml"


def test_a_check_run_is_listed_current_for_its_config_and_stale_for_another(tmp_path: Path):
    setup(tmp_path)
    ran = tuirecipe("check", "exp.toml", "--only", "initialisation", "--json", cwd=tmp_path)
    assert ran.returncode in (0, 1), ran.stderr
    results = json.loads(ran.stdout)["results"]
    assert [r["ran_on"] for r in results] == ["model fasttext, data a.csv"]
    status = results[0]["status"]

    listed = tuirecipe("check", "exp.toml", "--list", "--json", cwd=tmp_path)
    assert listed.returncode == (1 if status in ("fail", "error") else 0), listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)["checks"]}
    assert rows["initialisation"]["current"] and rows["initialisation"]["shown"] == status
    assert rows["init_loss"]["shown"] == "not run"
    assert rows["looked_at_data"]["shown"] == "not ticked"

    other = tuirecipe("check", "exp.toml", "--list", "--set", "model.name=gru", cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    title = get_check("initialisation").title
    line = next(x for x in other.stdout.splitlines() if title in x)
    assert line.startswith("~ stale")
    assert "ran on model fasttext — rerun" in line and "\u2713" not in line
    assert "0 pass · 0 warn · 0 fail · 0 error · 1 stale" in other.stdout


def test_the_list_exits_1_only_for_a_current_failure(tmp_path: Path):
    config = load_config(setup(tmp_path))
    run = create_run_dir(config.runs_path, "old")
    run.update_meta(id=run.id, name="old", job="check", created=1.0)
    run.write_status(state="finished", job="check")
    writer = EventWriter(run.events_path)
    stamp = CurrentInputs(config).stamp("overfit_batch")
    writer.write(CheckResult(name="overfit_batch", status="fail", summary="loss 2.1", **stamp))
    writer.close()

    failed = tuirecipe("check", "exp.toml", "--list", "--only", "overfit_batch", cwd=tmp_path)
    assert failed.returncode == 1, failed.stderr
    assert "\u2717 fail" in failed.stdout and "loss 2.1" in failed.stdout
    # the same failure made with another learning rate is history: no verdict, exit 0
    other = tuirecipe(
        "check",
        "exp.toml",
        "--list",
        "--set",
        "train.lr=0.01",
        "--only",
        "overfit_batch",
        cwd=tmp_path,
    )
    assert other.returncode == 0, other.stderr
    assert "ran with train.lr = 0.0003 (now 0.01) — rerun (was fail)" in other.stdout
    bad = tuirecipe("check", "exp.toml", "--list", "--only", "no_such_check", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown check 'no_such_check'" in bad.stderr
