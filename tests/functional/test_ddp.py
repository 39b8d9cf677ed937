"""Data-parallel training under torchrun (issue 16, point 5): two CPU processes on gloo.

``train.gpus = 2`` with ``train.device = "cpu"`` is the user-reachable path that runs the
multi-process code without a GPU (``tuirecipe.train.distributed``). Each test starts
torchrun through the job client, as the CLI and the console do, and reads the run
directory; the NCCL variant at the end needs two CUDA devices.
"""

from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path

import pytest
from support.waiting import wait_until

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.slow  # each starts torchrun and two processes that import torch

from tuirecipe.config import config_from_dict  # noqa: E402
from tuirecipe.runs.jobs import JobClient, Signalled  # noqa: E402
from tuirecipe.runs.rundir import TERMINAL_STATES, RunDir, process_start  # noqa: E402

ROWS = 192  # 176 train rows after the dev split: 11 whole steps of 16


def write_data(path: Path) -> None:
    rng = random.Random(0)
    words = {0: "good great fine nice happy".split(), 1: "bad awful poor sad ugly".split()}
    lines = ["text,label"]
    for i in range(ROWS):
        label = i % 2
        pool = words[label] + ["the", "a", "movie", "film", "was"]
        text = " ".join(rng.choice(pool) for _ in range(rng.randint(3, 12)))
        lines.append(f"{text},{'pos' if label else 'neg'}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_config(tmp_path: Path, gpus: int, **train):
    tmp_path.mkdir(parents=True, exist_ok=True)
    write_data(tmp_path / "data.csv")
    table = {
        "name": f"ddp{gpus}",
        "runs_dir": str(tmp_path / "runs"),
        "seed": 3,
        "data": {"path": "data.csv", "dev_fraction": 1 / 12},
        "model": {"name": "fasttext", "dropout": 0.0},
        "train": {
            "device": "cpu",
            "gpus": gpus,
            "batch_size": 16,
            "epochs": 2,
            "eval_every": 4,
            "lr": 0.01,
            "threads": 1,
            **train,
        },
    }
    return config_from_dict(table, source=str(tmp_path / "ddp.toml"), base_dir=str(tmp_path))


def events(run: RunDir, kind: str) -> list[dict]:
    return [e for e in run.iter_event_dicts() if e["type"] == kind]


def log_tail(run: RunDir) -> str:
    try:
        return run.log_path.read_text(errors="replace")[-3000:]
    except OSError:
        return ""


def finish(jobs: JobClient, job, timeout: float = 240) -> int:
    code = jobs.wait(job, timeout=timeout)
    assert code is not None, f"torchrun still running after {timeout} s:\n{log_tail(job.run)}"
    return code


def test_two_processes_make_the_steps_of_one_with_the_same_batch(tmp_path):
    jobs = JobClient()
    two = jobs.start(make_config(tmp_path / "two", 2), "train")
    assert two.run is not None
    assert finish(jobs, two) == 0, log_tail(two.run)
    one = jobs.start(make_config(tmp_path / "one", 1), "train")
    assert one.run is not None
    assert finish(jobs, one) == 0, log_tail(one.run)

    status = two.run.read_status()
    assert status["state"] == "finished", log_tail(two.run)
    assert status["ranks"] == 2 and status["launcher"]["pid"] == two.pid  # torchrun
    assert status["pid"] != two.pid  # rank 0 writes the status, naming itself
    execution = two.run.read_meta()["execution"]
    assert execution["processes"] == 2 and execution["backend"] == "gloo"
    assert "gpus" not in two.run.read_meta()["changed"]

    # Rank 0 alone wrote the run: every step once, in order; one model line, not two.
    steps = [e["step"] for e in events(two.run, "step")]
    assert steps == list(range(1, 23)), steps  # 2 epochs of 176 rows in steps of 16
    assert status["step"] == status["total_steps"] == 22
    models = [e for e in events(two.run, "log") if e["message"].startswith("model ")]
    assert len(models) == 1 and "× 2 processes" in models[0]["message"]
    losses = [e["loss"] for e in events(two.run, "step")]
    assert all(0 < loss < 5 for loss in losses) and sum(losses[-4:]) < sum(losses[:4])

    # The same rows per step, gradients averaged: the one-process run's steps, exactly up
    # to float summation order (fasttext ignores padding; no dropout, no class weights).
    evals_two, evals_one = events(two.run, "eval"), events(one.run, "eval")
    assert [e["step"] for e in evals_two] == [e["step"] for e in evals_one]
    for a, b in zip(evals_two, evals_one):
        assert a["metrics"]["loss"] == pytest.approx(b["metrics"]["loss"], rel=1e-5, abs=1e-6)
    assert evals_two[-1]["metrics"]["loss"] < evals_two[0]["metrics"]["loss"]
    w_two = torch.load(two.run.path / "model.pt")
    w_one = torch.load(one.run.path / "model.pt")
    assert w_two.keys() == w_one.keys()  # the plain module's, not DDP's "module." names
    for key in w_one:
        assert torch.allclose(w_two[key], w_one[key], atol=1e-5), key


def test_pause_and_stop_reach_every_rank(tmp_path):
    jobs = JobClient()
    job = jobs.start(make_config(tmp_path, 2, epochs=500, eval_every=0), "train")
    run = job.run
    assert run is not None
    wait_until(lambda: len(events(run, "step")) >= 3, 180, f"steps:\n{log_tail(run)}")

    assert jobs.control(run, "pause") is Signalled.SENT
    wait_until(lambda: run.read_status().get("state") == "paused", 60, "the pause")
    assert jobs.control(run, "resume") is Signalled.SENT
    wait_until(lambda: run.read_status().get("state") == "running", 60, "the resume")
    assert job.alive()  # a pause reached rank 0, not torchrun (which it would kill)

    assert jobs.control(run, "stop") is Signalled.SENT
    # torchrun exits 0 only once both ranks have exited 0: they stopped at one step.
    assert finish(jobs, job) == 0, log_tail(run)
    status = run.read_status()
    assert status["state"] == "stopped"
    steps = [e["step"] for e in events(run, "step")]
    assert steps == list(range(1, len(steps) + 1)) and status["step"] == steps[-1]
    states = [e["state"] for e in events(run, "status")]
    paused = states.index("paused")
    assert "running" in states[paused:] and states[-1] == "stopped"
    assert states.count("paused") == 1  # rank 0 alone records it


@pytest.mark.parametrize("eval_every", [0, 3])
def test_early_stopping_on_rank_0_ends_every_rank(tmp_path, eval_every):
    """Rank 0 alone evaluates; its early stop reaches the others mid-epoch (at the next
    step's exchange) or at an epoch's end (the others wait at the next epoch's first)."""
    config = make_config(
        tmp_path, 2, epochs=40, eval_every=eval_every, lr=0.5, early_stopping_patience=1
    )
    jobs = JobClient()
    job = jobs.start(config, "train")
    assert job.run is not None
    assert finish(jobs, job) == 0, log_tail(job.run)  # both ranks ended cleanly
    status = job.run.read_status()
    assert status["state"] == "finished"
    assert any(e["message"].startswith("early stopping") for e in events(job.run, "log"))
    step = status["step"]
    steps = [e["step"] for e in events(job.run, "step")]
    assert step < 40 * 11 and steps == list(range(1, step + 1))
    if eval_every == 0:
        assert step % 11 == 0  # at an epoch's end
    else:
        assert step % 11 != 0 and step % eval_every == 0  # mid-epoch, at an evaluation


CRASHING_MODEL = """
import os
from torch import nn


class Model(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.emb = nn.EmbeddingBag(spec.vocab_size, 8, mode="mean")
        self.out = nn.Linear(8, spec.num_outputs)
        self.calls = 0

    def forward(self, ids, mask):
        self.calls += 1
        if self.training and os.environ.get("RANK") == "1" and self.calls > 3:
            raise ValueError("rank one lost its footing")
        return self.out(self.emb(ids))


def build(spec):
    return Model(spec)
"""


def test_a_rank_that_crashes_fails_the_run_naming_it(tmp_path):
    (tmp_path / "crashing.py").write_text(CRASHING_MODEL, encoding="utf-8")
    config = make_config(tmp_path, 2)
    config.model.name = "crashing:build"
    jobs = JobClient()
    job = jobs.start(config, "train")
    assert job.run is not None
    assert finish(jobs, job) != 0
    status = job.run.read_status()
    assert status["state"] == "failed"
    message = status["message"]
    assert message.startswith("rank 1 of 2 failed: ") and "rank one lost its footing" in message
    assert "\n" not in message
    errors = events(job.run, "error")
    assert len(errors) == 1 and errors[0]["message"] == message
    assert "crashing.py" in errors[0]["traceback"]  # rank 1's traceback, not rank 0's


def test_a_killed_torchrun_takes_its_ranks_and_the_run_is_marked_failed(tmp_path):
    jobs = JobClient()
    job = jobs.start(make_config(tmp_path, 2, epochs=500, eval_every=0), "train")
    run = job.run
    assert run is not None
    wait_until(lambda: len(events(run, "step")) >= 2, 180, f"steps:\n{log_tail(run)}")
    rank0 = run.read_status()
    job.proc.send_signal(signal.SIGKILL)
    assert finish(jobs, job) == -signal.SIGKILL
    # The ranks die with their launcher (no orphan goes on writing the run).
    wait_until(
        lambda: process_start(rank0["pid"]) != rank0["pid_start"], 30, "rank 0 to die with it"
    )
    assert jobs.mark_dead_if_stale(run)
    status = run.read_status()
    assert status["state"] == "failed" and run.state() in TERMINAL_STATES
    assert "training processes" in status["message"] and "SIGKILL" in status["message"]
    last = events(run, "status")[-1]
    assert last["state"] == "failed"


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_a_rank_killed_without_a_word_fails_the_run_saying_so(tmp_path):
    jobs = JobClient()
    job = jobs.start(make_config(tmp_path, 2, epochs=500, eval_every=0), "train")
    run = job.run
    assert run is not None
    wait_until(lambda: len(events(run, "step")) >= 2, 180, f"steps:\n{log_tail(run)}")
    rank0 = run.read_status()["pid"]
    others = [pid for pid in children(job.pid) if pid != rank0]
    assert len(others) == 1, children(job.pid)
    os.kill(others[0], signal.SIGKILL)
    assert finish(jobs, job) != 0
    status = run.read_status()
    assert status["state"] == "failed", log_tail(run)
    assert "another process of this 2-process run ended without a word" in status["message"]
    assert len(events(run, "error")) == 1


def test_gpus_on_a_machine_without_them_is_one_clear_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    config = make_config(tmp_path, 2)
    config.train.device = "auto"
    jobs = JobClient()
    job = jobs.start(config, "train")
    assert job.run is not None
    assert finish(jobs, job) != 0
    # Rank 0 records it, or (when torchrun stopped rank 0 first) the job pipeline does,
    # from rank 1's report — as `tuirecipe train` and the console do once torchrun ends.
    jobs.mark_dead_if_stale(job.run)
    status = job.run.read_status()
    assert status["state"] == "failed" and status["user_error"] is True, log_tail(job.run)
    assert "train.gpus = 2 asks for 2 GPUs but CUDA is not available" in status["message"]
    assert 'set train.device = "cpu"' in status["message"]
    assert len(events(job.run, "error")) == 1  # rank 0's record only


@pytest.mark.gpu
@pytest.mark.skipif(
    not torch.cuda.is_available() or torch.cuda.device_count() < 2, reason="needs 2 CUDA devices"
)
def test_two_gpus_train_with_nccl(tmp_path):
    config = make_config(tmp_path, 2)
    config.train.device = "auto"
    jobs = JobClient()
    job = jobs.start(config, "train")
    assert job.run is not None
    assert finish(jobs, job) == 0, log_tail(job.run)
    assert job.run.read_status()["state"] == "finished"
    execution = job.run.read_meta()["execution"]
    assert execution["backend"] == "nccl" and execution["processes"] == 2
    steps = [e["step"] for e in events(job.run, "step")]
    assert steps == list(range(1, 23))
    assert json.loads(job.run.meta_path.read_text())["device"].startswith("cuda")
