"""Checks 7–13: each automatic check passes on a sound model and fails (or warns) on a model
built to fail it; the TF-IDF baseline's numbers against hand computations; the human
baseline's sampling and scoring; the real datasets end to end.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tuirecipe.checks.base import get_check
from tuirecipe.checks.baseline import SimpleBaseline
from tuirecipe.checks.batch_independence import BatchIndependence
from tuirecipe.checks.context import CheckContext
from tuirecipe.checks.gradients import GradientFlow, Saliency
from tuirecipe.checks.human import sample_for_human, score_human
from tuirecipe.checks.loss_decreases import LossDecreases, relative_drop
from tuirecipe.checks.lr_range import (
    RESOLVED,
    LrRange,
    beta_for,
    lr_schedule,
    smooth,
    suggest,
)
from tuirecipe.checks.runner import run_one
from tuirecipe.config import config_from_dict
from tuirecipe.train.metrics import wilson_interval

USER_MODELS = Path(__file__).resolve().parents[1] / "support" / "user_models"
sys.path.insert(0, str(USER_MODELS))
from conftest import REAL_DATA, requires_real_data  # noqa: E402
from tiny_data import Data, Split, Vocab, make_data  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_config(model: str = "fasttext", **sections: dict) -> object:
    table = {
        "model": {"name": model, "embed_dim": 16, "hidden_dim": 16, "num_filters": 8},
        "train": {"lr": 1e-2, "batch_size": 16},
        "checks": {"steps": 40, "lr_steps": 40},
    }
    for key, value in sections.items():
        table[key] = {**table.get(key, {}), **value}
    return config_from_dict(table, source="test.toml", base_dir=str(USER_MODELS))


def context(data=None, model_factory=None, **sections) -> CheckContext:
    ctx = CheckContext(
        make_config(**sections), data=data or make_data(seed=1), device=torch.device("cpu")
    )
    if model_factory is not None:

        def fresh_model(seed=None):
            torch.manual_seed(0 if seed is None else seed)
            return model_factory(ctx.data)

        ctx.fresh_model = fresh_model
    return ctx


# -- models built to fail ------------------------------------------------------------------


class _Base(nn.Module):
    def __init__(self, data, dim: int = 16) -> None:
        super().__init__()
        self.embedding = nn.Embedding(len(data.vocab), dim, padding_idx=0)
        self.head = nn.Linear(dim, len(data.label_names) or 1)

    def pooled(self, ids, mask):
        m = mask.unsqueeze(-1).float()
        return (self.embedding(ids) * m).sum(1) / m.sum(1).clamp(min=1.0)

    def forward(self, ids, mask):
        return self.head(self.pooled(ids, mask))


class BatchNormModel(_Base):
    def __init__(self, data) -> None:
        super().__init__(data)
        self.norm = nn.BatchNorm1d(16)

    def forward(self, ids, mask):
        return self.head(self.norm(self.pooled(ids, mask)))


class BatchMeanModel(_Base):
    def forward(self, ids, mask):
        h = self.pooled(ids, mask)
        return self.head(h - h.mean(0, keepdim=True))


class RowCentredModel(_Base):
    """Legal: subtracts each row's own mean logit (sum of logits is identically 0)."""

    def forward(self, ids, mask):
        out = self.head(self.pooled(ids, mask))
        return out - out.mean(1, keepdim=True)


class DisconnectedModel(_Base):
    def __init__(self, data) -> None:
        super().__init__(data)
        self.unused = nn.Linear(16, 16)  # defined, never called


class FrozenEmbeddingModel(_Base):
    def __init__(self, data) -> None:
        super().__init__(data)
        self.embedding.weight.requires_grad_(False)


class AllFrozenModel(_Base):
    def __init__(self, data) -> None:
        super().__init__(data)
        for p in self.parameters():
            p.requires_grad_(False)


class IgnoresInputModel(_Base):
    """Only a bias can learn; on balanced classes the loss stays at log 2."""

    def forward(self, ids, mask):
        h = self.pooled(ids, mask).detach() * 0
        return self.head(h)


# -- 7. batch independence -----------------------------------------------------------------


