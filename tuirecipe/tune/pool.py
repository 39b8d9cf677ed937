"""Several worker processes at once, each in its own run directory.

On CPU the pool runs ``parallel`` workers (default ``max(1, cpu_count // 2)``) and gives
each ``cpu_count // parallel`` torch threads (through the ``TUIRECIPE_THREADS``
variable, read where ``train.threads`` is 0: an execution setting, kept out of the
children's configs so they do not differ from a normal run). On GPUs it runs one
worker per device, each seeing only its device through ``CUDA_VISIBLE_DEVICES``.
Workers are started, stopped and reaped through the pool's
:class:`~tuirecipe.runs.jobs.JobClient`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from tuirecipe.runs.jobs import Job, JobClient, Signalled
from tuirecipe.runs.rundir import RunDir

THREADS_ENV = "TUIRECIPE_THREADS"  # a pool's share of the CPU cores for each worker


def cuda_device_count(device: str) -> int:
    """GPUs a pool may use for ``train.device`` (0 on CPU); imports torch only if needed."""
    if device == "cpu" or device == "mps" or device.startswith("cuda:"):
        return 0
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # no usable torch/CUDA: run on CPU
        return 0


def default_parallel(device: str = "auto") -> int:
    gpus = cuda_device_count(device)
    return gpus if gpus else max(1, (os.cpu_count() or 1) // 2)


def threads_per_worker(parallel: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, parallel))


def pool_threads() -> int:
    """The torch threads the pool that started this worker gave it (0: not in a pool)."""
    share = os.environ.get(THREADS_ENV, "")
    return int(share) if share.isdigit() else 0


@dataclass
class _Slot:
    run: RunDir
    job: Job
    gpu: int | None


@dataclass
class WorkerPool:
    parallel: int = 1
    gpus: int = 0  # > 0: one worker per GPU (parallel is capped at this)
    poll_interval: float = 0.2
    finished: list[RunDir] = field(default_factory=list)
    stopped_by_budget: list[RunDir] = field(default_factory=list)
    jobs: JobClient = field(default_factory=JobClient)

    def run(
        self,
        jobs: Iterable[RunDir | Callable[[], RunDir]],
        *,
        on_tick: Callable[[list[RunDir]], None] | None = None,
        on_done: Callable[[RunDir], None] | None = None,
        budget_s: float | None = None,
    ) -> list[RunDir]:
        """Run every job (a prepared run, or a function preparing one when its turn comes).

        ``on_tick(active_runs)`` is called every poll (for live decisions such as
        pruning); ``on_done(run)`` once a run has ended. With ``budget_s``, no job starts
        after the budget is spent and running ones are asked to stop. Returns the runs in
        the order they were started.
        """
        width = min(self.parallel, self.gpus) if self.gpus else self.parallel
        width = max(1, width)
        pending: Iterator[RunDir | Callable[[], RunDir]] = iter(jobs)
        active: list[_Slot] = []
        started: list[RunDir] = []
        t0 = time.monotonic()
        exhausted = False
        stop_sent: set[str] = set()
        try:
            while True:
                over = budget_s is not None and time.monotonic() - t0 > budget_s
                while not exhausted and not over and len(active) < width:
                    job = next(pending, None)
                    if job is None:
                        exhausted = True
                        break
                    run = job() if callable(job) else job
                    gpu = self._free_gpu(active)
                    env = (
                        {"CUDA_VISIBLE_DEVICES": str(gpu)}
                        if gpu is not None
                        else {THREADS_ENV: str(threads_per_worker(width))}
                    )
                    active.append(_Slot(run, self.jobs.start_worker(run, env=env), gpu))
                    started.append(run)
                if over:
                    for slot in active:
                        if slot.run.id in stop_sent:
                            continue
                        # A worker still starting is asked again next poll: a stop signal
                        # before its handlers are in would kill it rather than stop it.
                        if self.jobs.control(slot.run, "stop") is not Signalled.STARTING:
                            stop_sent.add(slot.run.id)
                            self.stopped_by_budget.append(slot.run)
                if on_tick is not None and active:
                    on_tick([s.run for s in active])
                for slot in list(active):
                    if slot.job.alive():
                        continue
                    self.jobs.mark_dead_if_stale(slot.run)
                    active.remove(slot)
                    self.finished.append(slot.run)
                    if on_done is not None:
                        on_done(slot.run)
                if not active and (exhausted or over):
                    break
                time.sleep(self.poll_interval)
        except BaseException:  # Ctrl-C or a bug: never leave workers running unasked
            for slot in active:
                if slot.job.alive():
                    self.jobs.control(slot.run, "stop", even_if_starting=True)
            for slot in active:
                self.jobs.wait(slot.job, timeout=30)
                self.jobs.mark_dead_if_stale(slot.run)
            raise
        return started

    def _free_gpu(self, active: list[_Slot]) -> int | None:
        if not self.gpus:
            return None
        used = {s.gpu for s in active}
        return next(i for i in range(self.gpus) if i not in used)


def make_pool(parallel: int | None, device: str) -> WorkerPool:
    gpus = cuda_device_count(device)
    if parallel is None or parallel <= 0:
        parallel = gpus if gpus else default_parallel("cpu")
    return WorkerPool(parallel=parallel, gpus=gpus)
