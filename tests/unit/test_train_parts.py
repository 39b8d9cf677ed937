"""The trainer's parts: the optimizer factory and scheduler, callbacks, the job pipeline
shared by the train and cv-fold jobs, and the checks' short runs training exactly like a
run of the trainer (same seed and config: the same losses, bit for bit)."""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from support import SUPPORT
from torch.nn import functional as F

from tuirecipe.checks.context import CheckContext, short_run_config
from tuirecipe.checks.lr_range import LrRange as LrRangeCheck
from tuirecipe.checks.runner import run_one
from tuirecipe.checks.torchutil import subset_split
from tuirecipe.config import TrainConfig, config_from_dict, load_config
from tuirecipe.data.prepare import prepare_data
from tuirecipe.errors import ModelError
from tuirecipe.events import Log, PredictionsSnapshot, StepMetrics
from tuirecipe.models import build_model, spec_for
from tuirecipe.runs.launch import prepare_run
from tuirecipe.train import (
    Checkpoint,
    DevPredictionsFile,
    EarlyStopping,
    LrRange,
    NumericsError,
    Trainer,
    TrainingSplits,
    make_optimizer,
    seed_everything,
)
from tuirecipe.train.callbacks import SAMPLE_TEXT_CHARS, clip_text
from tuirecipe.train.job import prepare_training, run_training

TESTS = SUPPORT  # fault_models.py, user_models/
sys.path.insert(0, str(TESTS / "user_models"))
sys.path.insert(0, str(TESTS))
from tiny_data import make_data  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model(data, name: str = "textcnn", seed: int = 0):
    config = config_from_dict(
        {"model": {"name": name, "embed_dim": 16, "hidden_dim": 16, "num_filters": 8}}
    )
    seed_everything(seed)
    return build_model(config, spec_for(config, data))


def step_events(events) -> list[StepMetrics]:
    return [e for e in events if isinstance(e, StepMetrics)]


class JobCtx:
    """What the job pipeline reads from the worker's JobContext, without a worker."""

    def __init__(self, config, job: str = "train", args=None) -> None:
        self.config, self.args = config, args or {}
        self.run = prepare_run(config, job, args=self.args)
        self.events: list = []
        self.control = None

    def emit(self, event) -> None:
        self.events.append(event)

    def log(self, message: str, level: str = "info") -> None:
        self.emit(Log(message=message, level=level))


def demo_config(tmp_path: Path, *overrides: str):
    return load_config(
        None,
        [
            f"runs_dir={tmp_path}",
            "seed=5",
            "model.name=textcnn",  # dropout: the global generator's state matters
            "model.embed_dim=16",
            "model.num_filters=8",
            "train.batch_size=512",  # 11 steps an epoch on the demo data
            *overrides,
        ],
    )


# -- the checks' short run is the trainer ---------------------------------------------------


@pytest.mark.parametrize("loss", ["cross_entropy", "focal"])
def test_short_run_and_the_train_job_give_identical_losses(tmp_path: Path, loss: str) -> None:
    steps = 14  # past the end of the first epoch: the data order carries on
    config = demo_config(tmp_path, "train.max_steps=14", "train.eval_every=5", f"train.loss={loss}")
    data = prepare_data(config)
    ctx = JobCtx(config)
    result = run_training(prepare_training(ctx, data, describe="test"), config)
    job_losses = [e.loss for e in step_events(ctx.events)]
    assert result.steps == steps and len(job_losses) == steps

    check_ctx = CheckContext(config, data=data, device=torch.device("cpu"))
    short = check_ctx.short_train(check_ctx.fresh_model(), steps=steps, evaluate_dev=False)
    assert short.losses == job_losses  # float equality: bit for bit
    trained = torch.load(ctx.run.path / "last.pt")  # model.pt is the kept (best) one
    for name, value in short.model.state_dict().items():
        assert torch.equal(value, trained[name]), name

    other = demo_config(tmp_path, f"train.loss={loss}", "seed=6")
    other_ctx = CheckContext(other, data=data, device=torch.device("cpu"))
    assert other_ctx.short_train(other_ctx.fresh_model(), steps=3).losses != job_losses[:3]