@pytest.mark.parametrize("model", ["fasttext", "textcnn", "gru", "transformer"])
def test_batch_independence_passes_on_builtins(model):
    result = run_one(BatchIndependence, context(model=model))
    assert result.status == "pass", result.summary
    matrix = result.evidence["grad_norms"]["matrix"]
    b = len(matrix)
    assert b == 8
    assert all(matrix[i][j] == 0.0 for i in range(b) for j in range(b) if i != j)
    assert all(matrix[i][i] > 0 for i in range(b))


@pytest.mark.parametrize("factory", [BatchNormModel, BatchMeanModel])
def test_batch_independence_fails_on_models_that_mix_the_batch(factory):
    result = run_one(BatchIndependence, context(model_factory=factory))
    assert result.status == "fail", result.summary
    assert result.numbers["leaking_pairs"] == 8 * 7
    assert "batch norm" in result.evidence["advice"].lower()


def test_batch_independence_is_not_fooled_by_a_row_centred_output():
    result = run_one(BatchIndependence, context(model_factory=RowCentredModel))
    assert result.status == "pass", result.summary


# -- 8. gradient flow and saliency ---------------------------------------------------------


def test_gradient_flow_passes_on_a_builtin():
    result = run_one(GradientFlow, context(model="textcnn"))
    assert result.status == "pass", result.summary
    names = [row["name"] for row in result.evidence["parameters"]]
    assert "embedding.weight" in names and "head.bias" in names
    assert all(row["grad_norm"] > 0 for row in result.evidence["parameters"])


def test_gradient_flow_fails_on_a_disconnected_layer():
    result = run_one(GradientFlow, context(model_factory=DisconnectedModel))
    assert result.status == "fail", result.summary
    assert result.evidence["no_grad"] == ["unused.weight", "unused.bias"]
    assert "unused.weight" in result.summary


def test_gradient_flow_warns_on_a_frozen_parameter():
    result = run_one(GradientFlow, context(model_factory=FrozenEmbeddingModel))
    assert result.status == "warn", result.summary
    assert result.evidence["frozen"] == ["embedding.weight"]


def test_gradient_flow_fails_when_everything_is_frozen():
    result = run_one(GradientFlow, context(model_factory=AllFrozenModel))
    assert result.status == "fail", result.summary


def test_saliency_is_gradient_times_input_for_the_predicted_class():
    # A bag of words: logit_c = mean_t(e_t) · w_c + b_c, so the saliency of token t is
    # (e_t · w_pred) / length: computed here by hand from the trained model.
    ctx = context(model_factory=_Base, checks={"saliency_example": 3, "steps": 20})
    trained = {}
    original = ctx.short_train

    def short_train(model, **kwargs):
        trained["model"] = model
        return original(model, **kwargs)

    ctx.short_train = short_train
    result = run_one(Saliency, ctx)
    assert result.status == "pass", result.summary
    model = trained["model"]
    length = int(ctx.data.dev.lengths[3])
    ids = torch.tensor(ctx.data.dev.ids[3, :length])
    with torch.no_grad():
        emb = model.embedding(ids)
        logits = model.head(emb.mean(0))
        pred = int(logits.argmax())
        expected = (emb @ model.head.weight[pred]) / length
    got = [t["saliency"] for t in result.evidence["tokens"]]
    assert len(got) == length
    assert np.allclose(got, expected.numpy(), rtol=1e-4, atol=1e-7)
    assert [t["token"] for t in result.evidence["tokens"]] == [f"w{int(i)}" for i in ids]
    assert result.evidence["predicted"] == f"class{pred}"


def test_saliency_warns_when_the_prediction_ignores_the_tokens():
    result = run_one(Saliency, context(model_factory=IgnoresInputModel, checks={"steps": 5}))
    assert result.status == "warn", result.summary


# -- 9. simple baseline --------------------------------------------------------------------


def keyword_data(n_train: int = 200, n_dev: int = 100, seed: int = 0) -> Data:
    """The label is which keyword (``good`` / ``bad``) the sentence contains."""
    rng = np.random.default_rng(seed)
    filler = ["the", "a", "movie", "was", "plot", "actor", "scene", "really", "quite", "it"]

    def split(n: int, row0: int) -> Split:
        targets = rng.integers(0, 2, size=n)
        texts = []
        for y in targets:
            words = list(rng.choice(filler, size=6))
            words.insert(int(rng.integers(0, 7)), "good" if y == 1 else "bad")
            texts.append(" ".join(words))
        ids = np.ones((n, 7), dtype=np.int64)
        return Split(ids, np.full(n, 7), targets.astype(np.int64), texts, np.arange(row0, row0 + n))

    train, dev = split(n_train, 0), split(n_dev, n_train)
    counts = np.bincount(train.targets, minlength=2).tolist()
    return Data("classification", train, dev, Vocab(20), ["bad", "good"], 0.0, 0.0, counts, 7)


