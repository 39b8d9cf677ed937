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
        self.distributed: Any = None  # this rank's place when train.gpus > 1

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


class PeerContext(JobContext):
    """The context of a rank other than 0 in a multi-process run
    (:mod:`tuirecipe.train.distributed`): the same job, but rank 0 alone writes the run
    directory, so here events and states go nowhere."""

    def __init__(self, run: RunDir, config: Config, args: dict[str, Any]) -> None:
        from tuirecipe.train.control import Control

        self.run, self.config, self.args = run, config, args
        self.control = Control()
        self.last_step = 0
        self.distributed = None

    def emit(self, event: Event) -> None:
        step = getattr(event, "step", None)
        if isinstance(step, int):
            self.last_step = step

    def set_state(self, state: str, message: str = "", **extra: Any) -> None:
        pass


def launch_rank() -> tuple[int, int]:
    """``(rank, processes)`` of this worker: torchrun's ``RANK`` and ``WORLD_SIZE``, or
    ``(0, 1)`` for a worker started alone."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        return (int(os.environ.get("RANK", "0")), world) if world > 1 else (0, 1)
    except ValueError:
        return 0, 1


def _install_signal_handlers(ctx: JobContext) -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: ctx.control.request_stop())
    signal.signal(signal.SIGINT, lambda *_: ctx.control.request_stop())
    signal.signal(signal.SIGUSR1, lambda *_: ctx.control.pause())
    signal.signal(signal.SIGUSR2, lambda *_: ctx.control.resume())


def _traceback_tail(exc: BaseException) -> str:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    text = "".join(lines).rstrip().splitlines()
    if len(text) <= TRACEBACK_TAIL_LINES:
        return "\n".join(text)
    # the deepest frames, still under their "Traceback (most recent call last):" header
    return "\n".join([text[0], "  …", *text[2 - TRACEBACK_TAIL_LINES :]])


def _oom_message(exc: BaseException) -> str | None:
    text = str(exc)
    if type(exc).__name__ == "OutOfMemoryError" or "out of memory" in text.lower():
        return (
            "out of memory on the device; try a smaller train.batch_size, a smaller "
            'data.max_len or model, or device = "cpu"'
        )
    return None


def run_train(ctx: JobContext) -> str:
    """The train job: data, model, trainer (:mod:`tuirecipe.train.job`). Returns the state.

    With ``resume`` in the job's args (``tuirecipe resume``) the trainer continues from the
    run's ``resume.pt`` (:mod:`tuirecipe.train.resume`), on the same data."""
    from tuirecipe.train.job import load_data, prepare_training, run_training

    if launch_rank()[1] > 1:  # one of train.gpus processes under torchrun
        if ctx.args.get("resume"):
            raise UserError(
                "resuming a data-parallel run (train.gpus > 1) is not supported yet",
                key="train.gpus",
            )
        from tuirecipe.train.distributed import run_train_job

        return run_train_job(ctx)
    resume = None
    if ctx.args.get("resume"):
        from tuirecipe.train import resume as resuming

        resume = resuming.load(ctx.run.path)  # a damaged checkpoint fails before the data
        recorded = (ctx.run.read_meta().get("data") or {}).get("sha256")
    data = load_data(ctx)
    if resume is not None and recorded and data.fingerprint().get("sha256") != recorded:
        raise resuming.ResumeError(
            "the data file changed since the run started (its sha256 differs from "
            "meta.json's): cannot resume on other data",
            source=str(data.fingerprint().get("path")),
        )
    if resume is None and ctx.config.train.lr_from == "range_test":
        seed_lr_from_range_test(ctx, data)
    describe = f"{len(data.train):,} train / {len(data.dev):,} dev rows"
    trainer = prepare_training(ctx, data, describe=describe)
    if resume is not None:
        resuming.restore(trainer, resume)
        ctx.last_step = trainer.step
    return run_training(trainer, ctx.config).state


def seed_lr_from_range_test(ctx: JobContext, data: Any) -> None:
    """``train.lr_from = "range_test"``: sweep first, then train at the suggestion (it
    replaces ``train.lr`` for this run; ``meta.json`` records it under ``lr_range_test``).
    A resumed run keeps the rate it started with (it is in the optimizer's state)."""
    from tuirecipe.checks.lr_range import rate_for_training
    from tuirecipe.train.device import pick_device

    ctx.log("train.lr_from = range_test: running the LR range test first")
    found = rate_for_training(
        ctx.config,
        data,
        pick_device(ctx.config.train.device),
        should_stop=lambda: ctx.control.stop_requested,
    )
    low, high = found["band"]
    ctx.log(
        f"LR range test: suggested band {low:.3g}–{high:.3g} (minimum at "
        f"{found['lr_at_min']:.3g}); training at {found['lr']:.3g} instead of train.lr "
        f"{ctx.config.train.lr:g}"
    )
    ctx.run.update_meta(lr_range_test={**found, "config_lr": ctx.config.train.lr})
    ctx.config.train.lr = found["lr"]


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
    rank, world = launch_rank()
    if rank != 0:
        return _peer_main(run, early, rank, world)
    # From here on this process is the one writer of status.json. It says first who it
    # is (pid, start time, host, run id), so that others can tell it is alive and signal
    # it knowing it is this run's worker (tuirecipe.runs.jobs), never a reused pid.
    from tuirecipe.runs.jobs import worker_identity

    ctx: JobContext | None = None
    code = 0
    try:
        identity = worker_identity()
        if world > 1:  # rank 0 is the run's worker; torchrun (its parent) launched it
            identity["launcher"] = worker_identity(os.getppid())
            identity["ranks"] = world
        run.write_status(**identity, run=run.id, started=time.time())
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
        if ctx.args.get("resume"):  # the step counts on from the checkpoint's
            info = read_json(run.path / "resume.json", default={}) or {}
            ctx.last_step = int(info.get("step", 0))
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
        from tuirecipe.tune.pool import pool_execution

        # train.threads, else the pool's share (and the pool's GPU); recorded in
        # meta.json, not the config.
        threads = configure_threads(config.train.threads or _threads_share(world))
        run.update_meta(
            execution={
                **(run.read_meta().get("execution") or {}),
                "threads": threads,
                **pool_execution(),
            }
        )
        try:
            state = runner(ctx)
            message = "stopped on request" if state == "stopped" else ""
        except StopRequested as stop:
            state, message = "stopped", str(stop)
        if state == "stopped" and world > 1:
            _raise_peer_failure(ctx)  # stopped by torchrun because another rank failed
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


