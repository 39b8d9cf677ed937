"""Several worker processes at once, each in its own run directory.

On CPU the pool runs ``parallel`` workers (default ``max(1, cpu_count // 2)``) and gives
each ``cpu_count // parallel`` torch threads (through the ``TUIRECIPE_THREADS``
variable, read where ``train.threads`` is 0: an execution setting, kept out of the
children's configs so they do not differ from a normal run). On GPUs it runs one
worker per device, each seeing only its device through ``CUDA_VISIBLE_DEVICES``; with
``per_gpu`` N (``--per-gpu N``), N small trials share each GPU: a starting worker gets the
visible GPU running the fewest (the lowest first), so they are dealt round-robin, and a
CPU share of ``cpu_count // (GPUs * N)`` threads. Which GPU a worker got is recorded in
its ``meta.json`` (``execution``), never in its config.
Workers are started, stopped and reaped through the pool's
:class:`~tuirecipe.runs.jobs.JobClient`; each is told (``TUIRECIPE_DATA_CACHE``) to take
its prepared data from the cache its siblings share (:mod:`tuirecipe.data.cache`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from tuirecipe.data.cache import CACHE_ENV
from tuirecipe.runs.jobs import Job, JobClient, Signalled
from tuirecipe.runs.rundir import RunDir

THREADS_ENV = "TUIRECIPE_THREADS"  # a pool's share of the CPU cores for each worker
GPU_ENV = "TUIRECIPE_POOL_GPU"  # the GPU a pool gave a worker (as CUDA_VISIBLE_DEVICES names it)
PER_GPU_ENV = "TUIRECIPE_TRIALS_PER_GPU"  # how many workers share that GPU at most


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


def pool_execution() -> dict[str, object]:
    """What the pool that started this worker decided for it (for ``meta.json``'s
    ``execution``): its GPU and how many workers share one; empty outside a GPU pool."""
    gpu = os.environ.get(GPU_ENV, "")
    if not gpu:
        return {}
    per_gpu = os.environ.get(PER_GPU_ENV, "")
    return {"gpu": gpu, "trials_per_gpu": int(per_gpu) if per_gpu.isdigit() else 1}


def visible_gpu_ids(count: int) -> list[str]:
    """The names a child's ``CUDA_VISIBLE_DEVICES`` should use for this process's ``count``
    GPUs: the parent's own list when it has one (``"2,3"`` → ``["2", "3"]``), else
    ``"0"`` … ``count - 1``."""
    inherited = [p.strip() for p in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")]
    inherited = [p for p in inherited if p]
    if len(inherited) >= count:
        return inherited[:count]
    return [str(i) for i in range(count)]


def assign_gpu(busy: list[int | None], gpus: int, per_gpu: int) -> int | None:
    """The GPU index for a starting worker, given the GPUs of the workers running
    (``busy``): the one with the fewest, the lowest index on a tie; None when every GPU
    already runs ``per_gpu`` (or there is no GPU)."""
    if gpus <= 0:
        return None
    load = [0] * gpus
    for gpu in busy:
        if gpu is not None and 0 <= gpu < gpus:
            load[gpu] += 1
    best = min(range(gpus), key=lambda i: (load[i], i))
    return best if load[best] < max(1, per_gpu) else None


def per_gpu_note(per_gpu: int, device: str) -> str:
    """Why ``--per-gpu`` does nothing here (empty when it applies)."""
    if per_gpu <= 1 or cuda_device_count(device):
        return ""
    why = (
        f"train.device = '{device}' names one device"
        if device.startswith("cuda:")
        else "no CUDA GPU is visible"
    )
    return f"--per-gpu {per_gpu} has no effect: {why}; workers run as -j decides"


@dataclass
class _Slot:
    run: RunDir
    job: Job
    gpu: int | None


@dataclass
class WorkerPool:
    parallel: int = 1
    gpus: int = 0  # > 0: per_gpu workers per GPU (parallel is capped at gpus * per_gpu)
    per_gpu: int = 1
    gpu_ids: list[str] = field(default_factory=list)  # CUDA_VISIBLE_DEVICES name per GPU
    data_cache: bool = True  # children read prepared data from the shared cache
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
        width = self.width()
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
                    env = self.worker_env(gpu, width)
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

    def width(self) -> int:
        """Workers at once: ``parallel``, capped at ``gpus * per_gpu`` on GPUs."""
        if self.gpus:
            return max(1, min(self.parallel, self.gpus * max(1, self.per_gpu)))
        return max(1, self.parallel)

    def worker_env(self, gpu: int | None, width: int) -> dict[str, str]:
        """The variables a worker starts with: its GPU (and, when GPUs are shared, its
        CPU share) or its CPU share; the data-cache switch."""
        env: dict[str, str] = {}
        if gpu is not None:
            name = self.gpu_ids[gpu] if gpu < len(self.gpu_ids) else str(gpu)
            env.update({"CUDA_VISIBLE_DEVICES": name, GPU_ENV: name})
            if self.per_gpu > 1:
                env[PER_GPU_ENV] = str(self.per_gpu)
                env[THREADS_ENV] = str(threads_per_worker(width))
        else:
            env[THREADS_ENV] = str(threads_per_worker(width))
        if self.data_cache and os.environ.get(CACHE_ENV) != "0":
            env[CACHE_ENV] = "1"
        return env

    def _free_gpu(self, active: list[_Slot]) -> int | None:
        return assign_gpu([s.gpu for s in active], self.gpus, self.per_gpu)


def make_pool(parallel: int | None, device: str, per_gpu: int = 1) -> WorkerPool:
    gpus = cuda_device_count(device)
    per_gpu = max(1, per_gpu)
    if parallel is None or parallel <= 0:
        parallel = gpus * per_gpu if gpus else default_parallel("cpu")
    return WorkerPool(parallel=parallel, gpus=gpus, per_gpu=per_gpu, gpu_ids=visible_gpu_ids(gpus))