def test_simple_baseline_finds_a_keyword_label():
    data = keyword_data()
    result = run_one(SimpleBaseline, context(data=data))
    # a label word in every text: perfect, and flagged (issue 11)
    assert result.status == "warn" and "suspiciously easy" in result.summary, result.summary
    assert result.numbers["baseline_acc"] == 1.0
    majority = max(np.bincount(data.train.targets))
    majority_class = int(np.argmax(np.bincount(data.train.targets)))
    assert majority > 0
    assert result.numbers["majority_acc"] == pytest.approx(
        float((data.dev.targets == majority_class).mean())
    )
    lo, hi = result.numbers["ci"]
    assert (lo, hi) == pytest.approx(wilson_interval(100, 100))
    assert hi == 1.0 and 0.95 < lo < 0.97


def test_simple_baseline_interval_is_the_wilson_interval():
    # Hand computation for 45/50: centre (0.9 + z²/100)/(1 + z²/50), half-width
    # z·sqrt(0.9·0.1/50 + z²/10000)/(1 + z²/50), z = 1.96 → [0.7864, 0.9565].
    assert wilson_interval(45, 50) == pytest.approx((0.78640, 0.95654), abs=1e-4)
    result = run_one(SimpleBaseline, context(data=make_data(seed=3)))
    assert result.status == "pass"
    n = result.numbers["n"]
    correct = round(result.numbers["baseline_acc"] * n)
    assert result.numbers["ci"] == pytest.approx(list(wilson_interval(correct, n)))
    assert result.numbers["baseline_acc"] > result.numbers["majority_acc"] + 0.2


def test_simple_baseline_regression_ridge_beats_the_mean():
    data = make_data("regression", n_train=400, n_dev=200, seed=2)
    result = run_one(SimpleBaseline, context(data=data))
    assert result.status == "pass", result.summary
    mean_mae = float(np.abs(data.dev.targets - data.train.targets.astype(np.float64).mean()).mean())
    assert result.numbers["mean_mae"] == pytest.approx(mean_mae)
    assert result.numbers["baseline_mae"] < 0.8 * mean_mae
    lo, hi = result.numbers["ci"]
    assert lo < result.numbers["baseline_mae"] < hi


def test_simple_baseline_errors_when_it_cannot_run():
    data = keyword_data()
    data.train.targets[:] = 0
    result = run_one(SimpleBaseline, context(data=data))
    assert result.status == "error"
    assert "single class" in result.summary


# -- 10. learning-rate range test ----------------------------------------------------------


def test_lr_range_helpers():
    lrs = lr_schedule(1e-4, 1.0, 5)
    assert lrs == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    assert smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])  # bias-corrected
    found = suggest(lrs, [3.0, 2.9, 1.0, 0.5, 4.0])
    assert found["lr_at_min"] == pytest.approx(0.1)
    assert found["lr_steepest"] == pytest.approx(1e-2)
    assert (found["suggested_low"], found["suggested_high"]) == pytest.approx((1e-2, 1e-2))


def test_lr_range_passes_and_stops_when_the_loss_explodes():
    result = run_one(LrRange, context())
    assert result.status == "pass", result.summary
    ev = result.evidence
    assert len(ev["lr"]) == len(ev["loss"]) == len(ev["smoothed"]) <= 40
    assert ev["lr"][0] == pytest.approx(1e-6)
    low, high = ev["suggested"]
    assert 1e-6 <= low <= high <= 1.0
    assert result.numbers["min_loss"] < 0.9 * result.numbers["start_loss"]


