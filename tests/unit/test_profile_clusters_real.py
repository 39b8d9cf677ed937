"""Clusters on real datasets: topical news must give label-concentrated clusters named by
topic words; sentence-level sentiment must not. Skipped when ../shared/data/real is
absent."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import REAL_DATA as REAL
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from tuirecipe.data.profile.clusters import cluster_texts

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="shared real datasets not present")


def _section(name: str) -> dict:
    frame = pd.read_csv(REAL / name / f"{name}.csv", keep_default_na=False)
    codes, names = pd.factorize(frame["label"].astype(str))
    return cluster_texts(
        frame["text"].astype(str).tolist(),
        label_codes=codes,
        label_names=[str(n) for n in names],
        rows=frame.index.to_numpy() + 2,  # line in the file: header is line 1
    )


def test_news_topics_carry_their_labels() -> None:
    section = _section("ag_news_test")
    assert section["label_association"]["cramers_v"] > 0.5
    assert section["label_signal"]["concentrated"] >= section["k"] // 2
    assert section["message"].startswith("Labels follow topics")
    sports = [c for c in section["clusters"] if c.get("signal_label") == "Sports"]
    assert sports and all(c["label_signal"] == "concentrated" for c in sports)
    terms = {t for c in section["clusters"] for t in c["top_terms"]}
    assert not terms & ENGLISH_STOP_WORDS
    assert {"iraq", "oil", "microsoft"} <= terms


def test_sentence_sentiment_does_not_follow_topic_words() -> None:
    section = _section("sst2_dev")
    assert section["label_signal"]["concentrated"] == 0
    assert section["label_association"]["cramers_v"] < 0.2
    assert not section["message"].startswith(("Labels follow topics", "Some topics"))
