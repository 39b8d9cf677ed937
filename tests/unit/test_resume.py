"""Resume checkpoints in one process: a run interrupted after its checkpoint and resumed
from it gives, step for step, the losses of an uninterrupted run with the same seed; the
events it leaves read back as one curve; a bad checkpoint is refused in one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from support import SUPPORT

from tuirecipe.config import load_config
from tuirecipe.data.prepare import prepare_data
from tuirecipe.errors import RunError
from tuirecipe.events import Log, Resumed, StepMetrics, drop_superseded
from tuirecipe.runs.curves import RunHistory
from tuirecipe.runs.launch import prepare_run
from tuirecipe.runs.resume import prepare_resume, resume_problem
from tuirecipe.runs.rundir import EventWriter, RunDir, read_events
from tuirecipe.train import resume as resuming
from tuirecipe.train.job import prepare_training, run_training

sys.path.insert(0, str(SUPPORT / "user_models"))

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Ctx:
    """The parts of the worker's JobContext the job pipeline uses, for one run dir."""

    def __init__(self, config, run: RunDir) -> None:
        self.config, self.run, self.args, self.control = config, run, {}, None
        self.events: list = []

    def emit(self, event) -> None:
        self.events.append(event)

    def log(self, message: str, level: str = "info") -> None:
        self.emit(Log(message=message, level=level))


def config_for(tmp_path: Path, *overrides: str):
    return load_config(
        None,
        [
            f"runs_dir={tmp_path}",
            "seed=11",
            "model.name=textcnn",  # dropout: the global generator must come back too
            "model.embed_dim=8",
            "model.num_filters=4",
            "data.max_len=24",
            "train.batch_size=512",  # 11 steps an epoch on the demo data
            "train.epochs=2",
            "train.max_steps=16",  # past the first epoch's end: the order carries on
            "train.eval_every=3",
            "train.early_stopping_patience=50",
            "train.schedule=one_cycle",
            "train.checkpoint_every=4",
            *overrides,
        ],
    )


class Crash(Exception):
    pass


_DATA: dict[str, object] = {}


def data_for(config):
    """The demo data, prepared once (every config here splits it the same way)."""
    if "demo" not in _DATA:
        _DATA["demo"] = prepare_data(config)
    return _DATA["demo"]


def train(config, run: RunDir, *, crash_at: int = 0, stop_at: int = 0, resume: bool = False):
    """One worker's life in this process: its events and the trainer."""
    ctx = Ctx(config, run)
    state = resuming.load(run.path) if resume else None
    trainer = prepare_training(ctx, data_for(config), describe="test")
    if state is not None:
        resuming.restore(trainer, state)

    def interrupt(t) -> None:
        if t.step == crash_at:
            raise Crash(f"killed at step {t.step}")
        if t.step == stop_at:
            t.request_stop()

    trainer.add_hook("on_batch_end", interrupt)
    try:
        run_training(trainer, config)
    except Crash:
        pass
    return ctx.events, trainer


def losses(events) -> dict[int, float]:
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert len({e.step for e in steps}) == len(steps), "a step recorded twice"
    return {e.step: e.loss for e in steps}


