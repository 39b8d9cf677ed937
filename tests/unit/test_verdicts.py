"""The verdicts of loss_decreases, input_independent, overfit_batch, simple_baseline and
lr_range: each fails (or warns) on a setup built for it (tests/support/zoo_verdicts.py) and passes
on a sound model at the defaults."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from conftest import REAL_DATA, requires_real_data
from support import REPO_ROOT, SUPPORT, USER_MODELS

from tuirecipe.checks.baseline import SimpleBaseline
from tuirecipe.checks.context import CheckContext
from tuirecipe.checks.input_independent import InputIndependent
from tuirecipe.checks.loss_decreases import LossDecreases
from tuirecipe.checks.lr_range import LrRange
from tuirecipe.checks.overfit_batch import OverfitBatch
from tuirecipe.checks.runner import run_one
from tuirecipe.checks.torchutil import constant_input_split, floor_losses, paired_gap
from tuirecipe.config import config_from_dict, load_config

TESTS = SUPPORT  # zoo_verdicts.py, failing_models.py, user_models/
REPO = REPO_ROOT
sys.path.insert(0, str(USER_MODELS))
from support import zoo_verdicts as zoo  # noqa: E402
from tiny_data import make_data  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def ctx_for(data, model: str = "fasttext", *, train=None, checks=None) -> CheckContext:
    table = {
        "model": {"name": model, "embed_dim": 16, "hidden_dim": 16, "dropout": 0.0},
        "train": {"lr": 1e-2, "batch_size": 16, "device": "cpu", **(train or {})},
        "checks": {"steps": 30, "lr_steps": 40, **(checks or {})},
    }
    config = config_from_dict(table, source="test.toml", base_dir=str(TESTS))
    return CheckContext(config, data=data, device=torch.device("cpu"))


@pytest.fixture(scope="module")
def skewed():
    return make_data(n_train=384, n_dev=256, num_classes=3, priors=[0.6, 0.3, 0.1], seed=4)


# -- helpers ----------------------------------------------------------------------------


def test_floor_is_the_prior_entropy_and_the_gap_interval_is_paired() -> None:
    data = make_data(n_train=100, n_dev=50, num_classes=2, priors=[0.8, 0.2], seed=0)
    floor = floor_losses(data, data.train)
    p = np.asarray(data.class_counts) / sum(data.class_counts)
    assert floor.mean() == pytest.approx(-(p * np.log(p)).sum())  # the prior's entropy
    gap = paired_gap(floor - 0.1, floor)  # the same rows, a constant shift: no noise
    assert gap["diff"] == pytest.approx(-0.1) and gap["se"] == pytest.approx(0.0, abs=1e-12)
    reg = make_data("regression", n_train=100, n_dev=50, seed=0)
    assert floor_losses(reg, reg.train).mean() == pytest.approx(np.var(reg.train.targets))


def test_constant_input_removes_ids_mask_and_length() -> None:
    data = make_data(n_train=20, n_dev=10, min_len=1, max_len=9, seed=0)
    const = constant_input_split(data.dev, data.train)
    assert (const.ids == const.ids[0]).all() and len(set(const.lengths.tolist())) == 1
    assert (const.targets == data.dev.targets).all()


# -- loss_decreases ------------------------------------------------------------------------


def test_loss_decreases_passes_a_sound_model_and_fails_shuffled_labels(skewed) -> None:
    good = run_one(LossDecreases, ctx_for(skewed))
    assert good.status == "pass", good.summary
    assert good.numbers["gap_ci"][1] < 0 and good.numbers["dev_loss"] < good.numbers["floor"]
    bad = run_one(LossDecreases, ctx_for(zoo.shuffled_labels(skewed)))
    # the training loss does go down (the prior is learned), the check still fails
    assert bad.numbers["relative_drop"] > 0.1
    assert bad.status == "fail", bad.summary
    assert "not below the floor" in bad.summary and bad.numbers["rounds"] == 4


def test_loss_decreases_floor_is_the_variance_for_regression() -> None:
    data = make_data("regression", n_train=400, n_dev=200, seed=2)
    result = run_one(LossDecreases, ctx_for(data, train={"lr": 3e-2}))
    assert result.numbers["floor"] == pytest.approx(
        float(((data.dev.targets - data.train.targets.astype(np.float64).mean()) ** 2).mean())
    )
    assert result.status == "pass", result.summary


# -- input_independent ----------------------------------------------------------------------


@pytest.mark.parametrize("broken", ["shuffled_labels", "shifted_labels"])
def test_input_independent_fails_when_labels_do_not_match_the_texts(skewed, broken) -> None:
    result = run_one(InputIndependent, ctx_for(getattr(zoo, broken)(skewed)))
    assert result.status == "fail", result.summary
    assert "labels are aligned" in result.evidence["advice"]


def test_input_independent_passes_a_model_that_reads_only_the_length() -> None:
    # length is input: a control that zeroed only the embedding would learn it too
    data = zoo.length_labelled(make_data(n_train=384, n_dev=256, min_len=1, max_len=12, seed=5))
    result = run_one(InputIndependent, ctx_for(data, "zoo_verdicts:build_length_only"))
    assert result.status == "pass", result.summary
    assert result.numbers["control"] > result.numbers["real"]


def test_input_independent_passes_the_sound_model(skewed) -> None:
    result = run_one(InputIndependent, ctx_for(skewed))
    assert result.status == "pass", result.summary


# -- overfit_batch -------------------------------------------------------------------------


def test_overfit_batch_retries_faster_when_train_lr_is_slow(skewed) -> None:
    result = run_one(OverfitBatch, ctx_for(skewed, train={"lr": 3e-4}))
    assert result.status == "pass", result.summary
    assert result.numbers["tries"] == 2 and result.numbers["lr"] > 3e-4
    assert result.numbers["train_acc"] == 1.0
    assert "at train.lr 0.0003" in result.summary


def test_overfit_batch_still_fails_a_model_that_ignores_its_input(skewed) -> None:
    result = run_one(
        OverfitBatch,
        ctx_for(skewed, "failing_models:build_input_ignoring", checks={"overfit_steps": 50}),
    )
    assert result.status == "fail", result.summary
    assert result.numbers["tries"] == 2 and result.numbers["train_acc"] < 1.0


# -- simple_baseline -------------------------------------------------------------------------


def test_simple_baseline_fails_on_shuffled_labels(skewed) -> None:
    result = run_one(SimpleBaseline, ctx_for(zoo.shuffled_labels(skewed)))
    assert result.status == "fail", result.summary
    assert "majority class" in result.summary and "unrelated" in result.evidence["advice"]


def test_simple_baseline_warns_on_a_leaked_label(skewed) -> None:
    result = run_one(SimpleBaseline, ctx_for(zoo.leaked_labels(skewed)))
    assert result.status == "warn", result.summary
    assert "suspiciously easy" in result.summary


def test_simple_baseline_warns_when_dev_is_the_training_split(skewed) -> None:
    data = zoo.dev_is_train(skewed)
    result = run_one(SimpleBaseline, ctx_for(data))
    assert result.status == "warn", result.summary
    n = len(data.dev.targets)
    assert result.numbers["train_dev_overlap"] == n
    assert f"{n} of {n} dev rows" in result.summary


def test_simple_baseline_passes_on_sound_data(skewed) -> None:
    result = run_one(SimpleBaseline, ctx_for(skewed))
    assert result.status == "pass", result.summary
    overlap = result.numbers["train_dev_overlap"]  # short synthetic texts repeat
    assert 0 < overlap < 0.5 * result.numbers["n"]
    assert f"{overlap} of {result.numbers['n']} dev rows" in result.summary


# -- lr_range ------------------------------------------------------------------------------


def test_lr_range_judges_train_lr_against_its_band(skewed) -> None:
    low, high = run_one(LrRange, ctx_for(skewed)).evidence["suggested"]
    ok = run_one(LrRange, ctx_for(skewed, train={"lr": (low * high) ** 0.5}))
    assert ok.status == "pass", ok.summary  # the sweep does not depend on train.lr
    assert ok.evidence["suggested"] == [low, high]
    assert ok.evidence["smoothing"].startswith("EMA β=0.95")  # 0.98 per 100 steps, 40 here
    far = run_one(LrRange, ctx_for(skewed, train={"lr": high * 200}))
    assert far.status == "fail" and "above the band" in far.summary, far.summary
    near = run_one(LrRange, ctx_for(skewed, train={"lr": high * 20}))
    assert near.status == "warn", near.summary
    foot = min(low, ok.numbers["lr_onset"])  # below: measured from where the loss falls
    slower = run_one(LrRange, ctx_for(skewed, train={"lr": foot / 50}))
    assert slower.status == "pass", slower.summary  # trains, more slowly than suggested
    slow = run_one(LrRange, ctx_for(skewed, train={"lr": foot / 200}))
    assert slow.status == "warn" and "below the band" in slow.summary, slow.summary
    stuck = run_one(LrRange, ctx_for(skewed, train={"lr": foot / 5000}))
    assert stuck.status == "fail", stuck.summary


# -- the sample user model on the demo: the reported false alarms ----------------------------


@pytest.fixture(scope="module")
def user_model_ctx():
    config = load_config(REPO / "sample_configs" / "user_model.toml")
    config.train.device = "cpu"
    return CheckContext(config, device=torch.device("cpu"))


def test_sample_user_model_on_the_demo_has_no_false_alarm(user_model_ctx) -> None:
    for check in (OverfitBatch, LossDecreases, InputIndependent):
        result = run_one(check, user_model_ctx)
        assert result.status == "pass", (check.name, result.summary)


def test_lr_of_half_on_the_demo_does_not_pass(user_model_ctx) -> None:
    config = load_config(REPO / "sample_configs" / "user_model.toml")
    config.train.device, config.train.lr = "cpu", 0.5
    ctx = CheckContext(config, data=user_model_ctx.data, device=torch.device("cpu"))
    result = run_one(LrRange, ctx)
    assert result.status in ("warn", "fail"), result.summary


# -- sms_spam: labels shuffled or shifted against the texts -----------------------------------


@requires_real_data
@pytest.mark.parametrize("broken", ["shuffled_labels", "shifted_labels"])
def test_broken_labels_on_sms_spam_fail_every_verdict(broken) -> None:
    path = REAL_DATA / "sms_spam" / "sms_spam.csv"
    config = config_from_dict(
        {"data": {"path": str(path)}, "train": {"device": "cpu"}},
        source="test.toml",
        base_dir=str(path.parent),
    )
    sound = CheckContext(config, device=torch.device("cpu"))
    data = getattr(zoo, broken)(sound.data)
    ctx = CheckContext(config, data=data, device=torch.device("cpu"))
    for check in (LossDecreases, InputIndependent, SimpleBaseline):
        result = run_one(check, ctx)
        assert result.status == "fail", (check.name, result.summary)
