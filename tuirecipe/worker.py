"""Entry point of a worker process: ``python -m tuirecipe.worker RUN_DIR``.

Runs the one job described in ``RUN_DIR/job.json`` with the config in
``RUN_DIR/config.toml`` and records everything in that directory. It never talks to a
terminal: stdin is closed, output goes to ``worker.log``, SIGHUP is ignored, and
SIGTERM / SIGUSR1 / SIGUSR2 ask it to stop / pause / resume between steps. While data
loads (:meth:`JobContext.interruptible`) a stop ends the loading at once.

A full disk ends the run as failed with the file named. So that this can be recorded on a
disk with no space left, a live worker keeps a small file of reserved space in its run
directory (``.space-reserve``) and deletes it first when a write fails for lack of space;
it deletes it too when the run ends.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tuirecipe.config import Config, load_config
from tuirecipe.errors import StorageError, UserError
from tuirecipe.events import Error, Event, Log, RunStatus
from tuirecipe.fileio import FILE_MODE, is_storage_error, storage_error
from tuirecipe.runs.rundir import EventWriter, RunDir, read_json
from tuirecipe.train.control import StopRequested

TRACEBACK_TAIL_LINES = 25
SPACE_RESERVE_BYTES = 256 * 1024  # ample for the last events and status.json


class JobContext:
    """What a job gets: its config, run directory, an event sink and the control flags."""

    def __init__(self, run: RunDir, config: Config, args: dict[str, Any]) -> None:
        from tuirecipe.train.control import Control

        self.run = run
        self.config = config
        self.args = args
        self.writer = EventWriter(run.events_path)
        self.control = Control(on_state=self._on_control_change)
        self.last_step = 0

    def emit(self, event: Event) -> None:
        self.writer.write(event)
        step = getattr(event, "step", None)
        if isinstance(step, int):  # once recorded: a step lost to a full disk is not counted
            self.last_step = step

    def log(self, message: str, level: str = "info") -> None:
        self.emit(Log(message=message, level=level))

    def set_state(self, state: str, message: str = "", **extra: Any) -> None:
        self.emit(RunStatus(state=state, message=message, step=self.last_step))
        self.run.write_status(state=state, message=message, step=self.last_step, **extra)

    def _on_control_change(self, state: str) -> None:
        self.set_state(state)

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        """A stretch of work that a stop ends at once rather than at the next step (data
        loading, tokenising): inside it SIGTERM and SIGINT raise :class:`StopRequested`,
        as does entering it with a stop already asked for."""
        if self.control.stop_requested:
            raise StopRequested("stopped on request before the data was loaded")

        def stop_now(*_: Any) -> None:
            self.control.request_stop()
            raise StopRequested("stopped on request while loading data")

        previous = {sig: signal.signal(sig, stop_now) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _install_signal_handlers(ctx: JobContext) -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: ctx.control.request_stop())
    signal.signal(signal.SIGINT, lambda *_: ctx.control.request_stop())
    signal.signal(signal.SIGUSR1, lambda *_: ctx.control.pause())
    signal.signal(signal.SIGUSR2, lambda *_: ctx.control.resume())


def _traceback_tail(exc: BaseException) -> str:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    text = "".join(lines).rstrip().splitlines()
    return "\n".join(text[-TRACEBACK_TAIL_LINES:])


def _oom_message(exc: BaseException) -> str | None:
    text = str(exc)
    if type(exc).__name__ == "OutOfMemoryError" or "out of memory" in text.lower():
        return (
            "out of memory on the device; try a smaller train.batch_size, a smaller "
            'data.max_len or model, or device = "cpu"'
        )
    return None


def run_train(ctx: JobContext) -> str:
    """The train job: data, model, trainer (:mod:`tuirecipe.train.job`). Returns the state."""
    from tuirecipe.train.job import load_data, prepare_training, run_training

    data = load_data(ctx)
    describe = f"{len(data.train):,} train / {len(data.dev):,} dev rows"
    trainer = prepare_training(ctx, data, describe=describe)
    return run_training(trainer, ctx.config).state


def run_check(ctx: JobContext) -> str:
    from tuirecipe.checks.runner import run_checks_job

    return run_checks_job(ctx)


def run_cv_fold(ctx: JobContext) -> str:
    from tuirecipe.tune.cv import run_fold_job

    return run_fold_job(ctx)


JOB_RUNNERS: dict[str, Callable[[JobContext], str]] = {
    "train": run_train,
    "check": run_check,
    "cv_fold": run_cv_fold,
}


def _early_signal_handlers() -> dict[str, bool]:
    """Catch stop/pause requests that arrive while torch is still importing (seconds)."""
    early = {"stop": False, "pause": False}
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for sig, key, value in (
        (signal.SIGTERM, "stop", True),
        (signal.SIGINT, "stop", True),
        (signal.SIGUSR1, "pause", True),
        (signal.SIGUSR2, "pause", False),
    ):
        signal.signal(sig, lambda *_, k=key, v=value: early.__setitem__(k, v))
    return early


def reserve_space(run: RunDir) -> None:
    """Set aside :data:`SPACE_RESERVE_BYTES` in the run directory (random bytes, which no
    file system compresses away) to free when the disk fills up."""
    path = run.space_reserve_path
    path.unlink(missing_ok=True)  # a link left there is removed, never written through
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with open(os.open(path, flags, FILE_MODE), "wb") as handle:
        handle.write(os.urandom(SPACE_RESERVE_BYTES))
        handle.flush()
        os.fsync(handle.fileno())


def release_space(run: RunDir) -> None:
    try:
        run.space_reserve_path.unlink(missing_ok=True)
    except OSError:
        pass


def record_failure(
    run: RunDir,
    ctx: JobContext | None,
    message: str,
    *,
    user_error: bool,
    trace: str = "",
) -> None:
    """Mark the run failed with ``message``: an ``error`` event and ``status.json``, each
    as far as the disk allows (one that cannot be written does not stop the other)."""
    step = ctx.last_step if ctx is not None else 0
    try:
        error = Error(message=message, step=step, user_error=user_error, traceback=trace)
        if ctx is not None:
            ctx.emit(error)
            ctx.emit(RunStatus(state="failed", message=message, step=step))
        else:
            writer = EventWriter(run.events_path)
            try:
                writer.write(error)
            finally:
                writer.close()
    except OSError:
        pass
    try:
        run.write_status(
            state="failed", message=message, step=step, user_error=user_error, ended=time.time()
        )
    except OSError:
        print(f"tuirecipe: error: {message}", file=sys.stderr)


def _as_storage_error(exc: BaseException, run: RunDir) -> StorageError | None:
    """A storage failure (disk full, quota, read-only) as one line naming a file: the
    file the error names, else the run directory."""
    if isinstance(exc, StorageError):
        return exc
    if is_storage_error(exc):
        assert isinstance(exc, OSError)
        return storage_error(exc, exc.filename or run.path)
    return None


def main(argv: list[str] | None = None) -> int:
    early = _early_signal_handlers()
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m tuirecipe.worker RUN_DIR", file=sys.stderr)
        return 2
    run = RunDir(Path(argv[0]).resolve())
    # From here on this process is the one writer of status.json. It says first who it
    # is (pid, start time, host, run id), so that others can tell it is alive and signal
    # it knowing it is this run's worker (tuirecipe.runs.jobs), never a reused pid.
    from tuirecipe.runs.jobs import worker_identity

    ctx: JobContext | None = None
    code = 0
    try:
        run.write_status(**worker_identity(), run=run.id, started=time.time())
        reserve_space(run)
        job = read_json(run.job_path, default={}) or {}
        config = load_config(run.config_path)
        # Name the user's config (or "--set") in messages, not the run's resolved copy of
        # it, and keep its folder as the base (so the run directory never lands on
        # sys.path).
        meta = run.read_meta()
        config.source = meta.get("config_source") or config.source
        config.base_dir = meta.get("config_dir") or config.base_dir
        ctx = JobContext(run, config, job.get("args", {}))
        _install_signal_handlers(ctx)
        if early["stop"]:
            ctx.control.request_stop()
        if early["pause"]:
            ctx.control.pause()
        ctx.set_state("running")
        runner = JOB_RUNNERS.get(job.get("job", "train"))
        if runner is None:
            raise UserError(f"unknown job '{job.get('job')}'", source=str(run.job_path))
        from tuirecipe.train.device import configure_threads
        from tuirecipe.tune.pool import pool_execution, pool_threads

        # train.threads, else the pool's share (and the pool's GPU); recorded in
        # meta.json, not the config.
        threads = configure_threads(config.train.threads or pool_threads())
        run.update_meta(execution={"threads": threads, **pool_execution()})
        try:
            state = runner(ctx)
            message = "stopped on request" if state == "stopped" else ""
        except StopRequested as stop:
            state, message = "stopped", str(stop)
        ctx.set_state(state, message, ended=time.time())
    except BaseException as exc:  # noqa: BLE001 - the run must be marked failed, whatever it was
        code = _fail(run, ctx, exc)
    finally:
        release_space(run)
        if ctx is not None:
            try:
                ctx.writer.close()
            except OSError:
                pass
    return code


def _fail(run: RunDir, ctx: JobContext | None, exc: BaseException) -> int:
    """Record ``exc`` as the run's failure; the worker's exit code."""
    full = _as_storage_error(exc, run)
    if full is not None:
        release_space(run)  # room for the last event and status.json
        record_failure(run, ctx, str(full), user_error=True)
        return 2
    if isinstance(exc, UserError):
        if exc.source is None and exc.key and ctx is not None:  # e.g. train.device
            exc.source = ctx.config.source
        trace = _traceback_tail(exc) if exc.__cause__ else ""
        record_failure(run, ctx, str(exc), user_error=True, trace=trace)
        return 2
    message = _oom_message(exc) or f"{type(exc).__name__}: {exc}"
    record_failure(run, ctx, message, user_error=False, trace=_traceback_tail(exc))
    return 1


if __name__ == "__main__":
    sys.exit(main())
