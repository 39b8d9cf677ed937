"""Issue 16's training knobs: one-cycle and warm-up fractions (exact rates), gradient
accumulation (N batches of B = one batch of N x B), label smoothing (train loss only)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch
from support import SUPPORT
from torch import nn

from tuirecipe.config import TrainConfig, checkpoint_interval, load_config
from tuirecipe.errors import ConfigError
from tuirecipe.events import StepMetrics
from tuirecipe.train import Trainer, seed_everything
from tuirecipe.train.job import total_steps
from tuirecipe.train.optim import make_scheduler, warmup_steps

sys.path.insert(0, str(SUPPORT / "user_models"))
from tiny_data import make_data  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def rates(cfg: TrainConfig, total: int) -> list[float]:
    """The rate each of ``total`` optimizer steps uses under ``cfg``'s schedule."""
    opt = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    sched = make_scheduler(opt, cfg, total)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
    return out


def one_cycle_closed_form(k: int, total: int, rise: int, peak: float) -> float:
    """Smith's one cycle as OneCycleLR defines it: cosine from peak/25 up to the peak at
    step rise-1, then cosine down to peak/25/1e4 at the last step."""
    start, end = peak / 25, peak / 25 / 1e4
    if k <= rise - 1:
        pct = k / (rise - 1)
        return end_cos(start, peak, pct)
    pct = (k - (rise - 1)) / (total - rise)
    return end_cos(peak, end, pct)


def end_cos(a: float, b: float, pct: float) -> float:
    return b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1)


@pytest.mark.parametrize(
    ("settings", "rise"),
    [
        ({"warmup_steps": 5}, 5),
        ({"warmup_fraction": 0.25}, 5),  # a quarter of 20 steps
        ({}, 6),  # neither: OneCycleLR's own 30 %
    ],
)
def test_one_cycle_rises_to_train_lr_then_anneals(settings: dict, rise: int) -> None:
    total, peak = 20, 0.01
    got = rates(TrainConfig(schedule="one_cycle", lr=peak, **settings), total)
    want = [one_cycle_closed_form(k, total, rise, peak) for k in range(total)]
    assert got == pytest.approx(want, rel=1e-9, abs=1e-15)
    assert got[0] == pytest.approx(peak / 25) and max(got) == pytest.approx(peak)
    assert got.index(max(got)) == rise - 1
    assert got[-1] == pytest.approx(peak / 25 / 1e4)


def test_one_cycle_cycles_adams_beta1_against_the_rate() -> None:
    opt = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=0.01)
    sched = make_scheduler(opt, TrainConfig(schedule="one_cycle", lr=0.01, warmup_steps=4), 10)
    assert sched is not None
    betas = []
    for _ in range(10):
        betas.append(opt.param_groups[0]["betas"][0])
        opt.step()
        sched.step()
    assert betas[0] == pytest.approx(0.95) and betas[3] == pytest.approx(0.85)
    assert betas[-1] == pytest.approx(0.95)


def test_one_cycle_too_short_to_cycle_trains_at_the_constant_rate() -> None:
    assert rates(TrainConfig(schedule="one_cycle", lr=0.5), 2) == [0.5, 0.5]


