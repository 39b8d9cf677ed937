"""Faults inside a run are contained (issue 6, point 3; DESIGN.md §7).

A user model that fails while building, raises in forward at step N, turns the loss NaN
at step N, or runs out of (simulated CUDA) memory; and a worker killed with SIGKILL. Each
must end with the run marked failed, an ``error`` event with a readable message (plus the
traceback's tail where the error is not the user's to read as one line), the headless CLI
exiting non-zero with one ``tuirecipe: error:`` line, and ``events.jsonl`` intact: every
step before the failure recorded, in order, each line valid JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import SUPPORT
from support.cli import run_tuirecipe as tuirecipe
from support.waiting import wait_until

from tuirecipe.runs import RunDir, list_runs

TESTS = SUPPORT  # fault_models.py, bad_inputs/
FAIL_STEP = 4
# good.csv has 40 rows: batch 8 → 5 steps an epoch, so step FAIL_STEP comes before any eval.
BASE = [
    "--set",
    "data.path=good.csv",
    "--set",
    f'model.python_path=["{TESTS}"]',
    "--set",
    "train.batch_size=8",
    "--set",
    "train.epochs=4",
    "--set",
    f"model.fail_step={FAIL_STEP}",
    "-q",
]


def workspace(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir()
    shutil.copy(TESTS / "bad_inputs" / "good.csv", folder / "good.csv")
    return folder


def the_run(folder: Path) -> RunDir:
    (run,) = list_runs(folder / "runs")
    return RunDir(Path(run.path))


def strict_json(line: str) -> object:
    """``line`` parsed as strict JSON: bare NaN or Infinity (not JSON) fails the test."""

    def refuse(constant: str) -> object:
        raise AssertionError(f"bare {constant} in an events.jsonl line: {line[:200]}")

    return json.loads(line, parse_constant=refuse)


def event_dicts(run: RunDir) -> list[dict]:
    """Every line of events.jsonl parsed strictly: a corrupt line fails the test."""
    lines = run.events_path.read_text(encoding="utf-8").splitlines()
    return [strict_json(line) for line in lines]


@dataclass(frozen=True)
class Fault:
    name: str
    model: str
    exit: int
    message: str  # words of the one-line error
    user_error: bool
    steps_before: int  # steps recorded before the run stops
    traceback_words: str = ""  # in the error event's traceback and the CLI's tail


FAULTS = [
    Fault(
        "build raises",
        "fault_models:build_raises",
        2,
        "build_raises(spec) raised RuntimeError",
        True,
        0,
    ),
    # An exception inside the user's own model code is the user's to fix: one line naming
    # the model, the exception and its file:line; the traceback tail stays in the record.
    Fault(
        "forward raises at step N",
        "fault_models:forward_raises",
        2,
        "raised RuntimeError: The size of tensor a",
        True,
        FAIL_STEP - 1,
        traceback_words="fault_models.py",
    ),
    Fault(
        "NaN at step N",
        "fault_models:nan_at_step",
        2,
        f"loss became nan at step {FAIL_STEP}",
        True,
        FAIL_STEP,
    ),
    Fault(
        "CUDA OOM in forward",
        "fault_models:oom_at_step",
        1,
        "out of memory on the device; try a smaller train.batch_size",
        False,
        FAIL_STEP - 1,
        traceback_words="OutOfMemoryError: CUDA out of memory. Tried to allocate",
    ),
]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    root = tmp_path_factory.mktemp("faults")

    def one(fault: Fault) -> tuple:
        folder = workspace(root, fault.name.replace(" ", "_"))
        result = tuirecipe("train", *BASE, "--set", f"model.name={fault.model}", cwd=folder)
        return fault.name, (result, the_run(folder))

    with ThreadPoolExecutor(max_workers=len(FAULTS)) as pool:
        return dict(pool.map(one, FAULTS))


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_a_fault_fails_the_run_cleanly(fault: Fault, outcomes: dict[str, tuple]) -> None:
    result, run = outcomes[fault.name]
    detail = f"exit {result.returncode}\n{result.stderr}"
    assert result.returncode == fault.exit, detail

    # the CLI: one error line; a traceback tail only for errors that are not the user's
    errors = [l for l in result.stderr.splitlines() if l.startswith("tuirecipe: error: ")]
    assert len(errors) == 1 and fault.message in errors[0], detail
    if fault.user_error:
        assert "Traceback" not in result.stderr, detail
    else:
        assert "Traceback (most recent call last)" in result.stderr, detail
        assert fault.traceback_words in result.stderr, detail

    # the run directory: failed, with the message, and the error event
    status = run.read_status()
    assert status["state"] == "failed" and fault.message in status["message"]
    assert run.state() == "failed" and not run.mark_dead_if_stale()
    events = event_dicts(run)
    (error,) = [e for e in events if e["type"] == "error"]
    assert fault.message in error["message"] and error["user_error"] is fault.user_error
    if fault.traceback_words:
        assert fault.traceback_words in error["traceback"]
        assert len(error["traceback"].splitlines()) <= 25
    assert [e["state"] for e in events if e["type"] == "status"][-1] == "failed"

    # nothing lost: every step before the failure is recorded, in order
    steps = [e["step"] for e in events if e["type"] == "step"]
    assert steps == list(range(1, fault.steps_before + 1))
    assert status["step"] == fault.steps_before
    if fault.name.startswith("NaN"):
        # strict JSON on disk (null, and where the NaN was) …
        last = [e for e in events if e["type"] == "step"][-1]
        assert last["loss"] is None and last["nonfinite"] == {"/loss": "NaN"}
        # … read back as the NaN it was (NaN ≠ NaN)
        losses = [e.loss for e in run.events() if e.kind == "step"]
        assert losses[-1] != losses[-1] and all(x == x for x in losses[:-1])


def test_sigkill_of_the_worker_marks_the_run_failed(tmp_path: Path) -> None:
    folder = workspace(tmp_path, "killed")
    result = tuirecipe(
        "train",
        "--set",
        "data.path=good.csv",
        "--set",
        "model.name=fasttext",
        "--set",
        "train.epochs=100000",
        "--set",
        "train.batch_size=8",
        "--detach",
        cwd=folder,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    run = RunDir(folder / "runs" / result.stdout.strip())

    def steps() -> list[int]:
        return [e.step for e in run.events() if e.kind == "step"]

    def at_step_five() -> bool:
        if len(steps()) >= 5:
            return True
        assert run.read_status().get("state") not in ("failed", "finished"), run.read_status()
        return False

    wait_until(at_step_five, 120, "the worker to get to step 5")
    pid = run.read_status()["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(
        lambda: (
            not os.path.exists(f"/proc/{pid}")
            or open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
        ),
        30,
        f"worker {pid} to die",
    )

    assert run.read_status()["state"] == "running"  # nobody has said anything yet …
    assert run.state() == "failed"  # … but a dead worker is seen for what it is
    recorded = steps()
    assert run.mark_dead_if_stale()
    assert not run.mark_dead_if_stale()  # recorded once
    status = run.read_status()
    assert status["state"] == "failed" and f"worker process {pid} is gone" in status["message"]
    events = event_dicts(run)
    (error,) = [e for e in events if e["type"] == "error"]
    assert "killed" in error["message"]
    assert recorded == list(range(1, len(recorded) + 1))  # nothing before the kill lost

    listed = tuirecipe("runs", "--json", cwd=folder, timeout=60)
    (row,) = json.loads(listed.stdout)
    assert row["state"] == "failed"
    table = tuirecipe("runs", cwd=folder, timeout=60)
    assert "failed" in table.stdout and run.id[:15] in table.stdout