def _swept(noise: float, seed: int, first: float | None = None):
    """A 100-step sweep: flat at 2.0, falling to 0.5 from about 1e-3, exploding past 0.3,
    with batch noise of ``noise`` (and ``first`` as the first batch's loss)."""
    lrs = lr_schedule(1e-6, 1.0, 100)
    x = np.log10(lrs)
    clean = 2.0 - 1.5 / (1 + np.exp(-3 * (x + 2.5))) + np.where(x > -0.5, 8 * (x + 0.5), 0)
    losses = clean + np.random.default_rng(seed).normal(0, noise, len(lrs))
    if first is not None:
        losses[0] = first
    losses = [float(v) for v in losses]
    beta = beta_for(len(lrs))
    return suggest(lrs, smooth(losses, beta), losses, beta)


def test_lr_range_reads_its_landmarks_against_the_sweeps_noise():
    found = [_swept(0.1, seed) for seed in range(6)]
    onsets = [f["lr_onset"] for f in found]
    assert max(onsets) / min(onsets) < 3, onsets  # the draw moves the onset little
    assert all(1e-4 < o < 1e-2 for o in onsets), onsets
    assert all(f["descent_in_noise"] > RESOLVED for f in found)
    assert all(f["batch_noise"] == pytest.approx(0.1, rel=0.35) for f in found)
    # a lucky first batch is no minimum and no onset: the first tenth is the start level
    lucky = _swept(0.1, 0, first=0.2)
    assert lucky["min_index"] >= 10 and lucky["lr_onset"] == onsets[0]
    # a sweep whose descent is lost in its noise says so
    noisy = _swept(1.5, 0)
    assert noisy["descent_in_noise"] < RESOLVED


def test_lr_range_warns_when_the_model_cannot_learn():
    result = run_one(LrRange, context(model_factory=IgnoresInputModel))
    assert result.status == "warn", result.summary
    assert "never fell" in result.summary


# -- 11. loss decreases --------------------------------------------------------------------


def test_relative_drop():
    assert relative_drop([2.0] * 5 + [1.0] * 5) == pytest.approx((2.0, 1.0, 0.5))


def test_loss_decreases_passes_with_the_dev_interval():
    result = run_one(LossDecreases, context())
    assert result.status == "pass", result.summary
    assert result.numbers["relative_drop"] >= 0.1
    assert result.numbers["dev_n"] == 128
    lo, hi = result.numbers["dev_ci"]
    assert lo <= result.numbers["dev_value"] <= hi
    assert "n=128" in result.summary


def test_loss_decreases_fails_at_a_tiny_learning_rate():
    result = run_one(LossDecreases, context(train={"lr": 1e-9}))
    assert result.status == "fail", result.summary
    assert abs(result.numbers["relative_drop"]) < 0.05


def test_loss_decreases_fails_when_every_parameter_is_frozen():
    result = run_one(LossDecreases, context(model_factory=AllFrozenModel))
    assert result.status == "fail", result.summary


# -- 12. human baseline --------------------------------------------------------------------


def test_sample_for_human_withholds_labels_and_is_seeded():
    texts = [f"text {i}" for i in range(50)] + ["", "   "]
    labels = ["a", "b"] * 25 + ["a", "b"]
    labels[7] = None
    first = sample_for_human(texts, labels, n=10, seed=1)
    assert first == sample_for_human(texts, labels, n=10, seed=1)
    assert first != sample_for_human(texts, labels, n=10, seed=2)
    assert len(first) == 10 and len({i for i, _ in first}) == 10
    assert all(texts[i] == t for i, t in first)
    everything = sample_for_human(texts, labels, n=100, seed=0)
    assert len(everything) == 49  # no empty text, no missing label
    assert 7 not in {i for i, _ in everything}


def test_score_human_against_gold_with_skips():
    gold = ["spam", "ham", "ham", "spam", "ham"]
    answers = {0: "spam", 1: "spam", 2: "ham", 3: None, 4: "ham"}
    score = score_human(answers, gold)
    assert score["n"] == 4 and score["skipped"] == 1 and score["correct"] == 3
    assert score["accuracy"] == pytest.approx(0.75)
    assert score["ci"] == pytest.approx(list(wilson_interval(3, 4)))
    assert score["mistakes"] == [{"index": 1, "answer": "spam", "gold": "ham"}]
    assert score_human({0: None}, gold)["accuracy"] is None
    assert score_human({0: 1}, {0: "1"})["accuracy"] == 1.0


# -- registry and import hygiene -----------------------------------------------------------


