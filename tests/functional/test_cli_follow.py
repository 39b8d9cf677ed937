"""``tuirecipe follow`` as a command: a growing CSV's new rows reach the run, a stop ends
it as stopped, a bad file is one line and exit 2, ``--detach`` follows in the background
through the job client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from support.waiting import wait_until

from tuirecipe.cli import main
from tuirecipe.events import EvalMetrics, StepMetrics
from tuirecipe.runs.jobs import JobClient, Signalled
from tuirecipe.runs.rundir import RunDir

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def _the_run(runs: Path) -> RunDir | None:
    found = [p for p in runs.iterdir() if p.is_dir()] if runs.is_dir() else []
    found = [p for p in found if not p.name.startswith(".")]
    return RunDir(found[0]) if len(found) == 1 else None


def _steps(run: RunDir) -> list[int]:
    return [e.step for e in run.events() if isinstance(e, StepMetrics)]


def test_follow_shows_the_rows_a_growing_csv_gets(tmp_path):
    log = tmp_path / "metrics.csv"
    log.write_text("epoch,step,train_loss,val_loss\n0,0,1.5,\n", encoding="utf-8")
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuirecipe", "follow", str(log), "--runs-dir", str(runs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=tmp_path,
    )
    try:
        wait_until(lambda: _the_run(runs) is not None and _steps(_the_run(runs)) == [0], 120)
        run = _the_run(runs)
        assert run is not None and run.state() == "running"
        _append(log, "0,1,1.25,\n0,1,,1.1\n")
        wait_until(lambda: _steps(run) == [0, 1], 60, "the appended row in the run")
        evals = [e for e in run.events() if isinstance(e, EvalMetrics)]
        assert [(e.step, e.metrics) for e in evals] == [(1, {"loss": 1.1})]
        # stopped from outside, as `tuirecipe stop` and the console do
        assert JobClient().control(run, "stop") is Signalled.SENT
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    status = run.read_status()
    assert status["state"] == "stopped" and status["step"] == 1
    assert status["message"] == f"stopped following {log}"


def test_follow_refuses_a_bad_file_in_one_line(tmp_path, capsys):
    log = tmp_path / "metrics.csv"
    log.write_text("step,loss\n1,0.5\n2,n/a\n", encoding="utf-8")
    code = main(["follow", str(log), "--runs-dir", str(tmp_path / "runs"), "--once"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == (f"tuirecipe: error: {log}: row 3: column 'loss': 'n/a' is not a number")
    assert not (tmp_path / "runs").exists()


def test_follow_once_imports_a_finished_log(tmp_path, capsys):
    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "loss": 0.25}\n', encoding="utf-8")
    code = main(
        ["follow", str(log), "--runs-dir", str(tmp_path / "runs"), "--once", "--name", "imported"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "finished at step 2" in out
    run = _the_run(tmp_path / "runs")
    assert run is not None and run.id.endswith("-imported") and _steps(run) == [1, 2]


def test_follow_detached_runs_in_the_background_until_idle(tmp_path, capsys, monkeypatch):
    log = tmp_path / "metrics.csv"
    log.write_text("step,train_loss\n1,0.9\n", encoding="utf-8")
    runs = tmp_path / "runs"
    monkeypatch.setenv("PYTHONPATH", _env()["PYTHONPATH"])
    code = main(["follow", str(log), "--runs-dir", str(runs), "--detach", "--idle", "1"])
    assert code == 0 and "in the background" in capsys.readouterr().out
    wait_until(
        lambda: (
            (run := _the_run(runs)) is not None and run.read_status().get("state") == "finished"
        ),
        120,
        "the background follower to end once the log went idle",
    )
    run = _the_run(runs)
    assert run is not None and _steps(run) == [1]
    assert run.read_status()["message"] == "no new rows for 1 s"
    assert list((runs / ".follow").glob("*.log"))


def test_a_follower_killed_is_shown_failed(tmp_path):
    log = tmp_path / "metrics.csv"
    log.write_text("step,train_loss\n1,0.9\n2,0.8\n", encoding="utf-8")
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuirecipe", "follow", str(log), "--runs-dir", str(runs)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
        cwd=tmp_path,
    )
    try:
        wait_until(lambda: _the_run(runs) is not None and _steps(_the_run(runs)) == [1, 2], 120)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    run = _the_run(runs)
    assert run is not None and run.state() == "failed"