def test_short_run_equals_a_plain_trainer_on_the_same_split() -> None:
    data = make_data(n_train=96, n_dev=32, seed=3)
    config = config_from_dict(
        {
            "seed": 2,
            "model": {"name": "textcnn", "embed_dim": 16, "num_filters": 8},
            "train": {"batch_size": 16, "lr": 1e-2, "class_weights": True},
        }
    )
    ctx = CheckContext(config, data=data, device=torch.device("cpu"))
    split = subset_split(data.train, np.arange(40))
    short = ctx.short_train(
        ctx.fresh_model(), steps=7, train_split=split, batch_size=8, evaluate_dev=False
    )
    model = ctx.fresh_model()
    seed_everything(2)
    events: list = []
    Trainer(
        model,
        TrainingSplits.of(data, train=split, dev=subset_split(split, [])),
        short_run_config(config.train, 7, batch_size=8),
        seed=2,
        emit=events.append,
        callbacks=[],
    ).run()
    assert short.losses == [e.loss for e in step_events(events)] and len(short.losses) == 7


def test_the_lr_range_check_trains_with_the_trainer_and_its_loss() -> None:
    data = make_data(n_train=128, n_dev=16, seed=1)
    firsts = {}
    for loss in ("cross_entropy", "focal"):
        config = config_from_dict(
            {
                "model": {"name": "fasttext", "embed_dim": 16},
                "train": {"batch_size": 16, "loss": loss},
                "checks": {"lr_min": 1e-4, "lr_max": 10.0, "lr_steps": 30},
            }
        )
        ctx = CheckContext(config, data=data, device=torch.device("cpu"))
        evidence = run_one(LrRangeCheck, ctx).evidence
        # The same sweep, by hand: the trainer with the LR range callback.
        model = ctx.fresh_model()
        seed_everything(config.seed)
        sweep = LrRange(evidence["lr"], diverged=lambda losses: False)
        cfg = short_run_config(config.train, len(evidence["lr"]), lr=evidence["lr"][0])
        splits = TrainingSplits.of(data, dev=subset_split(data.train, []))
        Trainer(model, splits, cfg, seed=config.seed, emit=lambda e: None, callbacks=[sweep]).run()
        assert sweep.used == evidence["lr"]
        assert sweep.losses == evidence["loss"]
        firsts[loss] = evidence["loss"][0]
    # focal loss (gamma 2) is well below cross-entropy for the same first batch
    assert firsts["focal"] < 0.5 * firsts["cross_entropy"]


class DetachedOutput(torch.nn.Module):
    """Trainable parameters, but an output autograd cannot trace back to them."""

    def __init__(self, data) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(len(data.vocab), 8, padding_idx=0)
        self.head = torch.nn.Linear(8, len(data.label_names))

    def forward(self, ids, mask):
        return self.head(self.embedding(ids).mean(1)).detach()


def lr_range_context(data, model_factory) -> CheckContext:
    config = config_from_dict(
        {"train": {"batch_size": 16}, "checks": {"lr_steps": 20}},
    )
    ctx = CheckContext(config, data=data, device=torch.device("cpu"))
    ctx.fresh_model = lambda seed=None: model_factory(data)  # type: ignore[method-assign]
    return ctx


def test_lr_range_check_when_no_step_can_be_taken_or_the_loss_turns_nan() -> None:
    data = make_data(n_train=128, n_dev=16, seed=1)
    result = run_one(LrRangeCheck, lr_range_context(data, DetachedOutput))
    assert result.status == "warn" and "never fell" in result.summary
    assert result.evidence["stopped"] == "the loss does not depend on any trainable parameter"
    assert len(result.evidence["loss"]) == 1

    config = config_from_dict(
        {"model": {"name": "tr_nan_model.model:build"}}, base_dir=str(TESTS / "user_models")
    )
    result = run_one(
        LrRangeCheck, lr_range_context(data, lambda d: build_model(config, spec_for(config, d)))
    )
    lrs = result.evidence["lr"]
    assert len(lrs) == 2  # the third step's loss was NaN: not recorded
    assert result.evidence["stopped"].startswith("loss became nan at lr ")
    assert result.numbers["diverged_at"] == lrs[-1]


# -- optimizer factory, scheduler, seeding ------------------------------------------------


