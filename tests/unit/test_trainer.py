"""The trainer: learning, reproducibility, NaN detection, control, class weights, clipping."""

from __future__ import annotations

import copy
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from tuirecipe.config import TrainConfig, config_from_dict
from tuirecipe.errors import ModelError, UserError
from tuirecipe.events import EvalMetrics, PredictionsSnapshot, RunStatus, StepMetrics
from tuirecipe.models import build_model, init_output_bias, spec_for
from tuirecipe.train import (
    Control,
    NumericsError,
    SplitTensors,
    Trainer,
    class_weights,
    evaluate,
    iter_batches,
    pick_device,
    seed_everything,
)

USER_MODELS = Path(__file__).resolve().parents[1] / "support" / "user_models"
sys.path.insert(0, str(USER_MODELS))
from tiny_data import make_data  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_model(data, name: str = "fasttext", seed: int = 0, **model: object):
    config = config_from_dict(
        {
            "model": {
                "name": name,
                "embed_dim": 16,
                "hidden_dim": 16,
                "num_filters": 8,
                "num_heads": 2,
                **model,
            }
        },
        source="test.toml",
        base_dir=str(USER_MODELS),
    )
    seed_everything(seed)
    return build_model(config, spec_for(config, data))


def train(data, model, *, seed: int = 0, control: Control | None = None, hooks=(), **cfg):
    events: list = []
    settings = {"epochs": 1, "batch_size": 16, "lr": 1e-2, "eval_every": 0, **cfg}
    trainer = Trainer(
        model, data, TrainConfig(**settings), seed=seed, emit=events.append, control=control
    )
    for point, fn in hooks:
        trainer.add_hook(point, fn)
    result = trainer.run()
    return trainer, result, events


def losses(events) -> list[float]:
    return [e.loss for e in events if isinstance(e, StepMetrics)]


def test_training_lowers_dev_loss_and_reports_events() -> None:
    data = make_data(n_train=256, n_dev=64)
    model = make_model(data)
    before = evaluate(model, data.dev, task="classification", batch_size=32, device="cpu")
    trainer, result, events = train(data, model, epochs=4, eval_every=10)
    assert result.state == "finished"
    assert result.steps == 4 * 16 and result.epochs == pytest.approx(4.0)
    assert result.final_eval["loss"] < before["loss"] - 0.2
    assert result.final_eval["acc"] > 0.8
    assert result.best_eval["loss"] <= result.final_eval["loss"]
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert [e.step for e in steps] == list(range(1, 65))
    assert steps[-1].examples == 4 * 256 and steps[15].epoch == pytest.approx(1.0)
    assert all(0.0 <= e.acc <= 1.0 for e in steps) and steps[0].lr == 1e-2
    evals = [e for e in events if isinstance(e, EvalMetrics)]
    # every 10 steps plus the ends of epochs at 16, 32, 48 and 64
    assert [e.step for e in evals] == [10, 16, 20, 30, 32, 40, 48, 50, 60, 64]
    last = evals[-1]
    assert last.n == 64 and set(last.metrics) == {"loss", "acc", "macro_f1"}
    assert last.ci["acc"][0] < last.metrics["acc"] < last.ci["acc"][1]
    assert set(last.per_class) == {"0", "1"} and last.per_class["0"]["support"] > 0
    snaps = [e for e in events if isinstance(e, PredictionsSnapshot)]
    assert len(snaps) == len(evals)
    indices = [r["index"] for r in snaps[0].rows]
    assert len(indices) == 8 and indices == [r["index"] for r in snaps[-1].rows]
    row = snaps[-1].rows[0]
    assert row["label"] in data.label_names and row["pred"] in data.label_names
    assert 0.0 < row["prob"] <= 1.0 and row["text"]


def test_same_seed_same_losses_bitwise_different_seed_differs() -> None:
    data = make_data(n_train=128, n_dev=16)
    runs = []
    for seed in (1, 1, 2):
        model = make_model(data, "textcnn", seed=seed)  # textcnn: dropout is in play
        runs.append(losses(train(data, model, seed=seed, epochs=2)[2]))
    assert len(runs[0]) == 16
    assert runs[0] == runs[1]  # float equality: bitwise identical
    assert runs[0] != runs[2]


