"""Confidence intervals and evaluate() against hand-computed values."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tuirecipe.train import evaluate, mean_interval, prior_entropy, wilson_interval

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support" / "user_models"))
from tiny_data import make_data  # noqa: E402


def test_wilson_interval_matches_hand_computation() -> None:
    # 8 of 10 with z = 1.96: centre (0.8 + 0.19208) / 1.38416 = 0.716738,
    # half 1.96 * sqrt(0.016 + 0.009604) / 1.38416 = 0.226583
    lo, hi = wilson_interval(8, 10, z=1.96)
    assert lo == pytest.approx(0.490155, abs=1e-5)
    assert hi == pytest.approx(0.943321, abs=1e-5)


def test_wilson_interval_edges() -> None:
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and 0.1 < hi < 0.2  # not the degenerate [0, 0] of the normal approx
    lo, hi = wilson_interval(20, 20)
    assert hi == 1.0 and 0.8 < lo < 0.9
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_mean_interval() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0])
    lo, hi = mean_interval(values)
    half = 1.959963984540054 * np.std(values, ddof=1) / 2.0
    assert (lo, hi) == pytest.approx((2.5 - half, 2.5 + half))


def test_prior_entropy() -> None:
    assert prior_entropy([5, 5]) == pytest.approx(math.log(2))
    assert prior_entropy([3, 0]) == 0.0


class Constant(nn.Module):
    def __init__(self, values: list[float]) -> None:
        super().__init__()
        self.values = torch.tensor(values)

    def forward(self, input_ids, attention_mask):
        return self.values.expand(input_ids.shape[0], -1)


def test_evaluate_classification_against_closed_form() -> None:
    data = make_data(num_classes=2, n_dev=50)
    model = Constant([2.0, 0.0])  # always predicts class 0, p(class 0) = sigmoid(2)
    result = evaluate(model, data.dev, task="classification", batch_size=7, device="cpu")
    k = int((data.dev.targets == 0).sum())
    p0 = 1 / (1 + math.exp(-2.0))
    expected_loss = (k * -math.log(p0) + (50 - k) * -math.log(1 - p0)) / 50
    assert result["n"] == 50
    assert result["acc"] == pytest.approx(k / 50)
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert result["ci"]["acc"] == pytest.approx(list(wilson_interval(k, 50)))
    lo, hi = result["ci"]["loss"]
    assert lo < result["loss"] < hi


def test_evaluate_regression_in_target_units() -> None:
    data = make_data("regression", n_dev=40)
    model = Constant([5.0])
    result = evaluate(model, data.dev, task="regression", batch_size=16, device="cpu")
    err = data.dev.targets.astype(np.float64) - 5.0
    assert result["mse"] == pytest.approx(float((err**2).mean()), rel=1e-6)
    assert result["mae"] == pytest.approx(float(np.abs(err).mean()), rel=1e-6)
    assert result["loss"] == result["mse"]
    assert result["rmse"] == pytest.approx(float(np.sqrt((err**2).mean())), rel=1e-6)
    # a constant prediction has no rank correlation: Spearman is left out, not made up
    assert set(result["ci"]) == {"loss", "mse", "mae", "rmse"} and "spearman" not in result