def test_make_optimizer_is_adamw_over_every_parameter() -> None:
    model = tiny_model(make_data(), "fasttext")
    next(model.parameters()).requires_grad_(False)  # frozen ones are included (no grad)
    opt = make_optimizer(model, TrainConfig(lr=0.02, weight_decay=0.3))
    assert isinstance(opt, torch.optim.AdamW)
    (group,) = opt.param_groups
    assert group["lr"] == 0.02 and group["weight_decay"] == 0.3
    assert [id(p) for p in group["params"]] == [id(p) for p in model.parameters()]


def test_a_given_optimizer_and_scheduler_are_used() -> None:
    data = make_data(n_train=64, n_dev=8)
    cfg = TrainConfig(epochs=1, batch_size=8, lr=0.1, eval_every=0)
    runs = {}
    for name in ("default", "sgd"):
        model = tiny_model(data, "fasttext")
        opt = torch.optim.SGD(model.parameters(), lr=0.1) if name == "sgd" else None
        sched = torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5) if opt is not None else None
        events: list = []
        trainer = Trainer(
            model, data, cfg, seed=0, emit=events.append, optimizer=opt, scheduler=sched
        )
        assert (trainer.optimizer is opt) if opt is not None else True
        trainer.run()
        runs[name] = step_events(events)
    assert [e.lr for e in runs["default"]] == [0.1] * 8
    # each step reports the rate it used, the scheduler halving it after every step
    assert [e.lr for e in runs["sgd"]] == pytest.approx([0.1 * 0.5**k for k in range(8)])
    assert runs["sgd"][0].loss == runs["default"][0].loss  # same weights, same first batch
    assert runs["sgd"][1].loss != runs["default"][1].loss


def test_the_trainer_leaves_the_global_generators_alone() -> None:
    data = make_data(n_train=64, n_dev=8)
    model = tiny_model(data)
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    before = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
    trainer = Trainer(model, data, TrainConfig(epochs=1, batch_size=8), seed=9, emit=print)
    after = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
    assert before[0] == after[0] and np.array_equal(before[1], after[1])
    assert torch.equal(before[2], after[2])
    # the data order comes from the trainer's own generator, made from its seed
    expected = torch.Generator().manual_seed(9)
    assert torch.equal(
        torch.randperm(64, generator=trainer.generator), torch.randperm(64, generator=expected)
    )


# -- callbacks -------------------------------------------------------------------------------


def test_prediction_samples_clip_long_texts() -> None:
    data = make_data(n_train=64, n_dev=4)
    data.dev.texts[0] = "x" * 500
    events: list = []
    Trainer(
        tiny_model(data, "fasttext"),
        data,
        TrainConfig(epochs=1, batch_size=16),
        seed=0,
        emit=events.append,
    ).run()
    (snap,) = [e for e in events if isinstance(e, PredictionsSnapshot)]
    assert [r["index"] for r in snap.rows] == [int(r) for r in data.dev.rows]
    row = snap.rows[0]
    assert len(row["text"]) == SAMPLE_TEXT_CHARS and row["text"].endswith("…")
    assert clip_text("abc", 3) == "abc" and clip_text("abcd", 3) == "ab…"


def test_dev_predictions_file_and_checkpoint(tmp_path: Path) -> None:
    data = make_data(n_train=64, n_dev=12)
    model = tiny_model(data, "fasttext")
    trainer = Trainer(
        model,
        data,
        TrainConfig(epochs=2, batch_size=16, eval_every=0),
        seed=0,
        emit=lambda e: None,
        callbacks=[DevPredictionsFile(tmp_path / "dev.json"), Checkpoint(tmp_path / "m.pt")],
    )
    trainer.run()
    written = json.loads((tmp_path / "dev.json").read_text())
    assert written["step"] == 8 and written["labels"] == data.label_names
    assert [r["row"] for r in written["rows"]] == [int(r) for r in data.dev.rows]
    ids = torch.tensor(data.dev.ids)
    with torch.no_grad():
        model.eval()
        logits = model(ids, ids != 0)
    expected = F.cross_entropy(logits, torch.tensor(data.dev.targets), reduction="none")
    assert [r["loss"] for r in written["rows"]] == pytest.approx(expected.tolist(), abs=2e-5)
    preds = logits.argmax(1).tolist()
    assert [r["pred"] for r in written["rows"]] == [data.label_names[p] for p in preds]
    saved = torch.load(tmp_path / "m.pt")
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())