def test_nan_loss_names_the_step() -> None:
    data = make_data(n_train=64, n_dev=8)
    model = make_model(data, "tr_nan_model.model:build")
    events: list = []
    trainer = Trainer(model, data, TrainConfig(epochs=1, batch_size=8), seed=0, emit=events.append)
    with pytest.raises(NumericsError) as info:
        trainer.run()
    assert isinstance(info.value, UserError)
    assert str(info.value) == (
        "loss became nan at step 3; try a lower learning rate, "
        "gradient clipping, or check the inputs"
    )
    assert [e.step for e in events if isinstance(e, StepMetrics)] == [1, 2, 3]


def test_huge_learning_rate_is_caught() -> None:
    data = make_data(n_train=64, n_dev=8)
    with pytest.raises(NumericsError, match=r"loss became (nan|inf) at step \d+"):
        train(data, make_model(data, "bow_mlp"), lr=1e10, epochs=20, batch_size=8)


def test_max_steps_ends_mid_epoch_with_a_final_eval() -> None:
    data = make_data(n_train=128, n_dev=16)
    _, result, events = train(data, make_model(data), max_steps=5, epochs=3)
    assert result.state == "finished" and result.steps == 5
    assert [e.step for e in events if isinstance(e, EvalMetrics)] == [5]
    assert result.final_eval["step"] == 5


def test_stop_request_ends_the_run_as_stopped() -> None:
    data = make_data(n_train=128, n_dev=16)
    control = Control()

    def stop_at_five(trainer: Trainer) -> None:
        if trainer.step == 5:
            control.request_stop()

    _, result, events = train(
        data, make_model(data), control=control, epochs=3, hooks=[("on_batch_end", stop_at_five)]
    )
    assert result.state == "stopped" and result.steps == 5
    assert len(losses(events)) == 5
    assert control.checkpoint() is True  # stop is sticky


def test_pause_blocks_until_resume() -> None:
    data = make_data(n_train=64, n_dev=8)
    control = Control()
    seen: dict[str, int] = {}

    def pause_at_two(trainer: Trainer) -> None:
        if trainer.step == 2:
            control.pause()

            def resume_later() -> None:
                # not synchronisation: time passes while paused, and no step is taken
                time.sleep(0.15)
                seen["before"] = trainer.step
                time.sleep(0.15)  # not synchronisation: (as above)
                seen["after"] = trainer.step
                control.resume()

            threading.Thread(target=resume_later, daemon=True).start()

    started = time.monotonic()
    trainer, result, events = train(
        data,
        make_model(data),
        control=control,
        batch_size=8,
        hooks=[("on_batch_end", pause_at_two)],
    )
    assert time.monotonic() - started >= 0.3
    assert seen == {"before": 2, "after": 2}  # no step ran while paused
    assert result.state == "finished" and result.steps == 8
    statuses = [(e.state, e.step) for e in events if isinstance(e, RunStatus)]
    assert statuses == [("paused", 2), ("running", 2)]
    assert control.paused_seconds >= 0.25
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert steps[-1].elapsed < time.monotonic() - started - 0.25  # pause not counted


def test_control_fast_path_and_stop_while_paused() -> None:
    control = Control()
    assert control.checkpoint() is False
    control.pause()
    threading.Timer(0.1, control.request_stop).start()
    assert control.checkpoint() is True


def test_class_weights_enter_the_loss() -> None:
    assert class_weights([30, 10]).tolist() == pytest.approx([0.5, 1.5])
    assert class_weights([10, 0, 10]).tolist() == pytest.approx([1.0, 0.0, 1.0])
    data = make_data(n_train=64, n_dev=8, priors=[0.8, 0.2])
    first_losses = {}
    for weighted in (False, True):
        model = make_model(data, dropout=0.0)
        start = copy.deepcopy(model)
        _, _, events = train(data, model, class_weights=weighted, max_steps=1, batch_size=32)
        first_losses[weighted] = losses(events)[0]
        # recompute step 1 by hand: the same first batch, the starting weights
        generator = seed_everything(0)
        ids, mask, y = next(
            iter_batches(
                SplitTensors.from_split(data.train, "classification"), 32, generator=generator
            )
        )
        weight = class_weights(data.class_counts) if weighted else None
        expected = F.cross_entropy(start(ids, mask), y, weight=weight).item()
        assert first_losses[weighted] == pytest.approx(expected, rel=1e-6)
    assert first_losses[False] != pytest.approx(first_losses[True], rel=1e-3)