def _threads_share(world: int) -> int:
    """Torch threads where ``train.threads`` is 0: the pool's share, else (several
    processes of one run on this machine) the cores but one split between them."""
    from tuirecipe.tune.pool import pool_threads

    threads = pool_threads()
    if threads or world <= 1:
        return threads
    return max(1, ((os.cpu_count() or 1) - 1) // world)


class PeerFailed(Exception):
    """Another rank of this multi-process run failed (the message says which and why)."""


def _raise_peer_failure(ctx: JobContext | None) -> None:
    ranks = getattr(ctx, "distributed", None)
    failure = ranks.peer_failure() if ranks is not None else None
    if failure is not None:
        raise PeerFailed(failure.message)


def _peer_main(run: RunDir, early: dict[str, bool], rank: int, world: int) -> int:
    """A rank other than 0: the same job, silent; a failure is left for rank 0 to record
    (through torchrun's store) and said in ``worker.log``. Exits at once after a failure:
    its process group may be in a collective that never completes."""
    ctx: PeerContext | None = None
    try:
        job = read_json(run.job_path, default={}) or {}
        config = load_config(run.config_path)
        meta = run.read_meta()
        config.source = meta.get("config_source") or config.source
        config.base_dir = meta.get("config_dir") or config.base_dir
        ctx = PeerContext(run, config, job.get("args", {}))
        _install_signal_handlers(ctx)  # SIGTERM: torchrun ending the run
        if early["stop"]:
            ctx.control.request_stop()
        if job.get("job", "train") != "train":
            raise UserError(f"the {job.get('job')} job runs in one process, not {world}")
        from tuirecipe.train.device import configure_threads

        configure_threads(config.train.threads or _threads_share(world))
        run_train(ctx)
        return 0
    except StopRequested:
        return 0
    except BaseException as exc:  # noqa: BLE001 - reported to rank 0, whatever it was
        from tuirecipe.train import distributed

        if distributed.lost_peer_message(exc, world):  # another rank ended: not this one's fault
            print(f"tuirecipe: rank {rank} of {world} ends: another rank is gone", file=sys.stderr)
            sys.stderr.flush()
            os._exit(1)
        if isinstance(exc, UserError):
            message, trace = str(exc), _traceback_tail(exc) if exc.__cause__ else ""
        else:
            message = _oom_message(exc) or f"{type(exc).__name__}: {exc}"
            trace = _traceback_tail(exc)
        ranks = getattr(ctx, "distributed", None)
        store = ranks.store if ranks is not None else distributed.connect_store()
        user_error = isinstance(exc, UserError)
        distributed.report_failure(store, rank, world, message, trace, user_error)
        run.write_rank_failure(
            rank, world, (message.strip().splitlines() or [""])[0], trace, user_error
        )
        sys.stdout.flush()
        os._exit(2 if isinstance(exc, UserError) else 1)


def _fail(run: RunDir, ctx: JobContext | None, exc: BaseException) -> int:
    """Record ``exc`` as the run's failure; the worker's exit code."""
    ranks = getattr(ctx, "distributed", None)
    if ranks is not None and not isinstance(exc, UserError):
        from tuirecipe.train.distributed import lost_peer_message

        # A collective failed: the rank that failed says why, or it was killed.
        failure = ranks.peer_failure()
        if failure is not None:
            record_failure(
                run, ctx, failure.message, user_error=failure.user_error, trace=failure.traceback
            )
            return 2 if failure.user_error else 1
        lost = lost_peer_message(exc, ranks.world)
        if lost:
            record_failure(run, ctx, lost, user_error=False, trace=_traceback_tail(exc))
            return 1
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


def _exit(code: int) -> None:
    """End the process with ``code``. A rank of a multi-process run (train.gpus) leaves at
    once, its work recorded and its streams flushed, without the interpreter's teardown:
    there the C++ side of torch.distributed (gloo's threads, the store's client) can
    abort the process ("terminate called without an active exception", SIGABRT) after a
    run that finished, and torchrun then reports the run failed."""
    if launch_rank()[1] > 1:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    _exit(main())
