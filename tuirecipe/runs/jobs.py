"""The job client: the one way the console and the CLI start, signal and reap processes.

Every process they start goes through a :class:`JobClient`: a worker for a run (train,
check, a cross-validation fold), or a detached tuning command (``tuirecipe sweep …``) that
starts workers of its own through its own client. The client keeps the registry of the
processes it started (an instance, not a module global) and their ``Popen`` handles, so

* it signals a worker it started through that handle (its pid cannot be reused before the
  client reaps it), and any other worker only after checking that the process is that
  worker: the pid, the process start time and the run id the worker recorded in its
  ``status.json`` must all match the live process — never a bare pid from a file;
* it knows how a worker it started ended (exit status, or the signal that killed it), so
  a run marked dead from here names the signal;
* quitting the console can ask about everything still running that it started.

No UI here, no torch: the console wraps this client in an asyncio adapter
(:class:`tuirecipe.ui.bus.WorkerClient`).
"""

from __future__ import annotations

import enum
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuirecipe.config import Config
from tuirecipe.fileio import open_append
from tuirecipe.runs.launch import detached_options, prepare_run, resolved_config, worker_command
from tuirecipe.runs.resume import prepare_resume
from tuirecipe.runs.rundir import TERMINAL_STATES, RunDir, process_start

CONTROL_SIGNALS = {"stop": signal.SIGTERM, "pause": signal.SIGUSR1, "resume": signal.SIGUSR2}
# Parent records of tuning runs: their process (the orchestrator) only understands stop.
TUNE_JOBS = ("sweep", "search", "seeds", "cv")
# A run tracked from the user's own script (tuirecipe.track): its process is theirs, and
# pause/resume signals would kill it. Only a follower (``tuirecipe follow``) takes a stop.
TRACKED_JOBS = ("track",)


class Signalled(enum.Enum):
    """What became of a control request."""

    SENT = "sent"  # the signal reached that very worker
    STARTING = "starting"  # the worker is still starting up: ask again in a moment
    NO_WORKER = "no worker"  # no live worker that proves it is this run's


@dataclass
class Job:
    """One process this client started."""

    kind: str  # "worker" (fills ``run``), "tune" (a tuning command, e.g. a sweep), "follow"
    proc: Any  # the subprocess.Popen handle
    label: str  # what a person calls it: the run id, or "sweep train.lr=…"
    log_path: Path
    run: RunDir | None = None
    started: float = field(default_factory=time.time)
    reported: bool = False  # its end has been handed out by ``reap``

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    @property
    def exit_status(self) -> int | None:
        """The exit code, or minus the signal that ended it; None while it runs."""
        return self.proc.poll()

    def alive(self) -> bool:
        return self.proc.poll() is None


def worker_identity(pid: int | None = None) -> dict[str, Any]:
    """The status fields a process records so that others can tell it from another
    process that happens to get the same pid later: pid, start time and host."""
    pid = os.getpid() if pid is None else pid
    return {"pid": pid, "pid_start": process_start(pid), "host": socket.gethostname()}


def signal_verified(status: dict[str, Any], run: RunDir, sig: int) -> bool:
    """Send ``sig`` to the process ``status`` names, if it proves to be ``run``'s worker:
    the status names this run and this host, and the process holding the pid started when
    the worker recorded. Where the system has pidfds, the process is pinned before the
    check, so a pid reused between the check and the signal cannot be hit."""
    pid, recorded = status.get("pid"), status.get("pid_start")
    if not pid or recorded is None or status.get("run") != run.id:
        return False
    if status.get("host") != socket.gethostname():
        return False
    pidfd = None
    if hasattr(os, "pidfd_open") and hasattr(signal, "pidfd_send_signal"):
        try:
            pidfd = os.pidfd_open(int(pid))
        except ProcessLookupError:
            return False
        except OSError:  # an old kernel: the check-then-kill below
            pidfd = None
    try:
        if process_start(int(pid)) != recorded:
            return False
        if pidfd is not None:
            signal.pidfd_send_signal(pidfd, sig)
        else:
            os.kill(int(pid), sig)
    except (ProcessLookupError, PermissionError):
        return False
    finally:
        if pidfd is not None:
            os.close(pidfd)
    return True


