"""`tuirecipe stop RUN`, `--version`, and what the help texts name: the check registry's
names under `check --help`, the console's --theme in the top-level help. `runs` shows
whole run ids at 120 columns; `attach` says which of its clocks is which."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.recorded_run import write_recorded_run
from support.waiting import wait_until

from tuirecipe import __version__
from tuirecipe.checks.base import all_checks
from tuirecipe.runs.jobs import worker_identity
from tuirecipe.runs.rundir import RunDir

# Stands in for a worker: stops cleanly on SIGTERM with a code of its own.
FAKE_WORKER = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
    "print('ready', flush=True)\n"
    "time.sleep(120)\n"
)


def tuirecipe(*args: str, cwd: Path, columns: int = 80) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-m", "tuirecipe", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def live_fake_run(runs: Path, run_id: str) -> tuple[RunDir, subprocess.Popen]:
    run = write_recorded_run(runs, run_id)
    proc = subprocess.Popen([sys.executable, "-c", FAKE_WORKER], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    run.write_status(state="running", run=run.id, **worker_identity(proc.pid))
    return run, proc


def test_stop_signals_the_runs_own_worker(tmp_path):
    run, proc = live_fake_run(tmp_path / "runs", "20261130-002939-live")
    try:
        done = tuirecipe("stop", "002939", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"stop sent to run {run.id}" in done.stdout
        wait_until(lambda: proc.poll() is not None, 30, "the fake worker to take SIGTERM")
        assert proc.returncode == 7  # its handler ran: a clean stop, not a kill
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_stop_never_signals_a_process_that_is_not_the_runs_worker(tmp_path):
    run, proc = live_fake_run(tmp_path / "runs", "20261130-002939-reused")
    try:
        # The right pid with another start time (a reused pid): the worker is seen dead.
        start = worker_identity(proc.pid)["pid_start"]
        run.write_status(pid_start=start + "0")
        done = tuirecipe("stop", run.id, cwd=tmp_path)
        assert done.returncode == 2 and "is failed: nothing to stop" in done.stderr
        # Recorded on another machine: this one cannot tell, so it signals nothing.
        run.write_status(pid_start=start, host="another-machine")
        done = tuirecipe("stop", run.id, cwd=tmp_path)
        assert done.returncode == 2 and "no live worker" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert proc.poll() is None  # left alone both times
    finally:
        proc.kill()
        proc.wait()


def test_stop_an_unknown_or_finished_run_is_one_line_and_exit_2(tmp_path):
    write_recorded_run(tmp_path / "runs", "20261130-002939-done")
    for run_id, words in (("nosuch", "no run 'nosuch'"), ("002939", "is finished")):
        done = tuirecipe("stop", run_id, cwd=tmp_path)
        assert done.returncode == 2, done
        assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr


def test_version_and_help_texts(tmp_path):
    version = tuirecipe("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"tuirecipe {__version__}"
    top = tuirecipe("--help", cwd=tmp_path)
    assert "--theme" in top.stdout and "stop" in top.stdout
    check = tuirecipe("check", "--help", cwd=tmp_path, columns=200)
    for c in all_checks():  # every registered check, so a new one cannot be missed
        assert c.name in check.stdout, c.name


def test_runs_shows_whole_ids_at_120_columns(tmp_path):
    ids = ["20261130-002939-demo-baseline-fasttext", "20261130-002940-demo2"]
    write_recorded_run(tmp_path / "runs", ids[0], notes="n " * 100)
    write_recorded_run(tmp_path / "runs", ids[1])
    done = tuirecipe("runs", "--runs-dir", "runs", cwd=tmp_path, columns=120)
    assert done.returncode == 0, done.stderr
    for run_id in ids:
        assert run_id in done.stdout


def test_attach_labels_its_two_clocks(tmp_path):
    write_recorded_run(tmp_path / "runs", "20261130-002939-done")
    done = tuirecipe("attach", "002939", cwd=tmp_path, columns=160)
    assert done.returncode == 0, done.stderr
    bar = next(line for line in done.stderr.splitlines() if "200/200 steps" in line)
    assert "elapsed " in bar and " left " in bar
