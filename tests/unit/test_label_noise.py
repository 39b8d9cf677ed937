"""The label-noise estimate: flags fire on flipped labels and (nearly) not on clean,
separable ones; the noise rate carries its interval, unit and scope; every count comes from
one function; regression is refused in one line; the cache is keyed on the settings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("cleanlab")

from support.noisy_text import CLASSES, flip, separable  # noqa: E402

from tuirecipe.data.cleaning import export_cleaned  # noqa: E402
from tuirecipe.data.label_noise import (  # noqa: E402
    NotApplicable,
    estimate_from_probabilities,
    estimate_label_noise,
    flagged_positions,
    label_errors_by_row,
)
from tuirecipe.data.row_query import BrowserQuery, select_rows  # noqa: E402


def test_flags_fire_on_flipped_labels_and_suggest_the_true_one() -> None:
    texts, truth = separable()
    noisy, flipped = flip(truth, 0.08, seed=1)
    noise = estimate_label_noise(texts, noisy, seed=0)
    flagged = noise.issue
    assert (flagged & flipped).sum() >= 0.9 * flipped.sum()
    assert flagged.sum() <= 1.5 * flipped.sum()
    # a flagged flip's suggested label is its true one
    hits = np.flatnonzero(flagged & flipped)
    suggested = np.asarray([noise.suggested_label(int(p)) for p in hits], dtype=object)
    assert (suggested == truth[hits]).mean() >= 0.9
    assert (noise.confidence[hits] > noise.quality[hits]).all()


def test_flags_nearly_never_fire_on_clean_separable_labels() -> None:
    texts, truth = separable()
    noise = estimate_label_noise(texts, truth, seed=0)
    assert noise.section["flagged"] <= 0.02 * len(truth)
    assert noise.section["model_accuracy"] > 0.95


def test_noise_rate_carries_a_wilson_interval_per_class_and_overall() -> None:
    texts, truth = separable()
    noisy, _ = flip(truth, 0.1, seed=2)
    section = estimate_label_noise(texts, noisy, seed=0, scope="whole file: x.csv").section
    lo, hi = section["interval"]
    assert 0 <= lo < section["rate"] < hi <= 1
    assert section["rate"] == section["flagged"] / section["rows"]
    assert section["scope"] == "whole file: x.csv" and "rows" in section["unit"]
    assert "Wilson" in section["interval_method"]
    per_class = section["per_class"]
    assert [c["label"] for c in per_class] == sorted(CLASSES)
    assert sum(c["flagged"] for c in per_class) == section["flagged"]
    assert sum(c["rows"] for c in per_class) == section["rows"]
    for item in per_class:
        c_lo, c_hi = item["interval"]
        assert c_lo <= item["rate"] <= c_hi


def test_probabilities_from_another_source_are_the_extension_point() -> None:
    """Any out-of-fold probabilities (an encoder probe, cv folds) go straight in: a row
    whose model is sure of another class is flagged with that class as suggestion."""
    labels = np.array(["a"] * 50 + ["b"] * 50, dtype=object)
    probs = np.zeros((100, 2))
    probs[:50] = [0.9, 0.1]
    probs[50:] = [0.1, 0.9]
    probs[7] = [0.02, 0.98]  # given "a", surely "b"
    noise = estimate_from_probabilities(labels, probs, source="test probe")
    assert flagged_positions(noise).tolist() == [7]
    assert noise.suggested_label(7) == "b"
    assert noise.confidence[7] == pytest.approx(0.98)
    assert noise.section["source"] == "test probe"
    with pytest.raises(ValueError, match="shape"):
        estimate_from_probabilities(labels, probs[:, :1])


def test_regression_is_refused_in_one_line() -> None:
    with pytest.raises(NotApplicable) as caught:
        estimate_label_noise(["a", "b"] * 10, [0.1, 2.0] * 10, task="regression")
    assert "does not apply to regression" in str(caught.value)
    assert "\n" not in str(caught.value)
    with pytest.raises(NotApplicable, match="two classes"):
        estimate_label_noise(["a b"] * 20, ["x"] * 20)


def test_duplicate_groups_are_held_out_whole() -> None:
    """Every text written twice with the same (partly flipped) label: with the copies in
    one fold, the flips are found; with copies split across folds, a flipped copy's twin in
    the training folds vouches for the wrong label and most flips go unseen."""
    texts, truth = separable(40, seed=3)
    noisy, flipped = flip(truth, 0.1, seed=3)
    doubled, labels = texts + texts, np.concatenate([noisy, noisy])
    wrong = np.concatenate([flipped, flipped])
    groups = np.concatenate([np.arange(len(texts))] * 2)
    grouped = estimate_label_noise(doubled, labels, seed=0, groups=groups).issue
    split = estimate_label_noise(doubled, labels, seed=0).issue
    assert (grouped & wrong).sum() >= 0.85 * wrong.sum()
    assert (split & wrong).sum() <= 0.3 * wrong.sum()


def test_one_source_for_the_counts(tmp_path) -> None:
    """The section's count, the browser filter, the export's removals: the same rows."""
    texts, truth = separable()
    noisy, _ = flip(truth, 0.08, seed=4)
    frame = pd.DataFrame({"text": texts, "label": noisy, "row": np.arange(1, len(texts) + 1)})
    noise = estimate_label_noise(texts, noisy, seed=0, rows=frame["row"].to_numpy())
    flagged = flagged_positions(noise)
    assert noise.section["flagged"] == len(flagged) > 0
    by_row = label_errors_by_row(noise)
    assert sorted(by_row) == frame["row"].to_numpy()[flagged].tolist()
    flags = pd.DataFrame({"label_error": noise.issue})
    shown = select_rows(frame, np.zeros(len(frame)), flags, {}, BrowserQuery(flag="label_error"))
    assert shown.tolist() == flagged.tolist()
    source = tmp_path / "data.csv"
    frame[["text", "label"]].to_csv(source, index=False)
    result = export_cleaned(source, frame, {}, drop_flags=("label_error",), label_errors=by_row)
    assert result.removed == len(flagged)
    assert result.reasons == {"label_error": len(flagged)}
