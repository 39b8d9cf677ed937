"""Entry point of a worker process: ``python -m tuirecipe.worker RUN_DIR``.

Runs the one job described in ``RUN_DIR/job.json`` with the config in
``RUN_DIR/config.toml`` and records everything in that directory. It never talks to a
terminal: stdin is closed, output goes to ``worker.log``, SIGHUP is ignored, and
SIGTERM / SIGUSR1 / SIGUSR2 ask it to stop / pause / resume between steps.
"""

from __future__ import annotations

import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuirecipe.config import Config, load_config
from tuirecipe.errors import UserError
from tuirecipe.events import Error, Event, Log, RunStatus
from tuirecipe.runs.rundir import EventWriter, RunDir, read_json

TRACEBACK_TAIL_LINES = 25


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
        step = getattr(event, "step", None)
        if isinstance(step, int):
            self.last_step = step
        self.writer.write(event)

    def log(self, message: str, level: str = "info") -> None:
        self.emit(Log(message=message, level=level))

    def set_state(self, state: str, message: str = "", **extra: Any) -> None:
        self.emit(RunStatus(state=state, message=message, step=self.last_step))
        self.run.write_status(state=state, message=message, step=self.last_step, **extra)

    def _on_control_change(self, state: str) -> None:
        self.set_state(state)


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

    run.write_status(**worker_identity(), run=run.id, started=time.time())
    job = read_json(run.job_path, default={}) or {}
    try:
        config = load_config(run.config_path)
    except UserError as exc:
        run.write_status(state="failed", message=str(exc), ended=time.time())
        EventWriter(run.events_path).write(Error(message=str(exc), user_error=True))
        return 2
    # Name the user's config (or "--set") in messages, not the run's resolved copy of it,
    # and keep its folder as the base (so the run directory never lands on sys.path).
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
    code = 0
    try:
        if runner is None:
            raise UserError(f"unknown job '{job.get('job')}'", source=str(run.job_path))
        from tuirecipe.train.device import configure_threads
        from tuirecipe.tune.pool import pool_threads

        # train.threads, else the pool's share; recorded in meta.json, not the config.
        threads = configure_threads(config.train.threads or pool_threads())
        run.update_meta(execution={"threads": threads})
        state = runner(ctx)
        message = "stopped on request" if state == "stopped" else ""
        ctx.set_state(state, message, ended=time.time())
    except UserError as exc:
        if exc.source is None and exc.key:  # e.g. train.device: name the user's config
            exc.source = config.source
        ctx.emit(
            Error(
                message=str(exc),
                step=ctx.last_step,
                user_error=True,
                traceback=_traceback_tail(exc) if exc.__cause__ else "",
            )
        )
        ctx.set_state("failed", str(exc), ended=time.time())
        code = 2
    except BaseException as exc:  # noqa: BLE001 - the run must be marked failed, whatever it was
        message = _oom_message(exc) or f"{type(exc).__name__}: {exc}"
        ctx.emit(Error(message=message, traceback=_traceback_tail(exc), step=ctx.last_step))
        ctx.set_state("failed", message, ended=time.time())
        code = 1
    finally:
        ctx.writer.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
