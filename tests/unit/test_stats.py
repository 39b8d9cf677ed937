"""The one EMA (tuirecipe.stats) against its closed form, and the profile's TF-IDF against
scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest

from tuirecipe.stats import EMA_START, ema, ema_extend


def reference_ema(values: list[float], weight: float) -> list[float]:
    """The textbook loop: a_k = w a_(k-1) + (1 - w) v_k, reported as a_k / (1 - w^k)."""
    out, average = [], 0.0
    for k, v in enumerate(values, 1):
        average = weight * average + (1 - weight) * v
        out.append(average / (1 - weight**k))
    return out


@pytest.mark.parametrize("weight", [0.3, 0.9, 0.99, 0.999])
def test_ema_matches_the_loop_including_long_series(weight: float) -> None:
    values = np.random.default_rng(0).normal(1.0, 0.5, 20_000)
    np.testing.assert_allclose(ema(values, weight), reference_ema(values.tolist(), weight), 1e-9)


def test_ema_is_debiased_and_weight_zero_is_identity() -> None:
    np.testing.assert_allclose(ema([2.0, 2.0, 2.0], 0.9), [2.0, 2.0, 2.0])
    assert ema([5.0, 1.0], 0.5)[0] == 5.0  # the first value is not pulled towards 0
    assert np.array_equal(ema([1.0, 2.0], 0.0), [1.0, 2.0])
    assert len(ema([], 0.9)) == 0


def test_ema_in_pieces_equals_ema_of_the_whole() -> None:
    values = np.random.default_rng(1).random(5_000)
    state, pieces = EMA_START, []
    for start, stop in [(0, 1), (1, 7), (7, 7), (7, 4_000), (4_000, 5_000)]:
        out, state = ema_extend(values[start:stop], 0.95, state)
        pieces.append(out)
    np.testing.assert_allclose(np.concatenate(pieces), ema(values, 0.95), rtol=1e-12)
    assert state[1] == 5_000