class JobClient:
    """Starts, tracks, signals and reaps the processes of one console or CLI command.

    Thread-safe: the console calls it from its event loop and from worker threads.
    ``spawn`` is ``subprocess.Popen`` (tests hand in a stand-in).
    """

    def __init__(self, spawn: Callable[..., Any] = subprocess.Popen) -> None:
        self._spawn = spawn
        self._lock = threading.Lock()
        self._jobs: list[Job] = []

    # -- starting ------------------------------------------------------------------------
    def start(
        self,
        config: Config,
        job: str = "train",
        *,
        motivation: str = "",
        parent: RunDir | None = None,
        args: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        edits: dict[str, Any] | None = None,
    ) -> Job:
        """Prepare a run directory for ``job`` and start its worker."""
        run = prepare_run(config, job, motivation=motivation, parent=parent, args=args, edits=edits)
        return self.start_worker(run, env=env)

    def start_worker(self, run: RunDir, env: dict[str, str] | None = None) -> Job:
        """Start the worker of an already prepared ``run``.

        If it cannot be started, the run is marked failed (its worker never will write
        it, so the launcher still may) and the error goes to the caller.
        """
        try:
            with open(open_append(run.log_path), "ab") as log:  # never through a link
                proc = self._spawn(worker_command(run), **detached_options(log, env, run.path))
        except BaseException as exc:
            run.write_status(state="failed", message=f"the worker did not start: {exc}")
            raise
        return self._add(Job("worker", proc, run.id, run.log_path, run=run))

    def resume(self, run: RunDir, env: dict[str, str] | None = None) -> Job:
        """Continue a failed or stopped training ``run`` from its ``resume.pt`` in the same
        run directory (:mod:`tuirecipe.runs.resume`); a run that cannot be resumed is a
        one-line ``RunError`` and nothing starts."""
        run = RunDir(run.path.resolve())  # the worker runs inside it: never a relative path
        prepare_resume(run)
        return self.start_worker(run, env=env)

    def start_tune(self, config: Config, command: str, options: list[str], label: str) -> Job:
        """Start ``tuirecipe COMMAND CONFIG OPTIONS…`` (a sweep, search, seeds or cv) as a
        detached process that outlives the console; it makes its own parent run.

        The config it runs is ``config`` resolved (every path absolute), written with its
        log under ``<runs>/.sweeps/``.
        """
        if command not in TUNE_JOBS:
            raise ValueError(f"not a tuning command: {command!r}")
        folder = config.runs_path / ".sweeps"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{command}-{stamp}"
        for n in range(2, 1000):
            if not (folder / f"{base}.toml").exists():
                break
            base = f"{command}-{stamp}-{n}"
        config_path, log_path = folder / f"{base}.toml", folder / f"{base}.log"
        config_path.write_text(resolved_config(config).to_toml(), encoding="utf-8")
        argv = [sys.executable, "-m", "tuirecipe", command, str(config_path), *options]
        with open(log_path, "ab") as log:
            proc = self._spawn(argv, **detached_options(log))
        return self._add(Job("tune", proc, label, log_path))

    def start_follow(self, path: Path, options: list[str], runs_dir: Path) -> Job:
        """Start ``tuirecipe follow PATH OPTIONS…`` as a detached process (it makes and
        fills its own run; see :mod:`tuirecipe.runs.logfollow`), its output logged under
        ``<runs>/.follow/``."""
        folder = Path(runs_dir) / ".follow"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        log_path = folder / f"follow-{stamp}-{os.getpid()}.log"
        argv = [sys.executable, "-m", "tuirecipe", "follow", str(path), *options]
        with open(open_append(log_path), "ab") as log:
            proc = self._spawn(argv, **detached_options(log))
        return self._add(Job("follow", proc, f"follow {path}", log_path))

    def _add(self, job: Job) -> Job:
        with self._lock:
            self._jobs.append(job)
        return job

    # -- what runs -----------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def job_for(self, run: RunDir | str) -> Job | None:
        """The worker this client started for ``run`` (a RunDir or a run id), if any."""
        run_id = run if isinstance(run, str) else run.id
        with self._lock:
            found = [j for j in self._jobs if j.run is not None and j.run.id == run_id]
        return found[-1] if found else None

    def running_runs(self) -> list[RunDir]:
        """Runs whose worker this client started and that have not ended."""
        self.reap()
        return [
            j.run for j in self.jobs() if j.run is not None and j.run.state() not in TERMINAL_STATES
        ]

    def running_tune(self) -> list[Job]:
        """Tuning processes this client started that are still running."""
        return [j for j in self.jobs() if j.kind == "tune" and j.alive()]

    def reap(self) -> list[Job]:
        """Collect every started process that has exited (so none lingers as a zombie);
        returns those whose end was not handed out before."""
        exited = [job for job in self.jobs() if job.proc.poll() is not None]
        with self._lock:
            ended = [job for job in exited if not job.reported]
            for job in ended:
                job.reported = True
        return ended

    def exit_status(self, run: RunDir, wait: float = 2.0) -> int | None:
        """How ``run``'s worker ended, when this client started it: the exit code, or
        minus the signal's number. None when unknown, or still running after ``wait``.

        It waits rather than polls: ``Popen.poll`` answers None while another thread is
        inside ``waitpid`` for the same process."""
        job = self.job_for(run)
        if job is None:
            return None
        try:
            return job.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return None

    def mark_dead_if_stale(self, run: RunDir) -> bool:
        """Record ``run`` failed if its worker is gone without saying so, naming how it
        ended when this client started it. Returns whether it recorded it."""
        job = self.job_for(run)
        if job is None:
            return run.mark_dead_if_stale()
        status = job.proc.poll()
        if status is None:
            if run.state() != "failed":
                return False
            status = self.exit_status(run)
            if status is None:  # our child is alive: slow to start, not dead
                return False
        return run.mark_dead_if_stale(status, exited=True)

    # -- signalling ----------------------------------------------------------------------
    def control(self, run: RunDir, action: str, *, even_if_starting: bool = False) -> Signalled:
        """Ask ``run``'s worker to ``stop``, ``pause`` or ``resume``.

        A worker still starting up (``created``) has not installed its handlers yet: the
        signal would kill it instead, so the answer is STARTING (ask again) unless
        ``even_if_starting``. A worker this client did not start is signalled only once
        it proves to be that run's (see :func:`signal_verified`).

        A multi-process run (``ranks`` in its status; :mod:`tuirecipe.train.distributed`)
        is signalled through its rank 0, the pid its status names, which passes the
        request on to every rank; the process this client holds is torchrun, which would
        end every rank on a stop and die of a pause.
        """
        sig = CONTROL_SIGNALS[action]
        status = run.read_status()
        state = status.get("state")
        if state in TERMINAL_STATES:
            return Signalled.NO_WORKER
        if action != "stop" and status.get("job") in TUNE_JOBS + ("follow",):
            return Signalled.NO_WORKER  # a pause would kill the orchestrating process
        if status.get("job") in TRACKED_JOBS:
            return Signalled.NO_WORKER  # the user's own script: never signalled from here
        job = self.job_for(run)
        if job is not None and (status.get("ranks") or 1) > 1:
            if not job.alive():
                return Signalled.NO_WORKER
            if state == "created":
                if not even_if_starting:
                    return Signalled.STARTING
                if action == "stop":  # torchrun passes it on to every starting rank
                    try:
                        job.proc.send_signal(sig)
                    except ProcessLookupError:
                        return Signalled.NO_WORKER
                    return Signalled.SENT
            job = None  # to rank 0, verified like any worker this client did not start
        if job is not None:
            if not job.alive():
                return Signalled.NO_WORKER
            if state == "created" and not even_if_starting:
                return Signalled.STARTING
            try:
                job.proc.send_signal(sig)
            except ProcessLookupError:
                return Signalled.NO_WORKER
            return Signalled.SENT
        if state == "created" and not even_if_starting:
            if status.get("pid_start") is not None:
                alive = process_start(status.get("pid")) == status["pid_start"]
            else:
                alive = run.state() not in TERMINAL_STATES
            return Signalled.STARTING if alive else Signalled.NO_WORKER
        return Signalled.SENT if signal_verified(status, run, sig) else Signalled.NO_WORKER

    def stop_tune(self, job: Job) -> bool:
        """Ask a tuning process this client started to stop: it stops its workers and
        marks its parent run stopped. False when it had already ended."""
        if job.kind != "tune" or not job.alive():
            return False
        try:
            job.proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            return False
        return True

    def wait(self, job: Job, timeout: float | None = None) -> int | None:
        """Wait for ``job`` to end; its exit status, or None if still running."""
        try:
            return job.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