def counters(events) -> dict[int, tuple[int, int]]:
    """Per step: the examples and the tokens trained on so far."""
    return {e.step: (e.examples, e.tokens) for e in events if isinstance(e, StepMetrics)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[dict[int, float], dict, dict]:
    tmp = tmp_path_factory.mktemp("reference")
    config = config_for(tmp)
    events, trainer = train(config, prepare_run(config))
    return losses(events), trainer.last_eval, counters(events)


def test_a_run_crashed_after_its_checkpoint_resumes_on_the_same_curve(
    tmp_path: Path, reference
) -> None:
    want, want_eval, want_counts = reference
    config = config_for(tmp_path)
    run = prepare_run(config)
    first, _ = train(config, run, crash_at=10)  # checkpoints at 4 and 8; dies at 10
    assert max(losses(first)) == 10
    assert json.loads((run.path / "resume.json").read_text())["step"] == 8
    second, trainer = train(config, run, resume=True)
    resumed = [e for e in second if isinstance(e, Resumed)]
    assert [e.step for e in resumed] == [8]
    assert min(losses(second)) == 9  # the step count goes on from the checkpoint
    combined = drop_superseded(first + second)
    got = losses(combined)  # raises if a step is left twice
    assert list(got) == list(range(1, 17))
    assert got == pytest.approx(want, abs=1e-6, rel=0)
    # examples and tokens (throughput's counts) go on from the checkpoint's, not from 0
    assert counters(combined) == want_counts
    assert trainer.last_eval["loss"] == pytest.approx(want_eval["loss"], abs=1e-6)
    # the run finished: nothing is left to resume from
    assert not (run.path / "resume.pt").exists() and not (run.path / "resume.json").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_a_resumed_run_follows_the_uninterrupted_curve(tmp_path: Path) -> None:
    # the CUDA generator comes back too; kernels may differ in their last bits between
    # runs, so the tolerance is the fixed-seed check's (checks.seed_cuda_tolerance)
    config = config_for(tmp_path, "train.device=cuda", "train.log_every=5")
    want = losses(train(config, prepare_run(config))[0])
    run = prepare_run(config)
    first, _ = train(config, run, crash_at=10)
    second, _ = train(config, run, resume=True)
    got = losses(drop_superseded(first + second))
    assert list(got) == list(range(1, 17))
    assert got == pytest.approx(want, rel=1e-5)


def test_a_stopped_run_resumes_from_where_it_stopped(tmp_path: Path, reference) -> None:
    want = reference[0]
    config = config_for(tmp_path)
    run = prepare_run(config)
    first, trainer = train(config, run, stop_at=11)  # the last step of the first epoch
    assert trainer.end_state == "stopped" and trainer.steps_per_epoch == 11
    assert json.loads((run.path / "resume.json").read_text())["step"] == 11
    second, _ = train(config, run, resume=True)
    got = losses(drop_superseded(first + second))
    assert list(got) == list(range(1, 17))
    assert got == pytest.approx(want, abs=1e-6, rel=0)


def test_the_interruption_is_what_the_comparison_catches(tmp_path: Path, reference) -> None:
    # the control: resuming with the data order or dropout not restored leaves the curve
    want = reference[0]
    config = config_for(tmp_path)
    run = prepare_run(config)
    first, _ = train(config, run, crash_at=10)
    state = resuming.load(run.path)
    state["rng"]["torch"] = torch.manual_seed(0).get_state()  # dropout draws other masks
    ctx = Ctx(config, run)
    trainer = prepare_training(ctx, data_for(config), describe="test")
    resuming.restore(trainer, state)
    run_training(trainer, config)
    got = losses(drop_superseded(first + ctx.events))
    assert got[9] != pytest.approx(want[9], abs=1e-6, rel=0)


def test_readers_see_one_curve_from_an_events_file_with_a_resume(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    writer = EventWriter(run.events_path)
    for step in range(1, 6):
        writer.write(StepMetrics(step=step, epoch=0.0, loss=float(step), lr=0.1))
    writer.write(Resumed(step=3))
    for step in range(4, 8):
        writer.write(StepMetrics(step=step, epoch=0.0, loss=10.0 + step, lr=0.1))
    writer.close()
    raw = [json.loads(line) for line in run.events_path.read_text().splitlines()]
    assert [e["step"] for e in raw if e["type"] == "step"] == [1, 2, 3, 4, 5, 4, 5, 6, 7]
    got = losses(run.events())
    assert got == {1: 1.0, 2: 2.0, 3: 3.0, 4: 14.0, 5: 15.0, 6: 16.0, 7: 17.0}
    # a follower that read the first part already cuts back when the resume arrives
    events, _ = read_events(run.events_path)
    history = RunHistory()
    cut = next(i for i, e in enumerate(events) if isinstance(e, Resumed))
    first_part = events[:cut]  # as a live follower saw it before the crash
    history.add_new(first_part)
    history.add_new(
        [Resumed(step=3), *(StepMetrics(step=s, epoch=0.0, loss=10.0 + s, lr=0.1) for s in (4, 5))]
    )
    assert list(history.loss.x) == [1, 2, 3, 4, 5] and list(history.loss.y) == [1, 2, 3, 14, 15]
    fresh = RunHistory()
    fresh.add(run.events())
    assert list(fresh.loss.y) == [1, 2, 3, 14, 15, 16, 17]


# -- refusing what cannot be resumed --------------------------------------------------------


def stopped_run(tmp_path: Path) -> RunDir:
    config = config_for(tmp_path, "train.max_steps=8", "train.checkpoint_every=4")
    run = prepare_run(config)
    train(config, run, stop_at=5)
    run.write_status(state="stopped", pid=None)
    return run


def test_a_damaged_checkpoint_is_refused_in_one_line(tmp_path: Path) -> None:
    run = stopped_run(tmp_path)
    assert resume_problem(run) is None
    path = run.path / "resume.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    problem = resume_problem(run)
    assert problem is not None and "damaged" in problem and "\n" not in problem
    with pytest.raises(RunError, match="damaged"):
        prepare_resume(run)
    assert run.read_status()["state"] == "stopped"  # nothing was changed
    with pytest.raises(resuming.ResumeError, match="damaged") as info:
        resuming.load(run.path)  # the worker's own check, without resume.json
    assert "\n" not in str(info.value)
    (run.path / "resume.json").unlink()
    path.write_bytes(b"PK\x03\x04 not a checkpoint")
    with pytest.raises(resuming.ResumeError, match="damaged"):
        resuming.load(run.path)


def test_finished_running_and_checkpointless_runs_are_refused(tmp_path: Path) -> None:
    config = config_for(tmp_path, "train.max_steps=6", "train.checkpoint_every=0")
    run = prepare_run(config)
    train(config, run, stop_at=3)
    run.write_status(state="stopped", pid=None)
    assert "no resume checkpoint" in (resume_problem(run) or "")
    run.write_status(state="finished")
    assert "finished" in (resume_problem(run) or "")
    check = prepare_run(config, "check")
    check.write_status(state="failed")
    assert "only training runs" in (resume_problem(check) or "")


def test_prepare_resume_records_it_and_hands_the_run_back_to_a_worker(tmp_path: Path) -> None:
    run = stopped_run(tmp_path)
    (run.path / "gone.json").write_text("{}")
    info = prepare_resume(run)
    assert info["step"] == 5
    status = run.read_status()
    assert status["state"] == "created" and status["step"] == 5 and status["pid"] is None
    assert json.loads(run.job_path.read_text())["args"]["resume"] is True
    [record] = run.read_meta()["resumes"]
    assert record["from_step"] == 5 and record["previous_state"] == "stopped"
    assert not (run.path / "gone.json").exists()
    with pytest.raises(RunError, match="created"):
        prepare_resume(run)  # already handed over


def test_a_duration_checkpoints_by_the_clock_not_by_the_step(monkeypatch, tmp_path) -> None:
    clock = [1000.0]
    monkeypatch.setattr(resuming.time, "monotonic", lambda: clock[0])
    saved: list[int] = []
    monkeypatch.setattr(resuming, "save", lambda trainer, folder, **_: saved.append(trainer.step))

    class Step:
        step = 0

    every = resuming.ResumeCheckpoint(tmp_path, "10m")
    for seconds in (100, 400, 120, 30, 600, 1):  # clock time each step takes
        Step.step += 1
        clock[0] += seconds
        every.on_step_end(Step)  # type: ignore[arg-type]
    assert saved == [3, 5]  # 620 s after the start, then 630 s after that save
    counted = resuming.ResumeCheckpoint(tmp_path, 2)
    saved.clear()
    for step in range(1, 6):
        Step.step = step
        counted.on_step_end(Step)  # type: ignore[arg-type]
    assert saved == [2, 4]


def test_a_console_that_hears_of_the_resume_before_the_old_steps_skips_them() -> None:
    # the bus delivers a resumed event at once and step events in batches: the replaced
    # worker's steps (written before the resume) can arrive after it
    history = RunHistory()
    history.add_new(
        [StepMetrics(step=s, epoch=0.0, loss=float(s), lr=0.1, t=100.0 + s) for s in (1, 2, 3)]
    )
    history.add_new([Resumed(step=2, t=200.0)])
    late = [StepMetrics(step=s, epoch=0.0, loss=float(s), lr=0.1, t=100.0 + s) for s in (4, 5)]
    new = [StepMetrics(step=s, epoch=0.0, loss=10.0 + s, lr=0.1, t=200.0 + s) for s in (3, 4)]
    assert history.add_new(late + new) == new
    assert list(history.loss.x) == [1, 2, 3, 4] and list(history.loss.y) == [1, 2, 13, 14]
