"""Reading a run for the Train pane and finding the runs to re-attach to (core, plain
pytest, no Textual)."""

from __future__ import annotations

import os
import time

from support.recorded_run import T0, write_recorded_run

from tuirecipe.events import EvalMetrics, StepMetrics
from tuirecipe.runs.history import (
    live_runs,
    load_run,
    read_total_steps,
    stamp_line,
    status_counts,
)
from tuirecipe.runs.rundir import atomic_write_json


def _make_live(run, started: float) -> None:
    status = run.read_status()
    status.update(state="running", pid=os.getpid(), started=started, updated=time.time())
    status.pop("host", None)
    atomic_write_json(run.status_path, status)


def test_load_run_reads_history_last_events_and_meta(tmp_path):
    run = write_recorded_run(tmp_path / "runs")
    loaded = load_run(run)
    assert loaded.state == "finished" and loaded.total_steps == 200
    assert len(loaded.history.loss) == 200
    assert loaded.last_step.step == 200 and loaded.last_eval.step == 200
    assert [s.step for s in loaded.snapshots] == [50, 100, 150, 200]
    assert loaded.motivation == "baseline to beat"
    assert loaded.parent == "" and loaded.change == ""


def test_load_run_names_the_change_against_the_parent(tmp_path):
    runs = tmp_path / "runs"
    write_recorded_run(runs, "parent-run")
    child = write_recorded_run(
        runs, "child-run", lr=0.003, parent="parent-run", changed={"train.lr": [0.001, 0.003]}
    )
    loaded = load_run(child)
    assert loaded.parent == "parent-run" and loaded.change == "train.lr 0.001→0.003"


def test_live_runs_lists_running_workers_newest_first_and_skips_the_rest(tmp_path):
    runs = tmp_path / "runs"
    finished = write_recorded_run(runs, "finished-run")
    older = write_recorded_run(runs, "older-run")
    newer = write_recorded_run(runs, "newer-run")
    dead = write_recorded_run(runs, "dead-run")
    _make_live(older, T0 + 10)
    _make_live(newer, T0 + 20)
    _make_live(dead, T0 + 30)
    status = dead.read_status()
    status["pid"] = 2**22 + 12345  # no such process: the run counts as failed
    atomic_write_json(dead.status_path, status)
    assert [r.id for r in live_runs(runs)] == [newer.id, older.id]
    assert finished.id not in [r.id for r in live_runs(runs)]
    assert live_runs(tmp_path / "no-such-folder") == []


def test_read_total_steps_is_none_until_the_worker_writes_it(tmp_path):
    run = write_recorded_run(tmp_path / "runs")
    assert read_total_steps(run) == 200
    atomic_write_json(run.status_path, {"state": "created"})
    assert read_total_steps(run) is None


def test_stamp_line_names_step_metrics_and_the_parent(tmp_path):
    runs = tmp_path / "runs"
    write_recorded_run(runs, "parent-run")
    child = load_run(
        write_recorded_run(
            runs, "child-run", lr=0.003, parent="parent-run", changed={"train.lr": [0.001, 0.003]}
        )
    )
    step = StepMetrics(step=7, epoch=0.5, loss=0.25, lr=0.001, acc=0.5)
    dev = EvalMetrics(step=5, epoch=0.4, split="dev", metrics={"loss": 0.3, "acc": 0.75})
    now = time.mktime((2024, 3, 1, 12, 30, 0, 0, 0, -1))
    line = stamp_line(step, dev, child, now=now)
    assert line == (
        "- 2024-03-01 12:30 · step 7 (epoch 0.50) train loss 0.2500 acc 0.500"
        " · dev @ 5: loss 0.3000 acc 0.7500 · vs parent parent-run: train.lr 0.001→0.003"
    )
    assert stamp_line(None, None, load_run(write_recorded_run(runs, "solo"))).endswith(
        "· no parent run"
    )
    assert stamp_line(now=now) == "- 2024-03-01 12:30"


def test_status_counts_groups_check_results():
    assert status_counts({}) == ""
    assert status_counts({"a": "pass", "b": "warn", "c": "pass"}) == "checks: 2 pass, 1 warn"
