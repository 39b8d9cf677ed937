"""The core job client with real processes (issue 10, point 1; DESIGN.md §3).

It signals a worker it did not start only when the pid, the process start time and the run
id all match; it knows how a process it started ended; the launcher never writes
``status.json`` once the worker may be running, and a reader recording a dead worker
writes ``gone.json``, never ``status.json``; tuning processes are started detached,
listed, stopped and reaped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.waiting import wait_until

from tuirecipe.cli_tune import stopped_by_sigterm
from tuirecipe.config import config_from_dict
from tuirecipe.runs.jobs import JobClient, Signalled, worker_identity
from tuirecipe.runs.launch import prepare_run
from tuirecipe.runs.rundir import RunDir, create_run_dir, process_start

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def config(tmp_path: Path):
    return config_from_dict({"name": "jobs", "runs_dir": str(tmp_path / "runs")})


def raw_status(run: RunDir) -> dict:
    return json.loads(run.status_path.read_text())


@pytest.fixture
def sleeper():
    proc = subprocess.Popen(SLEEPER)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_the_start_time_tells_two_processes_apart(sleeper):
    mine = process_start(os.getpid())
    assert mine is not None and process_start(sleeper.pid) is not None
    assert process_start(2**22 + 12345) is None  # no such process
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    pid = done.pid
    wait_until(
        lambda: process_start(pid) is None, 30, "the process to be gone"
    )  # a zombie counts as gone
    done.wait()


def test_a_worker_not_started_here_is_signalled_only_when_it_proves_who_it_is(tmp_path, sleeper):
    run = create_run_dir(tmp_path, "other")
    jobs = JobClient()
    identity = worker_identity(sleeper.pid)

    # The right pid, but another process's start time: a pid reused after the worker died.
    run.write_status(state="running", run=run.id, **{**identity, "pid_start": "1"})
    assert jobs.control(run, "stop") is Signalled.NO_WORKER
    # The right process, but the status of another run (a copied run directory).
    run.write_status(state="running", run="someone-else", **identity)
    assert jobs.control(run, "stop") is Signalled.NO_WORKER
    # A bare pid, as older records have it.
    run.write_status(state="running", run=run.id, pid=sleeper.pid, pid_start=None)
    assert jobs.control(run, "stop") is Signalled.NO_WORKER
    assert sleeper.poll() is None  # none of these was signalled

    run.write_status(state="running", run=run.id, **identity)
    assert jobs.control(run, "stop") is Signalled.SENT
    assert sleeper.wait(timeout=10) == -signal.SIGTERM


def test_a_stop_waits_while_the_worker_is_starting(tmp_path, sleeper):
    run = create_run_dir(tmp_path, "starting")
    run.write_status(state="created", run=run.id, **worker_identity(sleeper.pid))
    jobs = JobClient()
    assert jobs.control(run, "stop") is Signalled.STARTING
    assert sleeper.poll() is None
    assert jobs.control(run, "stop", even_if_starting=True) is Signalled.SENT
    assert sleeper.wait(timeout=10) == -signal.SIGTERM


def test_a_killed_worker_started_here_is_recorded_with_its_signal(tmp_path):
    started: list[list[str]] = []

    def kills_itself(argv, **options):
        started.append(argv)
        code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
        return subprocess.Popen([sys.executable, "-c", code], **options)

    jobs = JobClient(spawn=kills_itself)
    job = jobs.start(config(tmp_path), "train", motivation="see it die")
    run = job.run
    assert started == [[sys.executable, "-m", "tuirecipe.worker", str(run.path)]]
    assert jobs.wait(job, timeout=30) == -signal.SIGKILL
    # It never wrote a word, and nobody needs to wait 30 s to know: this client saw it end.
    assert raw_status(run)["state"] == "created"
    assert jobs.mark_dead_if_stale(run)
    assert not jobs.mark_dead_if_stale(run)  # recorded once
    status = run.read_status()
    assert status["state"] == "failed" and "ended by SIGKILL" in status["message"]
    assert raw_status(run)["state"] == "created"  # status.json: written by its writers only
    assert [e.kind for e in run.events()] == ["error", "status"]
    assert jobs.running_runs() == []


def test_the_launcher_leaves_status_json_alone_once_the_worker_is_started(tmp_path):
    run = prepare_run(config(tmp_path), "train")
    before = run.status_path.read_bytes()

    def sleeper_spawn(argv, **options):
        return subprocess.Popen(SLEEPER, **options)

    jobs = JobClient(spawn=sleeper_spawn)
    job = jobs.start_worker(run)
    try:
        assert run.status_path.read_bytes() == before  # the pid is the worker's to write
        assert jobs.running_runs() == [run]
        assert jobs.control(run, "stop") is Signalled.STARTING  # "created": not yet
    finally:
        job.proc.kill()
        jobs.wait(job, timeout=10)


def test_a_sweep_is_started_detached_listed_stopped_and_reaped(tmp_path):
    calls: list[tuple[list[str], dict]] = []

    def sleeper_spawn(argv, **options):
        calls.append((argv, options))
        return subprocess.Popen(SLEEPER, **options)

    jobs = JobClient(spawn=sleeper_spawn)
    job = jobs.start_tune(
        config(tmp_path), "sweep", ["--vary", "train.lr=0.1,0.2"], "sweep train.lr"
    )
    ((argv, options),) = calls
    assert argv[:4] == [sys.executable, "-m", "tuirecipe", "sweep"]
    assert argv[5:] == ["--vary", "train.lr=0.1,0.2"]
    assert Path(argv[4]).parent == tmp_path / "runs" / ".sweeps" and Path(argv[4]).is_file()
    assert options["start_new_session"] and job.log_path.parent == Path(argv[4]).parent
    assert jobs.running_tune() == [job] and jobs.reap() == []
    assert jobs.stop_tune(job)
    wait_until(lambda: not job.alive(), 30, "the sweep to end")
    assert job.exit_status == -signal.SIGTERM
    assert jobs.reap() == [job] and jobs.reap() == []  # its end is handed out once
    assert jobs.running_tune() == [] and not jobs.stop_tune(job)
    with pytest.raises(ValueError):
        jobs.start_tune(config(tmp_path), "train", [], "not a tuning command")


def test_sigterm_ends_a_tuning_command_as_ctrl_c_does():
    before = signal.getsignal(signal.SIGTERM)

    def command(args) -> int:
        assert signal.getsignal(signal.SIGUSR1) is signal.SIG_IGN  # a pause cannot kill it
        signal.raise_signal(signal.SIGTERM)
        return 0

    with pytest.raises(KeyboardInterrupt):
        stopped_by_sigterm(command)(None)
    assert signal.getsignal(signal.SIGTERM) is before
