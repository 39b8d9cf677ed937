"""Curve envelopes keep every column's extremes and cost the same for any run length."""

from __future__ import annotations

import numpy as np

from tuirecipe.events import EvalMetrics, StepMetrics
from tuirecipe.runs.curves import RunHistory, Series, envelope
from tuirecipe.stats import ema


def test_small_series_pass_through() -> None:
    x = np.arange(10.0)
    xs, ys = envelope(x, x * 2, columns=80)
    assert np.array_equal(xs, x) and np.array_equal(ys, x * 2)


def test_envelope_keeps_min_and_max_of_each_column() -> None:
    rng = np.random.default_rng(0)
    x = np.arange(1_000_000, dtype=float)
    y = rng.normal(size=x.size)
    y[123_456] = 50.0  # a spike must survive downsampling
    y[654_321] = -50.0
    xs, ys = envelope(x, y, columns=100)
    assert len(xs) <= 200
    assert ys.max() == 50.0 and ys.min() == -50.0
    col = np.minimum((x / x[-1] * 100).astype(int), 99)
    for c in (0, 37, 99):
        seg = y[col == c]
        got = ys[2 * c : 2 * c + 2]
        assert sorted(got) == sorted([seg.min(), seg.max()])


def test_envelope_visible_range_and_nan() -> None:
    x = np.arange(1000.0)
    y = x.copy()
    y[500] = np.nan
    xs, ys = envelope(x, y, columns=10, x_range=(100, 199))
    assert xs.min() >= 100 and xs.max() <= 199 and np.isfinite(ys).all()


def test_ema_debiased() -> None:
    assert np.allclose(ema(np.array([1.0, 1.0, 1.0]), 0.9), 1.0)
    assert np.array_equal(ema(np.array([1.0, 2.0]), 0.0), [1.0, 2.0])


def test_series_grows() -> None:
    s = Series(capacity=2)
    for i in range(10):
        s.append(i, i * i)
    assert len(s) == 10 and s.y[-1] == 81


def test_history_from_events() -> None:
    h = RunHistory()
    h.add(
        [
            StepMetrics(step=1, epoch=0.1, loss=2.0, lr=0.1, acc=0.5),
            StepMetrics(step=2, epoch=0.2, loss=1.0, lr=0.1, acc=None),
            EvalMetrics(step=2, epoch=0.2, split="dev", metrics={"loss": 1.5, "acc": 0.6}),
        ]
    )
    assert list(h.loss.y) == [2.0, 1.0] and len(h.acc) == 1
    assert list(h.dev["acc"].y) == [0.6] and h.last_step == 2
