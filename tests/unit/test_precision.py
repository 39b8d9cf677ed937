"""train.precision, train.compile and log_every = auto (issue 16): the resolver as a pure
function of the device's facts and the model's size, the CPU paths, and what a run
records. CUDA-only behaviour is in tests/unit/test_gpu.py."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from tuirecipe.config import TrainConfig, config_from_dict
from tuirecipe.errors import UserError
from tuirecipe.events import Log, StepMetrics
from tuirecipe.models import build_model, spec_for
from tuirecipe.train import Trainer, seed_everything
from tuirecipe.train.execution import maybe_compile
from tuirecipe.train.optim import make_optimizer
from tuirecipe.train.precision import (
    AUTO_BF16_MIN_PARAMS,
    non_embedding_params,
    resolve_precision,
)
from tuirecipe.train.steplog import ACCELERATOR_LOG_EVERY, resolve_log_every

USER_MODELS = Path(__file__).resolve().parents[1] / "support" / "user_models"
sys.path.insert(0, str(USER_MODELS))
from tiny_data import make_data  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
BIG, SMALL = AUTO_BF16_MIN_PARAMS, AUTO_BF16_MIN_PARAMS - 1
H100 = {"bf16_supported": True, "capability": (9, 0)}


def make_model(data, name: str = "textcnn"):
    config = config_from_dict({"model": {"name": name, "embed_dim": 16, "num_filters": 8}})
    seed_everything(0)
    return build_model(config, spec_for(config, data))


def run(data, model, **cfg):
    events: list = []
    settings = {"epochs": 1, "batch_size": 16, "lr": 1e-2, "eval_every": 0, **cfg}
    trainer = Trainer(model, data, TrainConfig(**settings), seed=0, emit=events.append)
    trainer.run()
    return trainer, events


def test_precision_and_log_every_are_validated_with_one_line_naming_the_key() -> None:
    for value in PRECISION_CHOICES:
        assert config_from_dict({"train": {"precision": value}}).train.precision == value
    with pytest.raises(UserError) as info:
        config_from_dict({"train": {"precision": "half"}}, source="c.toml")
    message = str(info.value)
    assert "train.precision" in message and "auto, fp32, bf16, fp16" in message
    assert "half" in message and "\n" not in message
    with pytest.raises(UserError, match="train.log_every"):
        config_from_dict({"train": {"log_every": -1}})
    with pytest.raises(UserError, match="train.compile"):
        config_from_dict({"train": {"compile": "yes"}})


PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")


def test_auto_is_bf16_only_on_a_cuda_card_with_bf16_and_a_model_large_enough() -> None:
    auto = functools.partial(resolve_precision, "auto")
    chosen = auto("cuda", params=BIG, **H100)
    assert (chosen.name, chosen.tf32) == ("bf16", False) and "bf16" in chosen.reason
    # too small to gain: fp32, with TF32 on an Ampere-or-newer card
    small = auto("cuda", params=SMALL, **H100)
    assert (small.name, small.tf32) == ("fp32", True) and f"{SMALL:,}" in small.reason
    # no bf16 (a V100): fp32, and no TF32 before Ampere
    volta = auto("cuda", params=BIG, bf16_supported=False, capability=(7, 0))
    assert (volta.name, volta.tf32) == ("fp32", False)
    # the CPU and MPS: fp32 whatever the size, never TF32
    for device in ("cpu", "mps"):
        assert auto(device, params=BIG, **H100).name == "fp32"
        assert not auto(device, params=BIG, **H100).tf32


def test_named_precisions_are_kept_and_tf32_only_goes_with_fp32_on_ampere() -> None:
    for name in ("fp32", "bf16", "fp16"):
        chosen = resolve_precision(name, "cuda", params=1, **H100)
        assert chosen.name == name and chosen.reason == ""
        assert chosen.tf32 == (name == "fp32")
    assert not resolve_precision("fp32", "cuda", params=1, capability=(7, 5)).tf32
    assert resolve_precision("fp16", "cpu", params=1).grad_scaler() is not None
    assert resolve_precision("bf16", "cpu", params=1).grad_scaler() is None
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("fp8", "cuda", params=1)


def test_non_embedding_params_leave_out_embedding_tables_once() -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(100, 8)
            self.mix = nn.Linear(8, 8)  # 72
            self.out = nn.Linear(8, 100, bias=False)
            self.out.weight = self.embed.weight  # tied: an embedding table, not counted

    assert non_embedding_params(Tied()) == 72


def test_log_every_auto_is_every_step_on_cpu_and_blocks_on_accelerators() -> None:
    assert resolve_log_every(0, "cpu") == 1
    assert resolve_log_every(0, "cuda") == ACCELERATOR_LOG_EVERY > 1
    assert resolve_log_every(7, "cuda") == resolve_log_every(7, "cpu") == 7
    assert TrainConfig().log_every == 0


def test_fp32_on_cpu_is_plain_and_recorded_so() -> None:
    data = make_data(n_train=64, n_dev=16)
    model = make_model(data)
    trainer, events = run(data, model)
    info = trainer.execution.as_meta(trainer.optimizer, trainer.log_every)
    assert info["precision"] == "fp32" and info["precision_reason"] == "auto: fp32 on cpu"
    assert info["tf32"] is False and info["fused_optimizer"] is False
    assert info["compiled"] is False and info["log_every"] == 1 and info["device"] == "cpu"
    assert info["non_embedding_params"] == non_embedding_params(model) > 0
    assert "device_name" not in info
    assert not make_optimizer(model, TrainConfig()).defaults.get("fused")


@pytest.mark.skipif(
    not torch.amp.autocast_mode.is_autocast_available("cpu"), reason="no CPU autocast"
)
def test_bf16_on_cpu_trains_in_bf16_records_it_and_evaluates_in_it() -> None:
    data = make_data(n_train=128, n_dev=32)
    seen: list[torch.dtype] = []

    def spy(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        seen.append(output.dtype)

    fp32_model = make_model(data)
    _, fp32_events = run(data, fp32_model, epochs=2, precision="fp32")
    model = make_model(data)
    linear = next(m for m in model.modules() if isinstance(m, nn.Linear))
    linear.register_forward_hook(spy)
    trainer, events = run(data, model, epochs=2, precision="bf16", eval_every=8)
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert len(steps) == 16 and all(e.loss == e.loss for e in steps)
    assert steps[-1].loss < steps[0].loss  # it learns
    # the same weights and batches in fp32 give other numbers: autocast really ran
    assert [e.loss for e in steps] != [e.loss for e in fp32_events if isinstance(e, StepMetrics)]
    assert set(seen) == {torch.bfloat16}  # training and evaluation forward passes
    evals = [e for e in events if e.kind == "eval"]
    assert evals and len(seen) > len(steps)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # fp32 master weights
    assert trainer.execution.as_meta(trainer.optimizer, 1)["precision"] == "bf16"


def test_fp16_on_cpu_goes_through_the_gradient_scaler() -> None:
    data = make_data(n_train=64, n_dev=16)
    model = make_model(data)
    try:
        trainer, events = run(data, model, precision="fp16", grad_clip=1.0)
    except RuntimeError as exc:  # an older CPU build without fp16 autocast kernels
        pytest.skip(f"no fp16 CPU autocast here: {exc}")
    assert trainer.execution.scaler is not None
    assert trainer.execution.scaler.get_scale() > 0  # it was used (and updated)
    assert len([e for e in events if isinstance(e, StepMetrics)]) == 4


def test_step_events_count_the_non_padding_tokens_of_each_batch() -> None:
    data = make_data(n_train=64, n_dev=8)
    for read_every_step in (True, False):  # the CPU path, and the blocked accelerator path
        model = make_model(data)
        events: list = []
        trainer = Trainer(
            model,
            data,
            TrainConfig(epochs=1, batch_size=16, eval_every=0, log_every=3),
            seed=0,
            emit=events.append,
        )
        trainer.read_every_step = read_every_step
        expected, total = [], 0
        from tuirecipe.train.batches import iter_batches

        for _, mask, _ in iter_batches(trainer.train_tensors, 16, generator=trainer.generator):
            total += int(mask.sum())
            expected.append(total)
        trainer.generator.manual_seed(0)  # the same order again for the run
        trainer.run()
        assert [e.tokens for e in events if isinstance(e, StepMetrics)] == expected
        assert total == int((trainer.train_tensors.ids != 0).sum())  # every real token once


def test_compile_that_fails_falls_back_to_eager_with_one_line() -> None:
    data = make_data(n_train=64, n_dev=8)

    def no_compiler(model, dynamic):
        raise RuntimeError("Cannot find a working triton installation\nmore detail")

    model = make_model(data)
    same, note = maybe_compile(model, True, compiler=no_compiler)
    assert same is model and note.startswith("train.compile: not available here (Cannot find")
    assert "\n" not in note and "ran eager" in note
    assert maybe_compile(model, False) == (model, "")

    class FailsWhenCalled(nn.Module):  # torch.compile is lazy: it fails at the first call
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, ids, mask):
            raise RuntimeError("backend compiler failed: no C++ compiler")

    original = torch.compile
    try:
        torch.compile = lambda m, dynamic: FailsWhenCalled(m)  # type: ignore[assignment]
        trainer, events = run(data, model, compile=True)
    finally:
        torch.compile = original
    logs = [e.message for e in events if isinstance(e, Log)]
    assert any("compiling failed (backend compiler failed" in m and "ran eager" in m for m in logs)
    assert len([e for e in events if isinstance(e, StepMetrics)]) == 4
    assert trainer.execution.as_meta(trainer.optimizer, 1)["compiled"] is False


@pytest.mark.slow
def test_compile_with_dynamic_shapes_traces_one_graph_for_every_batch_width() -> None:
    dynamo = pytest.importorskip("torch._dynamo")
    from torch._dynamo.utils import counters

    data = make_data(n_train=128, n_dev=8)
    model = make_model(data)
    original = torch.compile
    dynamo.reset()
    counters.clear()
    try:  # the eager backend: dynamo's tracing and guards without a C++ toolchain
        torch.compile = functools.partial(original, backend="eager")  # type: ignore[assignment]
        trainer, events = run(data, model, compile=True)
    finally:
        torch.compile = original
    widths = {int(m.shape[1]) for _, m, _ in _batches(trainer)}
    assert len(widths) > 2  # the batches really differ in length
    assert counters["stats"]["unique_graphs"] == 1  # no recompile per length
    assert trainer.execution.as_meta(trainer.optimizer, 1)["compiled"] is True
    assert any("compiled (dynamic shapes)" in e.message for e in events if isinstance(e, Log))


def _batches(trainer):
    from tuirecipe.train.batches import iter_batches

    return list(iter_batches(trainer.train_tensors, 16, generator=torch.Generator().manual_seed(0)))


def test_a_job_records_its_execution_and_a_compile_fallback(tmp_path: Path, monkeypatch) -> None:
    from test_checkpoints import JobCtx

    from tuirecipe.data.prepare import prepare_data
    from tuirecipe.train.job import prepare_training, run_training

    class FailsWhenCalled(nn.Module):
        def forward(self, ids, mask):
            raise RuntimeError("inductor: no C++ compiler found")

    monkeypatch.setattr(torch, "compile", lambda m, dynamic: FailsWhenCalled())
    config = config_from_dict(
        {
            "runs_dir": str(tmp_path),
            "model": {"name": "fasttext", "embed_dim": 8},
            "train": {"max_steps": 3, "eval_every": 0, "compile": True, "precision": "fp32"},
        }
    )
    ctx = JobCtx(config)
    trainer = prepare_training(ctx, prepare_data(config), describe="test")
    before = ctx.run.read_meta()["execution"]
    assert before["compiled"] is True and before["precision"] == "fp32"
    run_training(trainer, config)
    after = ctx.run.read_meta()["execution"]
    assert after["compiled"] is False and "no C++ compiler" in after["compile_note"]
    assert after["precision"] == "fp32" and after["log_every"] == 1
    logs = [e.message for e in ctx.events if isinstance(e, Log)]
    assert "precision fp32, compiled; step metrics read every 1 step" in logs
    assert any("compiling failed (inductor: no C++ compiler found)" in m for m in logs)


def test_checks_measure_losses_in_the_training_precision_and_judge_code_in_fp32() -> None:
    from tuirecipe.checks.context import CheckContext
    from tuirecipe.checks.init_loss import InitLoss
    from tuirecipe.checks.padding_invariance import PaddingInvariance
    from tuirecipe.checks.runner import run_one

    data = make_data(n_train=96, n_dev=16)

    def ctx(precision: str) -> CheckContext:
        table = {
            "model": {"name": "textcnn", "embed_dim": 16, "num_filters": 8, "dropout": 0.0},
            "train": {"device": "cpu", "precision": precision},
        }
        return CheckContext(config_from_dict(table), data=data)

    fp32, bf16 = (run_one(InitLoss, ctx(p)) for p in ("fp32", "bf16"))
    assert (fp32.evidence["precision"], bf16.evidence["precision"]) == ("fp32", "bf16")
    # the same model and rows: a bf16 init loss is another number, close to the fp32 one
    assert fp32.numbers["init_loss"] != bf16.numbers["init_loss"]
    assert bf16.numbers["init_loss"] == pytest.approx(fp32.numbers["init_loss"], rel=0.05)
    padding = run_one(PaddingInvariance, ctx("bf16"))
    assert padding.evidence["precision"] == "fp32" and padding.status == "pass"
