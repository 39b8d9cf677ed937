"""``tuirecipe.track``: a user's own loop recorded as a run directory the readers know.

Names mapped onto the events the console draws, the run record (config, meta with data
hash, notes, status), the end states (finished, failed with the error line, stopped), and
the promise that nothing after ``start`` raises into the loop (a full disk: one warning).
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import tomllib
import warnings

import pytest

from tuirecipe import track
from tuirecipe.errors import UserError
from tuirecipe.events import Error, EvalMetrics, RunStatus, StepMetrics, TrackedMetrics
from tuirecipe.runs.jobs import JobClient, Signalled
from tuirecipe.runs.listing import summarize
from tuirecipe.runs.rundir import RunDir


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("loss", ("train", "loss")),
        ("train_loss", ("train", "loss")),
        ("train/loss", ("train", "loss")),
        ("train_loss_step", ("train", "loss")),
        ("train_loss_epoch", ("train", "loss_epoch")),
        ("learning_rate", ("train", "lr")),
        ("val_loss", ("dev", "loss")),
        ("val_accuracy", ("dev", "acc")),
        ("eval_loss", ("dev", "loss")),
        ("dev_acc", ("dev", "acc")),
        ("loss/val", ("dev", "loss")),
        ("validation-f1", ("dev", "f1")),
        ("test_acc", ("test", "acc")),
        ("grad_norm", ("train", "grad_norm")),
        ("val", ("train", "val")),  # a split word alone is a name, not a split
    ],
)
def test_logged_names_map_onto_splits_and_metrics(name, expected):
    assert track.split_metric(name) == expected


def _loop(run: track.Run, steps: int = 30) -> None:
    for step in range(1, steps + 1):
        run.log(step, train_loss=1.0 / step, lr=0.01, train_acc=0.5, epoch=step / 10)
        if step % 10 == 0:
            run.log(step, val_loss=2.0 / step, val_accuracy=0.5 + step / 100, grad_norm=1.5)


def test_a_tracked_loop_is_a_run_the_readers_know(tmp_path):
    data = tmp_path / "train.csv"
    data.write_text("text,label\nhello,a\nbye,b\n", encoding="utf-8")
    run = track.start(
        name="mine",
        config={"seed": 3, "train": {"lr": 0.01, "note": None}, "model": {"dims": (4, 8)}},
        motivation="try a smaller lr",
        runs_dir=tmp_path / "runs",
        data=data,
        total_steps=30,
    )
    _loop(run)
    run.note("first note")
    run.note("second note")
    run.finish()
    events = run.dir.events()
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert [e.step for e in steps] == list(range(1, 31))
    assert steps[-1].loss == pytest.approx(1 / 30) and steps[-1].lr == 0.01
    assert steps[-1].acc == 0.5 and steps[-1].epoch == 3.0
    evals = [e for e in events if isinstance(e, EvalMetrics)]
    assert [(e.step, e.split) for e in evals] == [(10, "dev"), (20, "dev"), (30, "dev")]
    assert evals[-1].metrics == {"loss": pytest.approx(2 / 30), "acc": pytest.approx(0.8)}
    extra = [e for e in events if isinstance(e, TrackedMetrics)]
    assert [e.values for e in extra] == [{"grad_norm": 1.5}] * 3
    assert isinstance(events[-1], RunStatus) and events[-1].state == "finished"

    config = tomllib.loads(run.dir.config_path.read_text(encoding="utf-8"))
    assert config == {"seed": 3, "train": {"lr": 0.01}, "model": {"dims": [4, 8]}}
    meta = run.dir.read_meta()
    assert meta["job"] == "track" and meta["motivation"] == "try a smaller lr"
    assert meta["data"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert meta["seed"] == 3 and "git" in meta["code"]
    assert run.dir.read_notes() == "first note\nsecond note\n"
    status = run.dir.read_status()
    assert status["state"] == "finished" and status["step"] == 30
    assert status["total_steps"] == 30
    assert status["pid"] == os.getpid() and status["pid_start"] and status["host"]

    summary = summarize(run.dir)
    assert summary.job == "track" and summary.state == "finished" and summary.last_step == 30
    assert summary.best["acc"] == pytest.approx(0.8)  # the lowest dev loss: the last one
    assert summary.notes_first_line == "first note"


def test_a_running_run_is_alive_while_its_process_is(tmp_path):
    run = track.start(name="live", runs_dir=tmp_path)
    try:
        assert run.dir.state() == "running"  # this very process: alive
        run.log(5, loss=0.3)
        run.flush()
        assert [e.step for e in run.dir.events() if isinstance(e, StepMetrics)] == [5]
    finally:
        run.finish("stopped", "enough")
    assert run.dir.state() == "stopped"
    run.log(6, loss=0.2)  # after the end: ignored, never raises
    run.finish("failed")  # a second end: ignored
    assert run.dir.read_status()["state"] == "stopped"


def test_the_background_thread_writes_without_a_flush(tmp_path):
    from support.waiting import wait_until

    run = track.start(name="bg", runs_dir=tmp_path, flush_seconds=0.05)
    try:
        run.log(1, loss=0.9)
        wait_until(
            lambda: any(isinstance(e, StepMetrics) for e in run.dir.events()),
            10,
            "the step to reach events.jsonl",
        )
    finally:
        run.finish()


def test_an_exception_inside_with_fails_the_run_with_its_line(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with track.start(name="boom", runs_dir=tmp_path) as run:
            run.log(7, loss=0.5)
            1 / 0  # noqa: B018
    status = run.dir.read_status()
    assert status["state"] == "failed"
    assert status["message"] == "ZeroDivisionError: division by zero"
    assert status["step"] == 7
    errors = [e for e in run.dir.events() if isinstance(e, Error)]
    assert len(errors) == 1 and errors[0].step == 7 and "1 / 0" in errors[0].traceback


def test_ctrl_c_inside_with_stops_the_run(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with track.start(name="ctrlc", runs_dir=tmp_path) as run:
            raise KeyboardInterrupt
    assert run.dir.read_status()["state"] == "stopped"
    assert not [e for e in run.dir.events() if isinstance(e, Error)]


def test_a_full_disk_is_one_warning_and_the_loop_goes_on(tmp_path, monkeypatch):
    from tuirecipe.fileio import storage_error

    run = track.start(name="full", runs_dir=tmp_path)

    def full(*_args, **_kwargs):
        raise storage_error(OSError(errno.ENOSPC, "No space left on device"), run.dir.events_path)

    monkeypatch.setattr(run._writer, "write_lines", full)
    monkeypatch.setattr(run.dir, "write_status", full)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(1, 4):
            run.log(step, loss=1.0)
            run.flush()
        run.note("x")  # notes.md is writable here: no second warning anyway
        run.finish()
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1, messages
    assert "no space left on device" in messages[0] and "events.jsonl" in messages[0]


def test_a_value_that_is_not_a_number_is_skipped_with_a_warning(tmp_path):
    run = track.start(name="odd", runs_dir=tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.log(1, loss=0.5, comment="hello")
        run.log("two", loss=0.4)  # a step that is no number: dropped
        run.finish()
    steps = [e for e in run.dir.events() if isinstance(e, StepMetrics)]
    assert [(e.step, e.loss) for e in steps] == [(1, 0.5)]
    assert len([w for w in caught if "comment" in str(w.message)]) == 1


def test_a_run_without_train_figures_still_finishes_at_its_step(tmp_path):
    run = track.start(name="devonly", runs_dir=tmp_path)
    run.log(4, val_loss=0.7)
    run.finish()
    assert not [e for e in run.dir.events() if isinstance(e, StepMetrics)]
    assert summarize(run.dir).last_step == 4 and summarize(run.dir).best == {"loss": 0.7}


def test_bad_arguments_are_user_errors_before_any_run_is_made(tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(UserError, match="not a valid run name"):
        track.start(name="a/b", runs_dir=runs)
    with pytest.raises(UserError, match="cannot read the config") as missing:
        track.start(name="x", config=tmp_path / "missing.toml", runs_dir=runs)
    assert "missing.toml" in str(missing.value)
    bad = tmp_path / "bad.toml"
    bad.write_text("lr = = 1\n", encoding="utf-8")
    with pytest.raises(UserError, match="not a valid config file"):
        track.start(name="x", config=bad, runs_dir=runs)
    with pytest.raises(UserError, match="cannot read the data file"):
        track.start(name="x", data=tmp_path / "nope.csv", runs_dir=runs)
    with pytest.raises(UserError, match="no run 'ghost'"):
        track.start(name="x", parent="ghost", runs_dir=runs)
    assert not runs.exists() or not any(p.is_dir() for p in runs.iterdir())


def test_a_config_file_and_a_parent_record_the_keys_changed(tmp_path):
    first = tmp_path / "a.toml"
    first.write_text("seed = 0\n[train]\nlr = 0.01\n", encoding="utf-8")
    parent = track.start(name="p", config=first, runs_dir=tmp_path / "runs")
    parent.finish()
    child = track.start(
        name="c",
        config={"seed": 0, "train": {"lr": 0.003}},
        runs_dir=tmp_path / "runs",
        parent=parent.id,
    )
    child.finish()
    assert parent.dir.read_meta()["config_source"] == str(first.resolve())
    assert child.dir.read_meta()["changed"] == {"train.lr": [0.01, 0.003]}
    assert summarize(child.dir).parent == parent.id


def test_the_job_client_never_signals_a_tracked_script(tmp_path):
    run = track.start(name="mine", runs_dir=tmp_path)
    try:
        for action in ("stop", "pause", "resume"):
            assert JobClient().control(run.dir, action) is Signalled.NO_WORKER
    finally:
        run.finish()


def test_importing_track_loads_neither_torch_nor_the_console():
    code = (
        "import sys, tuirecipe.track; "
        "print(sorted(m for m in ('torch', 'textual', 'rich') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert out.strip() == "[]"


def test_a_dead_process_is_recorded_failed_at_the_last_logged_step(tmp_path):
    """The reader's side of a killed script: a status naming a process that is gone."""
    run = track.start(name="dead", runs_dir=tmp_path)
    _loop(run, 12)
    run.flush()
    run.state = "gone"  # as if the process had died: no end is written
    # a pid that is no process (the reader's check: pid and start time)
    run.dir.write_status(pid=2**22 + 12345, pid_start="1")
    summary = summarize(RunDir(run.path))
    assert summary.state == "failed" and summary.last_step == 12
    errors = [e for e in run.dir.events() if isinstance(e, Error)]
    assert len(errors) == 1 and errors[0].step == 12 and "is gone" in errors[0].message