def test_checkpoint_is_not_written_when_training_fails(tmp_path: Path) -> None:
    data = make_data(n_train=64, n_dev=8)
    config = config_from_dict(
        {"model": {"name": "tr_nan_model.model:build"}}, base_dir=str(TESTS / "user_models")
    )
    model = build_model(config, spec_for(config, data))
    trainer = Trainer(
        model,
        data,
        TrainConfig(epochs=1, batch_size=8),
        seed=0,
        emit=lambda e: None,
        callbacks=[Checkpoint(tmp_path / "m.pt")],
    )
    with pytest.raises(NumericsError) as info:
        trainer.run()
    assert info.value.step == 3 and math.isnan(info.value.loss)
    assert not (tmp_path / "m.pt").exists()


class FakeTrainer:
    def __init__(self) -> None:
        self.last_eval: dict = {}
        self.reasons: list[str] = []

    def stop_early(self, reason: str) -> None:
        self.reasons.append(reason)


def test_early_stopping_counts_evaluations_without_a_lower_loss() -> None:
    stopper, trainer = EarlyStopping(patience=2), FakeTrainer()
    for loss in (1.0, 0.8, 0.9, 0.7, 0.75, 0.7):
        trainer.last_eval = {"loss": loss}
        stopper.on_eval_end(trainer)
    assert len(trainer.reasons) == 1 and "0.7 for 2 evaluations" in trainer.reasons[0]


def test_lr_range_callback_sets_each_rate_and_stops_on_divergence() -> None:
    data = make_data(n_train=128, n_dev=8)
    lrs = [1e-3 * 2**k for k in range(10)]

    def sweep(diverged):
        callback = LrRange(lrs, diverged)
        events: list = []
        Trainer(
            tiny_model(data, "fasttext"),
            data,
            TrainConfig(epochs=100, batch_size=16, lr=lrs[0], eval_every=0),
            seed=0,
            emit=events.append,
            callbacks=[callback],
        ).run()
        return callback, step_events(events)

    whole, events = sweep(lambda losses: False)
    assert whole.used == lrs and [e.lr for e in events] == lrs  # stops after the last rate
    assert whole.losses == [e.loss for e in events] and not whole.stopped_on_divergence
    cut, events = sweep(lambda losses: len(losses) == 4)
    assert cut.used == lrs[:4] and len(events) == 4 and cut.stopped_on_divergence


def test_on_train_end_runs_once_after_the_last_evaluation() -> None:
    data = make_data(n_train=64, n_dev=8)
    seen: list[tuple[str, int]] = []
    trainer = Trainer(
        tiny_model(data, "fasttext"),
        data,
        TrainConfig(epochs=2, batch_size=16, eval_every=0),
        seed=0,
        emit=lambda e: None,
    )
    trainer.add_hook("on_eval_end", lambda t: seen.append(("eval", t.step)))
    trainer.add_hook("on_train_end", lambda t: seen.append(("end", t.step)))
    trainer.run()
    assert seen == [("eval", 4), ("eval", 8), ("end", 8)]


# -- the job pipeline --------------------------------------------------------------------------


def test_train_job_pipeline_records_the_run(tmp_path: Path) -> None:
    config = demo_config(tmp_path, "train.max_steps=3", "train.eval_every=0")
    ctx = JobCtx(config)
    data = prepare_data(config)
    trainer = prepare_training(ctx, data, describe="the rows", sizes={"extra": 7}, note="x")
    assert run_training(trainer, config).state == "finished"
    meta = ctx.run.read_meta()
    assert meta["sizes"]["extra"] == 7 and meta["sizes"]["train"] == len(data.train)
    assert meta["note"] == "x" and "torch" in meta["versions"]
    assert json.loads(ctx.run.status_path.read_text())["total_steps"] == 3
    names = {p.name for p in ctx.run.path.iterdir()}
    assert {"vocab.json", "model.pt", "dev_predictions.json"} <= names
    logs = [e.message for e in ctx.events if isinstance(e, Log)]
    assert any(m.startswith("model textcnn: ") and m.endswith("on cpu; the rows") for m in logs)


