"""The built-in demo datasets: deterministic bytes, planted dirt, learnable signal."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from tuirecipe.config import demo_config
from tuirecipe.data import demo_frame, ensure_demo_file, load_table, prepare_data


def test_demo_file_is_byte_identical_and_not_rewritten(tmp_path):
    first = ensure_demo_file("classification", tmp_path / "a")
    second = ensure_demo_file("classification", tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    mtime = first.stat().st_mtime_ns
    assert ensure_demo_file("classification", tmp_path / "a") == first
    assert first.stat().st_mtime_ns == mtime  # same bytes: left alone
    first.write_text("tampered")
    ensure_demo_file("classification", tmp_path / "a")
    assert first.read_bytes() == second.read_bytes()


def test_demo_default_location_follows_tuirecipe_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TUIRECIPE_CACHE", str(tmp_path))
    path = ensure_demo_file("regression")
    assert path.parent == tmp_path / "demo" and path.is_file()


def test_demo_frame_depends_on_seed_only():
    assert demo_frame(seed=1).equals(demo_frame(seed=1))
    assert not demo_frame(seed=1).equals(demo_frame(seed=2))
    with pytest.raises(ValueError):
        demo_frame("ranking")


def test_classification_demo_has_long_tail_duplicates_conflicts_and_dirt():
    frame = demo_frame("classification")
    assert 5500 <= len(frame) <= 6500
    counts = frame["label"].value_counts()
    assert 6 <= len(counts) <= 8
    assert counts.max() / counts.min() >= 30
    texts = frame["text"]
    surplus = len(frame) - texts.nunique()
    assert 0.015 * len(frame) <= surplus <= 0.03 * len(frame)
    labelled = frame.dropna(subset=["label"])
    conflicts = labelled.groupby("text")["label"].nunique()
    assert (conflicts > 1).sum() == 20
    assert (texts.str.strip() == "").sum() == 2
    assert frame["label"].isna().sum() == 2
    assert texts.str.contains("Ã©").any() and texts.str.contains("&amp;").any()
    assert texts.str.contains("[\x00-\x08\x1b]", regex=True).any()
    lengths = texts.str.split().str.len()
    assert lengths.max() >= 1000
    normal = lengths[(lengths > 0) & (lengths < 1000)]
    assert normal.min() <= 3 and 150 <= normal.max() <= 200


def test_demo_loads_with_the_corrupted_rows_skipped():
    path = ensure_demo_file("classification")
    report = load_table(path, demo_config().data).report
    assert report.rows_read == 6000 and report.rows_used == 5996
    reasons = sorted(s.reason for s in report.skipped)
    assert reasons == ["empty text", "empty text", "missing label", "missing label"]
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_classification_demo_is_learnable():
    # A linear bag-of-words model stands in for the TextCNN (no torch in data tests).
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    data = prepare_data(demo_config())
    vectorizer = CountVectorizer(max_features=5000)
    train_x = vectorizer.fit_transform(data.train.texts)
    model = LogisticRegression(max_iter=300).fit(train_x, data.train.targets)
    accuracy = model.score(vectorizer.transform(data.dev.texts), data.dev.targets)
    majority = np.bincount(data.dev.targets).max() / len(data.dev)
    assert majority < 0.4 and accuracy > majority + 0.4


def test_regression_demo_is_learnable_and_dirty():
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import Ridge

    data = prepare_data(demo_config("regression"))
    assert 3900 <= len(data.train) + len(data.dev) <= 4100
    assert {s.reason.split()[0] for s in data.report.skipped} == {"empty", "missing", "label"}
    assert 1.0 <= data.train.targets.min() and data.train.targets.max() <= 5.0
    assert data.target_std > 0.5
    vectorizer = CountVectorizer()
    model = Ridge().fit(vectorizer.fit_transform(data.train.texts), data.train.targets)
    assert model.score(vectorizer.transform(data.dev.texts), data.dev.targets) > 0.5


def test_demo_source_must_match_the_task():
    from tuirecipe.config import config_from_dict
    from tuirecipe.errors import DataError

    config = config_from_dict({"data": {"path": "demo:regression"}})
    with pytest.raises(DataError) as info:
        prepare_data(config)
    assert info.value.key == "data.task"
