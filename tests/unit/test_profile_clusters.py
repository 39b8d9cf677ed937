"""Topic clusters (tuirecipe/data/profile/clusters.py, cluster_stats.py) on constructed
data where the truth is known: labels that follow the topics must read as concentrated,
labels drawn without regard to them as like the prior, on a balanced six-class set and on
an 87 %-majority set; stop words never name a cluster; a features callable decides the
clusters; regression targets get per-cluster statistics."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from tuirecipe.data.profile.clusters import MIN_TEXTS, choose_k, cluster_texts

# Six topics, ten words each; every text also carries function words, and "would could
# should" go with the first topic only, so a TF-IDF without stop words would name its
# cluster by them.
TOPICS = [
    "goal match team coach league score season player stadium referee".split(),
    "bank market stock price profit shares investor trade bond dividend".split(),
    "virus cell protein gene doctor patient vaccine clinic dose therapy".split(),
    "rocket orbit planet moon telescope galaxy astronaut launch comet crater".split(),
    "guitar album concert singer drummer melody chorus lyric band tour".split(),
    "oven recipe flour butter garlic onion simmer roast pepper dough".split(),
]
FUNCTION_WORDS = "the to be and of have want it is was".split()
TOPIC_ONE_FUNCTION_WORDS = "would could should".split()


def topical_texts(topics: np.ndarray, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    texts = []
    for topic in topics:
        words = list(rng.choice(TOPICS[topic], 6)) + list(rng.choice(FUNCTION_WORDS, 4))
        if topic == 0:
            words += list(rng.choice(TOPIC_ONE_FUNCTION_WORDS, 2))
        rng.shuffle(words)
        texts.append(" ".join(words))
    return texts


def six_class_topics(n: int = 600) -> np.ndarray:
    return np.arange(n) % 6


def majority_topics(n: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Three topics; the minority label (13 %) is exactly topic 2."""
    topics = np.zeros(n, dtype=np.int64)
    topics[: n * 13 // 100] = 2
    topics[n * 13 // 100 :: 2] = 1
    labels = (topics == 2).astype(np.int64)  # 0 = "major" (87 %), 1 = "minor"
    return topics, labels


def assert_topic_terms(section: dict, one_topic_each: bool = False) -> None:
    """Clusters are named by topic words only; with as many clusters as topics, each
    cluster's first three terms come from one topic."""
    vocabularies = [set(words) for words in TOPICS]
    for cluster in section["clusters"]:
        terms = set(cluster["top_terms"])
        assert terms and terms <= set().union(*vocabularies), cluster["top_terms"]
        assert not terms & ENGLISH_STOP_WORDS
        if one_topic_each:
            assert any(set(cluster["top_terms"][:3]) <= v for v in vocabularies), cluster


def test_labels_that_follow_topics_are_concentrated_on_a_balanced_six_class_set() -> None:
    topics = six_class_topics()
    names = [f"class{i}" for i in range(6)]
    section = cluster_texts(topical_texts(topics), label_codes=topics, label_names=names)
    assert section["ran"] and section["k"] == choose_k(600)
    assert_topic_terms(section)
    assert section["label_signal"]["concentrated"] == section["k"]
    assert section["label_association"]["cramers_v"] > 0.8
    assert section["label_association"]["p_value"] < 1e-10
    assert section["message"].startswith("Labels follow topics")
    for cluster in section["clusters"]:
        assert cluster["signal_prior"] == pytest.approx(1 / 6)
        assert cluster["lift"] >= 2.5 and cluster["p_adjusted"] < 0.01
        assert cluster["signal_label"] == cluster["majority_label"]
    one_each = cluster_texts(topical_texts(topics), label_codes=topics, label_names=names, k=6)
    assert_topic_terms(one_each, one_topic_each=True)
    assert [c["majority"] for c in one_each["clusters"]] == [1.0] * 6
    assert one_each["k_rule"] == "given"


def test_labels_unrelated_to_topics_read_as_the_prior_on_a_balanced_six_class_set() -> None:
    topics = six_class_topics()
    labels = np.random.default_rng(5).integers(0, 6, len(topics))
    names = [f"class{i}" for i in range(6)]
    section = cluster_texts(topical_texts(topics), label_codes=labels, label_names=names)
    assert_topic_terms(section)  # the topics are still found
    assert section["label_signal"] == {"concentrated": 0, "slight": 0, "like_prior": section["k"]}
    assert section["label_association"]["p_value"] > 0.01
    assert section["label_association"]["cramers_v"] < 0.15
    assert section["message"].startswith("Labels are spread over the topic clusters")
    # The old "majority below 60 %" rule would have called every one of these "mixed".
    assert all(cluster["majority"] < 0.6 for cluster in section["clusters"])


def test_a_minority_label_that_is_a_topic_is_concentrated_on_an_87_percent_set() -> None:
    topics, labels = majority_topics()
    section = cluster_texts(
        topical_texts(topics), label_codes=labels, label_names=["major", "minor"]
    )
    assert_topic_terms(section)
    minority = [c for c in section["clusters"] if c["signal_label"] == "minor"]
    assert minority and all(c["label_signal"] == "concentrated" for c in minority)
    assert all(c["lift"] > 5 and c["signal_prior"] == pytest.approx(0.13) for c in minority)
    assert section["label_signal"]["concentrated"] == section["k"]  # the rest hold no minor
    assert all(c["majority"] >= 0.6 for c in section["clusters"])  # the old rule: silent


def test_labels_unrelated_to_topics_read_as_the_prior_on_an_87_percent_set() -> None:
    topics, _ = majority_topics()
    labels = (np.random.default_rng(3).random(len(topics)) < 0.13).astype(np.int64)
    section = cluster_texts(
        topical_texts(topics), label_codes=labels, label_names=["major", "minor"]
    )
    assert section["label_signal"]["concentrated"] == 0
    assert section["label_signal"]["like_prior"] == section["k"]
    assert section["label_association"]["p_value"] > 0.01
    assert section["message"].startswith("Labels are spread")


def test_a_features_callable_decides_the_clusters_and_terms_still_come_from_tfidf() -> None:
    # Texts from one topic mixed at random; the hidden groups exist only in the vectors.
    rng = np.random.default_rng(1)
    n = 300
    groups = rng.integers(0, 3, n)
    texts = topical_texts(rng.integers(0, 6, n), seed=2)
    seen: list[list[str]] = []

    def hand_made(batch: list[str]) -> np.ndarray:
        seen.append(batch)
        centres = np.eye(3, 8) * 10
        return centres[groups] + rng.normal(0, 0.1, (len(batch), 8))

    section = cluster_texts(
        texts, label_codes=groups, label_names=["g0", "g1", "g2"], features=hand_made, k=3
    )
    assert seen == [texts]
    assert section["features"] == "hand_made" and "truncated SVD" not in section["method"]
    assert sorted(c["size"] for c in section["clusters"]) == sorted(np.bincount(groups))
    assert all(c["majority"] == 1.0 for c in section["clusters"])
    for cluster in section["clusters"]:
        assert all(
            groups[e["row"]] == groups[cluster["examples"][0]["row"]] for e in cluster["examples"]
        )
        assert not set(cluster["top_terms"]) & ENGLISH_STOP_WORDS
    # Control: TF-IDF on the same texts cannot see the hidden groups.
    plain = cluster_texts(texts, label_codes=groups, label_names=["g0", "g1", "g2"], k=3)
    assert all(c["majority"] < 0.6 for c in plain["clusters"])
    assert plain["label_signal"]["concentrated"] == 0


def test_a_features_callable_clusters_texts_that_tf_idf_has_no_words_for() -> None:
    texts = ["the and of", "it is to", "was be have", "a I 1"] * 15  # no word TF-IDF keeps
    groups = np.arange(60) % 2
    section = cluster_texts(texts, features=lambda b: np.eye(2)[groups] + 0.01, k=2)
    assert section["ran"] and sorted(c["size"] for c in section["clusters"]) == [30, 30]
    assert all(c["top_terms"] == [] for c in section["clusters"])
    assert cluster_texts(texts)["ran"] is False


def test_features_with_the_wrong_number_of_rows_is_a_clear_error() -> None:
    texts = topical_texts(six_class_topics(60))
    with pytest.raises(ValueError, match="features returned 3 rows for 60 texts"):
        cluster_texts(texts, features=lambda batch: np.zeros((3, 4)))


def test_regression_targets_per_cluster_against_the_overall_mean() -> None:
    topics = np.arange(600) % 3
    texts = topical_texts(topics)
    rng = np.random.default_rng(4)
    targets = rng.normal(0.0, 1.0, 600) + np.where(topics == 0, 5.0, 0.0)
    targets[6] = np.nan  # a row (of topic 0) without a usable target is left out of the statistics
    section = cluster_texts(texts, targets=targets, k=3, rows=np.arange(600) + 2)
    assert "label_signal" not in section
    high = next(c for c in section["clusters"] if set(c["top_terms"][:3]) <= set(TOPICS[0]))
    truth = targets[(topics == 0) & np.isfinite(targets)]
    stats = high["target"]
    assert stats["count"] == len(truth) == 199
    assert stats["mean"] == pytest.approx(truth.mean())
    assert stats["std"] == pytest.approx(truth.std(ddof=1))
    assert stats["median"] == pytest.approx(np.median(truth))
    assert (stats["min"], stats["max"]) == (truth.min(), truth.max())
    usable = targets[np.isfinite(targets)]
    assert high["shift"] == pytest.approx((truth.mean() - usable.mean()) / usable.std(ddof=1))
    assert high["target_signal"] == "higher"
    assert sorted(c["target_signal"] for c in section["clusters"]) == ["higher", "lower", "lower"]
    assert section["target_association"]["eta_squared"] > 0.7
    assert section["message"].startswith("Clusters explain")
    assert sum(c["target"]["count"] for c in section["clusters"]) == 599

    unrelated = cluster_texts(texts, targets=rng.normal(0.0, 1.0, 600), k=3)
    assert all(c["target_signal"] == "like_overall" for c in unrelated["clusters"])
    assert unrelated["target_association"]["eta_squared"] < 0.03
    assert unrelated["target_association"]["p_value"] > 0.01


def test_the_same_seed_gives_the_same_section() -> None:
    topics = six_class_topics()
    texts = topical_texts(topics)
    names = [f"class{i}" for i in range(6)]
    first = cluster_texts(texts, label_codes=topics, label_names=names, seed=7)
    assert cluster_texts(texts, label_codes=topics, label_names=names, seed=7) == first
    json.dumps(first, allow_nan=False)  # strict JSON: the profile is saved and printed
    targets = np.random.default_rng(0).normal(0, 1, len(texts))
    json.dumps(cluster_texts(texts, targets=targets), allow_nan=False)


def test_texts_with_only_stop_words_are_set_aside_with_their_rows() -> None:
    topics = six_class_topics(120)
    texts = topical_texts(topics) + ["the and of it", "to be or not to be"]
    rows = np.arange(len(texts)) + 2
    section = cluster_texts(texts, rows=rows)
    assert section["unclustered"]["count"] == 2
    assert section["unclustered"]["rows"] == [122, 123]
    assert section["clustered_rows"] == 120
    assert sum(c["size"] for c in section["clusters"]) == 120


def test_too_few_texts_or_words_do_not_cluster() -> None:
    assert cluster_texts(["goal match"] * (MIN_TEXTS - 1))["ran"] is False
    section = cluster_texts(["the and of it"] * MIN_TEXTS)
    assert section["ran"] is False and "stop words" in section["reason"]
    same = cluster_texts(["goal match team"] * MIN_TEXTS)  # every word in every text
    assert same["ran"] is False and "more than half" in same["reason"]


def test_examples_name_the_rows_they_come_from() -> None:
    topics = six_class_topics(120)
    texts = topical_texts(topics)
    section = cluster_texts(texts, rows=np.arange(120) + 100)
    for cluster in section["clusters"]:
        for example in cluster["examples"]:
            assert texts[example["row"] - 100] == example["text"]


def test_clustering_needs_no_rich_torch_or_textual() -> None:
    # None in sys.modules makes an import fail: our code using textual or rich would raise;
    # torch cannot be blocked so (scikit-learn probes it), so it must simply stay unloaded.
    code = (
        "import sys\n"
        "for name in ('textual', 'rich'):\n"
        "    sys.modules[name] = None\n"
        "import numpy as np\n"
        "from tuirecipe.data.profile.clusters import cluster_texts, prepare\n"
        "prepare()\n"
        "words = 'goal match team bank market stock gene cell virus'.split()\n"
        "rng = np.random.default_rng(0)\n"
        "texts = [' '.join(rng.choice(words, 5)) for _ in range(200)]\n"
        "s = cluster_texts(texts, label_codes=np.arange(200) % 2, label_names=['a', 'b'])\n"
        "assert s['ran'] and 'sklearn.cluster' in sys.modules\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_rare_label_that_a_topic_holds_is_named_and_shown_literally() -> None:
    """Topic 5 holds every row of a rare label ("[b]rare[/b]", 1 % of the data) though
    three common labels are each larger there: its cluster is concentrated on the rare
    label, the pane shows that label's share beside the largest two, and its name as
    written."""
    from rich.console import Console

    from tuirecipe.ui.profile_render import render_section, section_label

    rng = np.random.default_rng(9)
    n = 2000
    topics = np.where(np.arange(n) < 200, 5, rng.integers(0, 5, n))
    labels = rng.integers(1, 8, n)
    labels[:200] = np.repeat([0, 1, 2, 3], [20, 60, 60, 60])
    names = ["[b]rare[/b]"] + [f"common{i}" for i in range(1, 8)]
    section = cluster_texts(topical_texts(topics), label_codes=labels, label_names=names, k=6)
    rare = [c for c in section["clusters"] if c["signal_label"] == "[b]rare[/b]"]
    assert len(rare) == 1 and rare[0]["label_signal"] == "concentrated"
    assert rare[0]["signal_prior"] == pytest.approx(0.01) and rare[0]["signal_share"] == 0.1
    assert "[b]rare[/b]" not in list(rare[0]["labels"])[:3]
    assert section["label_signal"]["concentrated"] == 1
    assert section["message"].startswith("Some topics carry a label")
    console = Console(width=200, record=True, color_system=None)
    console.print(render_section("clusters", section))
    out = console.export_text()
    assert "concentrated: [b]rare[/b], odds ×" in out and "[b]rare[/b] 10.0% (1.0%)" in out
    assert section_label("clusters", "Clusters", section).endswith("1 concentrated on a label")


def test_the_profile_clusters_regression_targets_and_names_rows_as_the_file_does() -> None:
    import pandas as pd

    from tuirecipe.data.profile import profile_frame

    topics = np.arange(600) % 3
    texts = topical_texts(topics)
    targets = np.where(topics == 0, 4.0, 0.0) + np.random.default_rng(6).normal(0, 1, 600)
    rows = np.arange(600) * 2 + 10  # as if every record took two lines
    df = pd.DataFrame({"text": texts, "label": [f"{t:.3f}" for t in targets], "row": rows})
    section = profile_frame(df, task="regression", near_duplicates=False).clusters
    assert section["ran"] and not section["sampled"] and section["sample_size"] == 600
    assert section["k"] == 3
    assert section["target_association"]["eta_squared"] > 0.5
    assert section["target_signal"]["higher"] >= 1
    by_row = dict(zip(rows.tolist(), texts, strict=True))
    for cluster in section["clusters"]:
        assert cluster["target"]["count"] == cluster["size"]
        assert all(by_row[e["row"]] == e["text"] for e in cluster["examples"])