def test_the_fold_job_wraps_user_model_errors_and_writes_dev_predictions(
    tmp_path: Path,
) -> None:
    from tuirecipe.tune.cv import run_fold_job

    def fold_ctx(model: str) -> JobCtx:
        config = demo_config(
            tmp_path,
            f"model.name={model}",
            f"model.python_path=['{TESTS}']",
            "train.max_steps=4",
            "train.eval_every=0",
        )
        return JobCtx(config, "cv_fold", {"fold": 0, "k": 2})

    ctx = fold_ctx("fault_models:forward_raises")
    with pytest.raises(ModelError, match="raised RuntimeError: The size of tensor a") as info:
        run_fold_job(ctx)
    assert isinstance(info.value.__cause__, RuntimeError)
    ctx = fold_ctx("textcnn")
    assert run_fold_job(ctx) == "finished"
    names = {p.name for p in ctx.run.path.iterdir()}
    assert {"dev_predictions.json", "model.pt", "fold_result.json"} <= names


@pytest.mark.parametrize("schedule", ["constant", "linear", "cosine"])
def test_schedule_factor_warms_up_then_decays_to_just_above_zero(schedule: str) -> None:
    from tuirecipe.train.optim import schedule_factor

    total, warmup = 20, 4
    factors = [schedule_factor(k, total, schedule, warmup) for k in range(total)]
    assert factors[:warmup] == [0.25, 0.5, 0.75, 1.0]  # linear warm-up to the full rate
    after = factors[warmup:]
    if schedule == "constant":
        assert after == [1.0] * len(after)
    else:
        assert after[0] == 1.0 and all(a > b for a, b in zip(after, after[1:]))
        assert 0.0 < after[-1] < 0.1  # the last step still moves
    if schedule == "cosine":  # half-way through the decay: half the rate
        assert schedule_factor(warmup + 8, total, schedule, warmup) == pytest.approx(0.5)


def test_a_training_job_follows_the_configured_schedule(tmp_path: Path) -> None:
    from tuirecipe.train.optim import make_scheduler

    assert make_scheduler(torch.optim.SGD([torch.zeros(1)], lr=1.0), TrainConfig(), 10) is None
    config = demo_config(
        tmp_path,
        "train.max_steps=8",
        "train.eval_every=0",
        "train.schedule=linear",
        "train.warmup_steps=2",
        "train.lr=0.01",
    )
    ctx = JobCtx(config)
    trainer = prepare_training(ctx, prepare_data(config), describe="rows")
    assert run_training(trainer, config).state == "finished"
    lrs = [e.lr for e in step_events(ctx.events)]
    expected = [0.005, 0.01, 0.01, 0.01 * 5 / 6, 0.01 * 4 / 6, 0.01 * 3 / 6, 0.01 * 2 / 6]
    assert lrs[: len(expected)] == pytest.approx(expected)
    assert len(lrs) == 8 and 0 < lrs[-1] < lrs[-2]


def test_the_trainer_class_stays_small() -> None:
    # issue 10: a minGPT-sized loop; everything that is not the loop is a callback
    import ast
    import inspect

    import tuirecipe.train.trainer as trainer_module

    tree = ast.parse(inspect.getsource(trainer_module))
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Trainer"]
    assert cls.end_lineno is not None
    assert cls.end_lineno - cls.lineno + 1 <= 160


def test_training_freezes_the_collector_only_while_it_runs() -> None:
    # run_training keeps what exists before training out of the collector's passes (they
    # cost ~90 ms each in a worker) and gives it back after, whether training ends or fails
    import gc

    from tuirecipe.config import config_from_dict
    from tuirecipe.train.job import run_training

    seen: list[int] = []

    class Fake:
        def __init__(self, fail: bool) -> None:
            self.fail = fail

        def run(self):
            seen.append(gc.get_freeze_count())
            if self.fail:
                raise RuntimeError("boom")
            return "done"

    before = gc.get_freeze_count()
    config = config_from_dict({"name": "t"})
    assert run_training(Fake(False), config) == "done"  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        run_training(Fake(True), config)  # type: ignore[arg-type]
    assert all(count > before for count in seen) and len(seen) == 2
    assert gc.get_freeze_count() == before
