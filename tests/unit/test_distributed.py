"""The pieces of data-parallel training that need no second process (issue 16, point 5):
sharding, step counts, the launch command, routing control to rank 0, the agreed
stop/pause exchange, and the one-line errors. The 2-process runs are in
tests/functional/test_ddp.py."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

from tuirecipe.config import TrainConfig, config_from_dict  # noqa: E402
from tuirecipe.errors import UserError  # noqa: E402
from tuirecipe.runs.compare import IGNORED_KEYS  # noqa: E402
from tuirecipe.runs.jobs import JobClient, Signalled, worker_identity  # noqa: E402
from tuirecipe.runs.launch import prepare_run, worker_command  # noqa: E402
from tuirecipe.runs.rundir import create_run_dir  # noqa: E402
from tuirecipe.train.batches import SplitTensors, iter_batches  # noqa: E402
from tuirecipe.train.control import Control  # noqa: E402
from tuirecipe.train.distributed import (  # noqa: E402
    SyncedControl,
    pick_rank_device,
    shard_order,
)
from tuirecipe.train.job import total_steps  # noqa: E402

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.mark.parametrize("n, world", [(10, 2), (11, 2), (7, 3), (2, 4), (12, 1)])
def test_each_rank_gets_a_share_of_one_permutation_of_equal_length(n, world):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(n))
    shards = [shard_order(order, rank, world) for rank in range(world)]
    assert len({len(s) for s in shards}) == 1  # the same number of rows, so of steps
    assert len(shards[0]) == -(-n // world)
    rows = torch.cat(shards).tolist()
    assert set(rows) == set(order.tolist())  # every row is someone's
    if n % world == 0:
        assert sorted(rows) == sorted(order.tolist())  # disjoint when it divides
    else:  # padding repeats the permutation's start, nothing else
        assert len(rows) - n == (-n) % world


def split(n: int, width: int = 6) -> SplitTensors:
    ids = torch.zeros(n, width, dtype=torch.int64)
    for i in range(n):
        ids[i, : 1 + i % width] = i + 1  # row i holds token i + 1: batches name their rows
    return SplitTensors(ids, torch.arange(n) % 2, (ids != 0).sum(1), 0)


def test_the_ranks_batches_together_are_the_one_process_batch():
    tensors, batch, world = split(64), 16, 2
    one = [ids[:, 0].tolist() for ids, _, _ in iter_batches(tensors, batch, generator=gen())]
    ranks = [
        [
            ids[:, 0].tolist()
            for ids, _, _ in iter_batches(
                tensors, batch // world, generator=gen(), shard=(rank, world)
            )
        ]
        for rank in range(world)
    ]
    assert len(ranks[0]) == len(ranks[1]) == len(one) == 4
    for step, rows in enumerate(one):
        assert sorted(ranks[0][step] + ranks[1][step]) == sorted(rows)
        assert not set(ranks[0][step]) & set(ranks[1][step])
    # Without a shard, a generator's batches are the whole set: the unsharded path is as before.
    assert sorted(sum(one, [])) == list(range(1, 65))


def gen() -> torch.Generator:
    return torch.Generator().manual_seed(7)


def test_total_steps_count_the_shard_in_its_share_of_the_batch():
    cfg = TrainConfig(batch_size=16, epochs=2)
    assert total_steps(176, cfg) == total_steps(176, cfg, world=2) == 22
    assert total_steps(170, cfg, world=2) == total_steps(170, cfg) == 22
    assert total_steps(33, TrainConfig(batch_size=4, epochs=1), world=4) == 9


def test_gpus_without_cuda_or_with_one_device_named_is_one_clear_line():
    assert pick_rank_device("cpu", 2, 1) == (torch.device("cpu"), "gloo")
    with pytest.raises(UserError, match="names one device") as named:
        pick_rank_device("cuda:1", 2, 0)
    assert named.value.key == "train.gpus"
    if torch.cuda.is_available():
        return
    with pytest.raises(UserError, match="CUDA is not available") as missing:
        pick_rank_device("auto", 2, 0)
    assert 'set train.device = "cpu"' in str(missing.value) and "\n" not in str(missing.value)


def test_gpus_is_an_execution_setting_with_its_own_bounds(tmp_path):
    assert "train.gpus" in IGNORED_KEYS
    with pytest.raises(UserError, match="train.gpus"):
        config_from_dict({"train": {"gpus": -1}})
    cfg = config_from_dict({"name": "x", "runs_dir": str(tmp_path), "train": {"gpus": 3}})
    run = prepare_run(cfg, "train")
    assert run.read_meta()["execution"] == {"processes": 3, "launcher": "torchrun"}
    assert run.read_status()["ranks"] == 3
    command = worker_command(run)
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc-per-node=3" in command and "--standalone" in command
    assert command[-3:] == ["-m", "tuirecipe.worker", str(run.path)]
    # A check job runs in one process whatever train.gpus says; so does gpus = 1.
    check = prepare_run(cfg, "check")
    assert worker_command(check) == [sys.executable, "-m", "tuirecipe.worker", str(check.path)]
    one = prepare_run(config_from_dict({"runs_dir": str(tmp_path), "train": {"gpus": 1}}))
    assert "execution" not in one.read_meta() and "ranks" not in one.read_status()


@pytest.fixture
def two_sleepers():
    procs = [subprocess.Popen(SLEEPER) for _ in range(2)]
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.mark.parametrize("ranks", [2, 1])
def test_control_of_a_multi_process_run_goes_to_rank_0_not_torchrun(tmp_path, two_sleepers, ranks):
    launcher, rank0 = two_sleepers
    run = create_run_dir(tmp_path, "ddp")
    extra = {"ranks": ranks} if ranks > 1 else {}
    run.write_status(state="running", run=run.id, **worker_identity(rank0.pid), **extra)
    jobs = JobClient(spawn=lambda argv, **options: launcher)  # torchrun's stand-in
    jobs.start_worker(run)
    assert jobs.control(run, "pause") is Signalled.SENT
    hit, spared = (rank0, launcher) if ranks > 1 else (launcher, rank0)
    assert hit.wait(timeout=10) == -signal.SIGUSR1  # a sleeper has no handler: it dies
    assert spared.poll() is None


def test_a_stop_before_rank_0_is_up_goes_to_torchrun_only_when_asked(tmp_path, two_sleepers):
    launcher, _ = two_sleepers
    run = create_run_dir(tmp_path, "ddp")
    run.write_status(state="created", run=run.id, pid=None, ranks=2)
    jobs = JobClient(spawn=lambda argv, **options: launcher)
    jobs.start_worker(run)
    assert jobs.control(run, "stop") is Signalled.STARTING
    assert launcher.poll() is None
    assert jobs.control(run, "stop", even_if_starting=True) is Signalled.SENT
    assert launcher.wait(timeout=10) == -signal.SIGTERM


@pytest.fixture
def one_rank_group():
    """A one-process gloo group: the exchange's collective runs, trivially."""
    import torch.distributed as dist

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield dist.group.WORLD
    dist.destroy_process_group()