@pytest.mark.parametrize(
    "fields",
    [
        {"step": 3, "epoch": 0.5, "loss": 0.25, "lr": 0.001, "acc": 0.5, "examples": 96},
        {"step": 4, "epoch": 0.0, "loss": float("nan"), "lr": float("nan"), "acc": None},
        {"step": 5, "epoch": 1.0, "loss": float("inf"), "lr": 0.1, "acc": None},
    ],
)
def test_the_fast_step_line_is_the_events_own_form(fields):
    from tuirecipe.events import from_json

    full = {"examples": 0, "elapsed": 1.5, **fields}
    line = track.step_line(1234.5, **full)
    assert line == StepMetrics(**full, t=1234.5).to_json()
    assert from_json(line).to_json() == line


def test_tuirecipe_stop_refuses_a_tracked_script_in_one_line(tmp_path, capsys):
    from tuirecipe.cli import main

    run = track.start(name="mine", runs_dir=tmp_path)
    try:
        assert main(["stop", run.id, "--runs-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert "recorded by its own script" in err and str(os.getpid()) in err
        assert run.dir.state() == "running"
    finally:
        run.finish()


def test_predictions_are_recorded_for_the_predictions_view(tmp_path):
    from tuirecipe.events import PredictionsSnapshot

    run = track.start(name="preds", runs_dir=tmp_path)
    run.log_predictions(
        10, [{"text": "good film", "label": "pos", "pred": "pos", "prob": 0.9}, {"text": "meh"}]
    )
    run.finish()
    [snapshot] = [e for e in run.dir.events() if isinstance(e, PredictionsSnapshot)]
    assert snapshot.step == 10
    assert snapshot.rows[0] == {
        "index": 0,
        "text": "good film",
        "label": "pos",
        "pred": "pos",
        "prob": 0.9,
        "correct": True,
    }
    assert snapshot.rows[1] == {"index": 1, "text": "meh", "label": "", "pred": ""}


def test_a_loss_tensor_is_queued_without_its_graph(tmp_path):
    torch = pytest.importorskip("torch")
    run = track.start(name="tensor", runs_dir=tmp_path, flush_seconds=60)
    weight = torch.ones(3, requires_grad=True)
    loss = (weight * 2).sum()
    run.log(1, loss=loss, acc=torch.tensor(0.5))
    queued = run._queue[0][3]
    assert not queued["loss"].requires_grad and queued["loss"].grad_fn is None
    run.finish()
    [step] = [e for e in run.dir.events() if isinstance(e, StepMetrics)]
    assert (step.loss, step.acc) == (6.0, 0.5)