def test_a_warmup_fraction_is_a_share_of_the_runs_steps() -> None:
    cfg = TrainConfig(schedule="linear", lr=1.0, warmup_fraction=0.1)
    assert warmup_steps(cfg, 50) == 5
    assert warmup_steps(TrainConfig(warmup_fraction=0.01), 20) == 1  # at least one step
    assert warmup_steps(TrainConfig(warmup_steps=7), 50) == 7
    got = rates(cfg, 50)
    assert got[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert got[5:] == pytest.approx([1.0 - k / 45 for k in range(45)])
    # the same as giving the five steps outright
    assert got == rates(TrainConfig(schedule="linear", lr=1.0, warmup_steps=5), 50)


@pytest.mark.parametrize(
    ("override", "key", "words"),
    [
        ("train.warmup_fraction=1.5", "train.warmup_fraction", "[0, 1)"),
        ("train.schedule=one_cycles", "train.schedule", "one_cycle"),
        ("train.grad_accum_steps=0", "train.grad_accum_steps", "at least 1"),
        ("train.label_smoothing=1.0", "train.label_smoothing", "[0, 1)"),
        ("train.checkpoint_every=-3", "train.checkpoint_every", "0 (off)"),
        ('train.checkpoint_every="10 minutes"', "train.checkpoint_every", '"10m"'),
        ("train.checkpoint_every=true", "train.checkpoint_every", "an integer or a string"),
    ],
)
def test_bad_knob_values_are_one_line_naming_the_key(override: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    message = str(info.value)
    assert key in message and words in message and "\n" not in message


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (["train.warmup_steps=3", "train.warmup_fraction=0.1"], "not both"),
        (["train.loss=focal", "train.label_smoothing=0.1"], "cross_entropy"),
    ],
)
def test_knobs_that_exclude_each_other_are_refused(overrides: list[str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_config(None, overrides)


def test_checkpoint_every_counts_steps_or_wall_clock_time() -> None:
    assert checkpoint_interval(0) == (0, 0.0)
    assert checkpoint_interval(200) == (200, 0.0)
    assert checkpoint_interval("200") == (200, 0.0)
    assert checkpoint_interval("10m") == (0, 600.0)
    assert checkpoint_interval("90s") == (0, 90.0)
    assert checkpoint_interval("1.5h") == (0, 5400.0)
    assert load_config(None, ['train.checkpoint_every="10m"']).train.checkpoint_every == "10m"
    assert load_config(None, ["train.checkpoint_every=50"]).train.checkpoint_every == 50


# -- gradient accumulation ------------------------------------------------------------------


class MaskedMean(nn.Module):
    """Mean of the real tokens' embeddings, then a linear layer: padding changes nothing,
    so a batch trimmed to another width gives the same outputs."""

    def __init__(self, vocab: int, classes: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, 8)
        self.out = nn.Linear(8, classes)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(self.emb.weight.dtype)
        pooled = (self.emb(ids) * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.out(pooled)


def run_steps(data, **cfg) -> tuple[list[StepMetrics], nn.Module, Trainer]:
    seed_everything(0)
    model = MaskedMean(len(data.vocab), len(data.class_counts)).double()
    events: list = []
    settings = {"epochs": 2, "lr": 0.05, "eval_every": 0, "weight_decay": 0.0, **cfg}
    trainer = Trainer(model, data, TrainConfig(**settings), seed=3, emit=events.append)
    trainer.run()
    return [e for e in events if isinstance(e, StepMetrics)], model, trainer


def test_n_accumulated_batches_of_b_train_like_one_batch_of_n_times_b() -> None:
    # 46 rows: an epoch is three steps of 3 x 4 rows and one of 4 + 4 + 2, where weighting
    # each batch by its share of rows (not by 1/N) is what keeps the two runs equal
    data = make_data(n_train=46, n_dev=10)
    accumulated, model_a, trainer = run_steps(data, batch_size=4, grad_accum_steps=3)
    whole, model_w, _ = run_steps(data, batch_size=12)
    assert trainer.steps_per_epoch == 4 == total_steps(46, trainer.cfg) // 2
    assert [e.step for e in accumulated] == list(range(1, 9))  # optimizer steps
    assert [e.examples for e in accumulated] == [12, 24, 36, 46, 58, 70, 82, 92]
    assert [e.examples for e in accumulated] == [e.examples for e in whole]
    assert [e.epoch for e in accumulated] == [e.epoch for e in whole]
    assert [e.loss for e in accumulated] == pytest.approx([e.loss for e in whole], abs=1e-9)
    assert [e.acc for e in accumulated] == [e.acc for e in whole]
    for a, w in zip(model_a.parameters(), model_w.parameters()):
        assert torch.allclose(a, w, atol=1e-9)


def test_the_accumulation_comparison_can_fail() -> None:
    # the control: batches of 4 without accumulation do not train like batches of 12
    data = make_data(n_train=46, n_dev=10)
    small, model_s, _ = run_steps(data, batch_size=4, epochs=1)
    whole, model_w, _ = run_steps(data, batch_size=12, epochs=1)
    assert len(small) == 12 and len(whole) == 4
    assert not all(
        torch.allclose(a, w, atol=1e-6) for a, w in zip(model_s.parameters(), model_w.parameters())
    )


# -- label smoothing ------------------------------------------------------------------------


def test_label_smoothing_changes_the_train_loss_but_not_the_dev_loss() -> None:
    data = make_data(n_train=64, n_dev=32)

    def first_step(smoothing: float) -> tuple[float, float]:
        seed_everything(0)
        model = MaskedMean(len(data.vocab), len(data.class_counts))
        events: list = []
        cfg = TrainConfig(epochs=1, batch_size=16, lr=0.0, label_smoothing=smoothing)
        trainer = Trainer(model, data, cfg, seed=0, emit=events.append)
        trainer.run()  # lr 0: the weights never move, so both runs see one model
        step = next(e for e in events if isinstance(e, StepMetrics))
        return step.loss, trainer.last_eval["loss"]

    plain_train, plain_dev = first_step(0.0)
    smooth_train, smooth_dev = first_step(0.2)
    assert smooth_train != pytest.approx(plain_train, abs=1e-4)
    assert smooth_dev == plain_dev  # the dev loss is plain cross-entropy either way


def test_label_smoothing_matches_the_closed_form_on_one_batch() -> None:
    from tuirecipe.train.losses import make_loss_fn

    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    targets = torch.tensor([0, 1])
    eps = 0.3
    smoothed = make_loss_fn(TrainConfig(label_smoothing=eps), "classification")(logits, targets)
    logp = torch.log_softmax(logits, 1)
    # (1 - eps) x the true class's NLL + eps x the mean NLL over the classes
    want = ((1 - eps) * -logp[[0, 1], targets] + eps * -logp.mean(1)).mean()
    assert float(smoothed) == pytest.approx(float(want), rel=1e-6)
    plain = make_loss_fn(TrainConfig(), "classification")(logits, targets)
    assert float(plain) == pytest.approx(float(-logp[[0, 1], targets].mean()), rel=1e-6)


def test_the_knobs_survive_the_runs_config_toml(tmp_path: Path) -> None:
    # a run's config.toml is written from the config and read back by the worker
    for every in ('"10m"', "25"):
        cfg = load_config(
            None,
            [
                "train.schedule=one_cycle",
                "train.warmup_fraction=0.1",
                "train.grad_accum_steps=4",
                "train.label_smoothing=0.1",
                f"train.checkpoint_every={every}",
            ],
        )
        path = tmp_path / "config.toml"
        path.write_text(cfg.to_toml(), encoding="utf-8")
        again = load_config(path).train
        assert (again.schedule, again.warmup_fraction, again.grad_accum_steps) == (
            "one_cycle",
            0.1,
            4,
        )
        assert again.label_smoothing == 0.1 and again.checkpoint_every == cfg.train.checkpoint_every


# -- the LR range test seeds the rate ---------------------------------------------------------


class WorkerCtx:
    """The parts of the worker's JobContext that run_train uses, without a process."""

    def __init__(self, config) -> None:
        from tuirecipe.runs.launch import prepare_run
        from tuirecipe.train.control import Control

        self.config, self.args, self.control = config, {}, Control()
        self.run = prepare_run(config)
        self.events: list = []

    def emit(self, event) -> None:
        self.events.append(event)

    def log(self, message: str, level: str = "info") -> None:
        from tuirecipe.events import Log

        self.emit(Log(message=message, level=level))


def range_test_config(tmp_path: Path, *overrides: str):
    return load_config(
        None,
        [
            f"runs_dir={tmp_path}",
            "seed=2",
            "model.name=fasttext",
            "model.embed_dim=8",
            "data.max_len=24",
            "train.batch_size=256",
            "train.max_steps=12",
            "train.eval_every=0",
            "train.schedule=one_cycle",
            "train.lr_from=range_test",
            "checks.lr_steps=40",
            *overrides,
        ],
    )


def test_lr_from_range_test_trains_one_cycle_up_to_the_suggested_rate(tmp_path: Path) -> None:
    from tuirecipe.worker import run_train

    ctx = WorkerCtx(range_test_config(tmp_path))
    assert run_train(ctx) == "finished"
    found = ctx.run.read_meta()["lr_range_test"]
    low, high = found["band"]
    assert found["lr"] == high and low <= high and found["steps"] >= 3
    assert found["config_lr"] == 3e-4 and found["lr"] != pytest.approx(3e-4)
    lrs = [e.lr for e in ctx.events if isinstance(e, StepMetrics)]
    assert len(lrs) == 12
    assert max(lrs) == pytest.approx(found["lr"], rel=1e-9)  # one_cycle's peak
    assert lrs[0] == pytest.approx(found["lr"] / 25, rel=1e-9)
    logs = [e.message for e in ctx.events if e.kind == "log"]
    assert any("training at" in m and "instead of train.lr 0.0003" in m for m in logs)


def test_a_range_test_that_finds_no_rate_is_one_line_naming_the_key(tmp_path: Path) -> None:
    from tuirecipe.checks.lr_range import rate_for_training
    from tuirecipe.data.prepare import prepare_data

    config = range_test_config(tmp_path, "checks.lr_steps=2")
    with pytest.raises(ConfigError) as info:
        rate_for_training(config, prepare_data(config), torch.device("cpu"))
    assert "train.lr_from" in str(info.value) and "\n" not in str(info.value)