def test_grad_clip_bounds_the_gradient_norm() -> None:
    data = make_data(n_train=64, n_dev=8)
    norms: dict[float, list[float]] = {}
    for clip in (0.0, 0.01):
        norms[clip] = []

        def record(trainer: Trainer, out=norms[clip]) -> None:
            grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
            out.append(
                torch.linalg.vector_norm(
                    torch.stack([torch.linalg.vector_norm(g) for g in grads])
                ).item()
            )

        train(data, make_model(data), grad_clip=clip, hooks=[("on_batch_end", record)])
    assert max(norms[0.01]) <= 0.01 * (1 + 1e-4)
    assert min(norms[0.0]) > 0.01


def test_regression_training_and_snapshot() -> None:
    data = make_data("regression", n_train=256, n_dev=32)
    model = make_model(data, "bow_mlp")
    assert init_output_bias(model, data)
    before = evaluate(model, data.dev, task="regression", batch_size=32, device="cpu")
    _, result, events = train(data, model, epochs=3)
    assert result.final_eval["mse"] < before["mse"]
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert all(e.acc is None for e in steps)
    row = [e for e in events if isinstance(e, PredictionsSnapshot)][-1].rows[0]
    assert isinstance(row["label"], float) and isinstance(row["pred"], float)
    assert row["prob"] is None


def test_wrong_output_shape_is_a_model_error() -> None:
    data = make_data(n_train=32, n_dev=8, num_classes=3)
    model = make_model(make_data(num_classes=2))  # two outputs for a three-class task
    with pytest.raises(ModelError, match=r"output has shape \[16, 2\]; expected \[16, 3\]"):
        train(data, model)


def test_every_builtin_trains_a_few_steps() -> None:
    data = make_data(n_train=32, n_dev=8, min_len=0)  # includes all-padding rows
    for name in ("bow_mlp", "fasttext", "textcnn", "gru", "transformer"):
        _, result, events = train(data, make_model(data, name, kernel_sizes=[2, 5, 14]))
        assert result.steps == 2 and result.final_eval["n"] == 8, name


def test_pick_device() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA is not available") as info:
            pick_device("cuda:0")
        assert info.value.key == "train.device"


def test_block_reads_emit_every_step_and_still_name_the_nan_step() -> None:
    # The accelerator path (losses read every log_every steps), exercised on the CPU.
    data = make_data(n_train=256, n_dev=16)
    per_step = losses(train(data, make_model(data), max_steps=10)[2])
    model = make_model(data)
    events: list = []
    trainer = Trainer(
        model,
        data,
        TrainConfig(epochs=1, batch_size=16, lr=1e-2, max_steps=10, log_every=4),
        seed=0,
        emit=events.append,
    )
    trainer.read_every_step = False
    trainer.run()
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert [e.step for e in steps] == list(range(1, 11))
    assert [e.loss for e in steps] == per_step
    assert [e.examples for e in steps] == [16 * i for i in range(1, 11)]

    nan_model = make_model(data, "tr_nan_model.model:build")
    events = []
    trainer = Trainer(
        nan_model,
        data,
        TrainConfig(epochs=1, batch_size=8, log_every=5),
        seed=0,
        emit=events.append,
    )
    trainer.read_every_step = False
    with pytest.raises(NumericsError, match="at step 3;"):
        trainer.run()
    assert [e.step for e in events if isinstance(e, StepMetrics)] == [1, 2, 3]


def test_trainer_seed_alone_changes_the_data_order() -> None:
    data = make_data(n_train=64, n_dev=8)
    runs = [losses(train(data, make_model(data, seed=0, dropout=0.0), seed=s)[2]) for s in (3, 4)]
    assert runs[0][0] != runs[1][0]  # same initial weights, different first batch