def test_checks_are_registered_with_their_stages_and_kinds():
    expected = {
        "batch_independence": ("skeleton", "auto"),
        "gradient_flow": ("skeleton", "auto"),
        "saliency": ("skeleton", "auto"),
        "simple_baseline": ("skeleton", "auto"),
        "lr_range": ("skeleton", "auto"),
        "loss_decreases": ("skeleton", "auto"),
        "human_baseline": ("skeleton", "interactive"),
        "looked_at_data": ("data", "manual"),
        "understood_labels": ("data", "manual"),
        "read_mispredictions": ("overfit", "manual"),
    }
    for name, (stage, kind) in expected.items():
        cls = get_check(name)
        assert (cls.stage, cls.kind) == (stage, kind)
        assert cls.title and len(cls.description) > 60


def test_check_modules_import_without_torch():
    modules = [
        "batch_independence",
        "gradients",
        "baseline",
        "lr_range",
        "loss_decreases",
        "human",
        "manual",
        "store",
    ]
    code = (
        "import sys\n"
        + "".join(f"import tuirecipe.checks.{m}\n" for m in modules)
        + "print([m for m in ('torch', 'numpy', 'sklearn') if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- real datasets -------------------------------------------------------------------------

REAL_CHECKS = [BatchIndependence, GradientFlow, Saliency, SimpleBaseline, LrRange, LossDecreases]


@requires_real_data
@pytest.mark.parametrize("name", ["sms_spam", "trec"])
def test_checks_pass_on_real_data_with_textcnn(name):
    path = REAL_DATA / name / f"{name}.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    config = config_from_dict(
        {
            "name": name,
            "data": {"path": str(path), "max_len": 64},
            "model": {"name": "textcnn", "embed_dim": 32, "num_filters": 32},
            "train": {"lr": 1e-3, "batch_size": 32},
            "checks": {"steps": 40, "lr_steps": 40},
        },
        source="test.toml",
        base_dir=str(path.parent),
    )
    ctx = CheckContext(config, device=torch.device("cpu"))
    results = {cls.name: run_one(cls, ctx) for cls in REAL_CHECKS}
    for result in results.values():
        assert result.status == "pass", (result.name, result.summary)
    baseline = results["simple_baseline"].numbers
    assert baseline["baseline_acc"] > baseline["majority_acc"] + 0.05
    if name == "sms_spam":
        assert baseline["baseline_acc"] >= 0.95
    assert not math.isnan(results["loss_decreases"].numbers["relative_drop"])


def _sms_spam(seed: int, model: dict, train: dict, checks: dict | None = None) -> CheckContext:
    path = REAL_DATA / "sms_spam" / "sms_spam.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    table = {
        "seed": seed,
        "data": {"path": str(path), **({"max_len": 64} if checks else {})},
        "model": model,
        "train": {"device": "cpu", **train},
        "checks": checks or {},
    }
    config = config_from_dict(table, source="test.toml", base_dir=str(path.parent))
    return CheckContext(config, device=torch.device("cpu"))


@requires_real_data
def test_lr_range_passes_sound_rates_at_every_seed_on_real_data():
    """A short 40-step sweep of a small TextCNN on sms_spam falls by only a few noise units:
    its band moved from under 0.001 to 0.017 between seeds, and seed 0 put train.lr = 1e-3
    17× below it. The project's defaults sweep 100 steps and resolve a band."""
    small = ({"name": "textcnn", "embed_dim": 32, "num_filters": 32}, {"lr": 1e-3})
    for seed in range(4):
        for model, train, checks in (
            (*small, {"lr_steps": 40}),
            ({"name": "textcnn"}, {}, None),  # train.lr = 3e-4
        ):
            result = run_one(LrRange, _sms_spam(seed, model, train, checks))
            assert result.status == "pass", (seed, model, result.summary)


@requires_real_data
def test_lr_range_still_catches_bad_rates_at_every_seed_on_real_data():
    for seed in range(3):
        tiny = run_one(LrRange, _sms_spam(seed, {"name": "fasttext"}, {"lr": 1e-7}))
        assert tiny.status == "fail" and "below the band" in tiny.summary, (seed, tiny.summary)
        assert tiny.numbers["descent_in_noise"] >= RESOLVED
        huge = run_one(LrRange, _sms_spam(seed, {"name": "textcnn"}, {"lr": 0.5}))
        assert huge.status == "warn" and "train.lr is 0.5, " in huge.summary, (seed, huge.summary)