def test_the_exchange_stops_on_a_signal_or_the_trainers_own_stop(one_rank_group):
    local = Control()
    synced = SyncedControl(local, one_rank_group)
    trainer = SimpleNamespace(stopping=False)
    synced.watch(trainer)
    assert synced.checkpoint() is False and not synced.stopped_together
    trainer.stopping = True  # early stopping on rank 0 travels to every rank
    assert synced.checkpoint() is True and synced.stopped_together

    local2 = Control()
    synced2 = SyncedControl(local2, one_rank_group)
    local2.request_stop()
    assert synced2.checkpoint() is True


def test_a_pause_holds_every_rank_until_resumed(one_rank_group):
    states: list[str] = []
    paused = threading.Event()

    def on_state(state: str) -> None:
        states.append(state)
        if state == "paused":
            paused.set()

    local = Control(on_state=on_state)
    synced = SyncedControl(local, one_rank_group)
    local.pause()
    resumer = threading.Thread(target=lambda: paused.wait(30) and local.resume())
    resumer.start()
    assert synced.checkpoint() is False  # paused, then resumed: go on
    resumer.join()
    assert states == ["paused", "running"]
    assert synced.paused_seconds > 0


def test_a_batch_that_does_not_split_between_the_processes_is_refused(monkeypatch):
    from tuirecipe.train import distributed

    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "0")
    ctx = SimpleNamespace(config=config_from_dict({"train": {"batch_size": 32, "gpus": 3}}))
    with pytest.raises(UserError, match="does not split evenly") as error:
        distributed.run_train_job(ctx)
    assert error.value.key == "train.batch_size"
    ctx = SimpleNamespace(
        config=config_from_dict({"train": {"batch_size": 30, "gpus": 3, "adversarial": "fgm"}})
    )
    with pytest.raises(UserError, match="not supported") as adversarial:
        distributed.run_train_job(ctx)
    assert adversarial.value.key == "train.adversarial"


def test_a_worker_started_from_inside_another_torchrun_job_is_not_a_rank(monkeypatch):
    from tuirecipe.runs.launch import detached_options

    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("RANK", "3")
    env = detached_options(None)["env"]
    assert "WORLD_SIZE" not in env and "RANK" not in env
    assert detached_options(None, {"RANK": "1"})["env"]["RANK"] == "1"  # asked for: kept


@pytest.mark.parametrize("value", ["0", "65"])
def test_a_bad_gpus_flag_is_one_line(tmp_path, monkeypatch, capsys, value):
    from tuirecipe.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "--gpus", value, "--set", f"runs_dir={tmp_path}/runs"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"tuirecipe: error: --gpus must be 1 up to 64, got {value}"]
    assert not (tmp_path / "runs").exists()  # nothing started
