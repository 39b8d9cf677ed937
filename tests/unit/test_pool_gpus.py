"""Several small trials per GPU: how the pool deals workers to GPUs, what each worker is
told, what its meta records, and that CPU-only machines say --per-gpu does nothing.
No GPU needed: the pool is driven with a job client that only records."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from tuirecipe.data.cache import CACHE_ENV
from tuirecipe.tune import pool as pool_mod
from tuirecipe.tune.pool import (
    GPU_ENV,
    PER_GPU_ENV,
    THREADS_ENV,
    WorkerPool,
    assign_gpu,
    make_pool,
    per_gpu_note,
    pool_execution,
    visible_gpu_ids,
)


def test_workers_are_dealt_round_robin_up_to_n_per_gpu() -> None:
    busy: list[int | None] = []
    for _ in range(6):
        gpu = assign_gpu(busy, gpus=3, per_gpu=2)
        assert gpu is not None
        busy.append(gpu)
    assert busy == [0, 1, 2, 0, 1, 2]
    assert assign_gpu(busy, gpus=3, per_gpu=2) is None  # every GPU holds two
    busy.remove(1)  # a worker on GPU 1 ends: the next one goes there
    assert assign_gpu(busy, gpus=3, per_gpu=2) == 1


def test_one_per_gpu_and_no_gpu() -> None:
    assert assign_gpu([], gpus=2, per_gpu=1) == 0
    assert assign_gpu([0], gpus=2, per_gpu=1) == 1
    assert assign_gpu([0, 1], gpus=2, per_gpu=1) is None
    assert assign_gpu([], gpus=0, per_gpu=4) is None
    assert assign_gpu([None, None], gpus=1, per_gpu=3) == 0  # CPU workers take no GPU


def test_children_name_the_gpus_this_process_was_given(monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert visible_gpu_ids(2) == ["2", "5"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert visible_gpu_ids(3) == ["0", "1", "2"]


def test_make_pool_on_gpus_runs_n_per_gpu(monkeypatch) -> None:
    monkeypatch.setattr(pool_mod, "cuda_device_count", lambda device: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    pool = make_pool(None, "auto", per_gpu=3)
    assert (pool.gpus, pool.per_gpu, pool.width()) == (2, 3, 6)
    assert make_pool(4, "auto", per_gpu=3).width() == 4  # -j caps it
    assert make_pool(None, "auto").width() == 2  # one per GPU, as before


def test_on_cpu_per_gpu_changes_nothing_and_says_so(monkeypatch) -> None:
    monkeypatch.setattr(pool_mod, "cuda_device_count", lambda device: 0)
    assert make_pool(2, "cpu", per_gpu=4).width() == 2
    assert "no CUDA GPU is visible" in per_gpu_note(4, "auto")
    assert "train.device = 'cuda:1'" in per_gpu_note(2, "cuda:1")
    assert per_gpu_note(1, "auto") == ""  # not asked: no message
    monkeypatch.setattr(pool_mod, "cuda_device_count", lambda device: 1)
    assert per_gpu_note(4, "auto") == ""  # it applies


@dataclass
class FakeJob:
    polls_left: int

    def alive(self) -> bool:
        self.polls_left -= 1
        return self.polls_left > 0


@dataclass
class RecordingJobs:
    """A job client that starts nothing: it records each worker's environment and the
    GPUs in use at that moment."""

    started: list[dict[str, str]] = field(default_factory=list)
    running: dict[str, FakeJob] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)

    def start_worker(self, run, env=None):
        env = dict(env or {})
        self.started.append(env)
        job = FakeJob(polls_left=2 + len(self.started) % 3)
        self.running[run.id] = job
        on_gpu = [
            e[GPU_ENV]
            for e, j in zip(self.started, self.running.values())
            if j.polls_left > 0 and GPU_ENV in e
        ]
        for gpu in set(on_gpu):
            self.peak[gpu] = max(self.peak.get(gpu, 0), on_gpu.count(gpu))
        return job

    def mark_dead_if_stale(self, run) -> None:
        pass


def test_the_pool_never_puts_more_than_n_workers_on_a_gpu(monkeypatch) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    jobs = RecordingJobs()
    pool = WorkerPool(
        parallel=8, gpus=2, per_gpu=2, gpu_ids=["3", "7"], poll_interval=0.0, jobs=jobs
    )
    runs = [SimpleNamespace(id=f"r{i}") for i in range(9)]
    assert pool.run(runs) == runs
    assert len(jobs.started) == 9
    assert [e["CUDA_VISIBLE_DEVICES"] for e in jobs.started[:4]] == ["3", "7", "3", "7"]
    assert {e["CUDA_VISIBLE_DEVICES"] for e in jobs.started} == {"3", "7"}
    assert max(jobs.peak.values()) <= 2
    for env in jobs.started:
        assert env[GPU_ENV] == env["CUDA_VISIBLE_DEVICES"]
        assert env[PER_GPU_ENV] == "2" and int(env[THREADS_ENV]) >= 1
        assert env[CACHE_ENV] == "1"  # trials share the prepared-data cache


def test_a_worker_env_on_cpu_and_the_cache_opt_out(monkeypatch) -> None:
    pool = WorkerPool(parallel=2)
    monkeypatch.delenv(CACHE_ENV, raising=False)
    env = pool.worker_env(None, 2)
    assert "CUDA_VISIBLE_DEVICES" not in env and GPU_ENV not in env
    assert env[THREADS_ENV] and env[CACHE_ENV] == "1"
    one = WorkerPool(parallel=1, gpus=1, gpu_ids=["0"]).worker_env(0, 1)
    assert one["CUDA_VISIBLE_DEVICES"] == "0" and PER_GPU_ENV not in one
    monkeypatch.setenv(CACHE_ENV, "0")  # a person who turned the cache off
    assert CACHE_ENV not in pool.worker_env(None, 2)


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, {}),
        ({GPU_ENV: "3"}, {"gpu": "3", "trials_per_gpu": 1}),
        ({GPU_ENV: "1", PER_GPU_ENV: "4"}, {"gpu": "1", "trials_per_gpu": 4}),
    ],
)
def test_a_worker_records_its_gpu_share_in_meta_execution(monkeypatch, env, expected) -> None:
    for name in (GPU_ENV, PER_GPU_ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert pool_execution() == expected
