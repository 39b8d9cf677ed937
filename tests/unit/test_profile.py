"""The dataset profile on hand-built frames (plain pytest, no UI)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tuirecipe.data.profile import (
    FLAG_NAMES,
    DatasetProfile,
    profile_cached,
    profile_frame,
    row_flags,
    select_rows,
)
from tuirecipe.data.profile.lengths import nice_ceiling

CLEAN = "the battery lasts all day and the screen is bright"


def frame(texts, labels, rows=None) -> pd.DataFrame:
    data = {"text": texts, "label": labels}
    if rows is not None:
        data["row"] = rows
    return pd.DataFrame(data)


def _filler(n: int, start: int = 0) -> list[str]:
    """Distinct texts of five made-up words each, sharing no word bigram."""
    return [" ".join(f"w{i}x{j}" for j in range(5)) for i in range(start, start + n)]


def test_duplicate_levels_and_conflicts() -> None:
    texts = [
        "Good phone",
        "good  phone ",
        "Good phone",
        "GOOD PHONE!",
        "bad phone",
        "Bad phone",
        "bad phone",
        "unique one",
    ]
    labels = ["pos", "pos", "pos", "pos", "neg", "pos", "neg", "neg"]
    p = profile_frame(
        frame(texts, labels, rows=[10, 11, 12, 13, 14, 15, 16, 17]),
        near_duplicates=False,
        clusters=False,
    )
    # exact: "Good phone" x2, "bad phone" x2 -> 2 surplus rows in 2 texts
    assert (p.duplicates["exact"]["surplus_rows"], p.duplicates["exact"]["repeated_texts"]) == (
        2,
        2,
    )
    # case_space: good phone x3, bad phone x3 -> 4 surplus; loose adds GOOD PHONE! -> 5
    assert p.duplicates["case_space"]["surplus_rows"] == 4
    assert p.duplicates["loose"]["surplus_rows"] == 5
    assert p.conflicts["exact"]["conflicting_texts"] == 0
    assert p.conflicts["case_space"]["conflicting_texts"] == 1
    group = p.conflicts["case_space"]["groups"][0]
    assert group["rows"] == [14, 15, 16] and group["labels"] == {"neg": 2, "pos": 1}
    top = p.duplicates["case_space"]["groups"][0]
    assert top["count"] == 3 and top["rows"][0] in (10, 14)
    flags = p.flags
    # "GOOD PHONE!" differs from "good phone" at case_space (the "!"), so it is no duplicate there
    assert flags["duplicate"].tolist() == [True] * 3 + [False] + [True] * 3 + [False]
    assert flags["conflict"].tolist() == [False] * 4 + [True] * 3 + [False]


def test_corrupted_categories_found_and_clean_text_not_flagged() -> None:
    texts = [
        CLEAN,
        None,
        "   ",
        "caf\u00c3\u00a9 au lait",
        "it\u00e2\u20ac\u2122s fine",
        "lost \ufffd byte",
        "bell\x07 ring",
        "c1 \x96 dash",
        "fish &amp; chips",
        "&lt;#&gt; placeholder",
        "price #36;10 million",
        "...!!!",
        "ok text",
        CLEAN,
        "São Paulo & Rio",
        "tabs\tand\nnewlines are fine",
        "#1 hit single",
    ]
    labels = [
        "a",
        "a",
        "a",
        "a",
        "a",
        "a",
        "a",
        "a",
        "a",
        "a",
        "a",
        "a",
        None,
        "zzz",
        "a",
        "a",
        "a",
    ]
    p = profile_frame(
        frame(texts, labels), label_set=["a", "b"], near_duplicates=False, clusters=False
    )
    rows_of = {name: entry["rows"] for name, entry in p.corrupted.items()}
    assert rows_of["missing_text"] == [2, 3]
    assert rows_of["missing_label"] == [13]
    assert rows_of["unknown_label"] == [14]
    assert rows_of["mojibake"] == [4, 5]
    assert rows_of["replacement_char"] == [6]
    assert rows_of["control_chars"] == [7, 8]
    assert rows_of["html_entities"] == [9, 10, 11]
    assert rows_of["no_words"] == [12]
    flagged = set(np.flatnonzero(p.flags["corrupted"]) + 1)
    assert not flagged & {1, 15, 16, 17}  # clean, Portuguese, tab/newline, '#1'


def test_extreme_length_is_flagged() -> None:
    texts = _filler(2000) + [" ".join(["word"] * 400)]
    p = profile_frame(frame(texts, ["x"] * 2001), near_duplicates=False, clusters=False)
    assert p.corrupted["extreme_length"]["rows"] == [2001]
    assert p.flags["long"].sum() == 1  # 400 tokens > max_len 128


def test_labels_imbalance_and_long_tail() -> None:
    labels = ["big"] * 500 + ["mid"] * 100 + ["tiny"] * 5
    p = profile_frame(frame(_filler(605), labels), near_duplicates=False, clusters=False)
    counts = p.labels["counts"]
    assert [c["label"] for c in counts] == ["big", "mid", "tiny"]
    assert counts[0]["percent"] == pytest.approx(100 * 500 / 605)
    assert p.labels["imbalance_ratio"] == pytest.approx(100.0)
    assert p.labels["long_tail"] is True
    assert any("class weights" in line for line in p.advice)
    balanced = profile_frame(
        frame(_filler(600), ["a", "b"] * 300), near_duplicates=False, clusters=False
    )
    assert balanced.labels["long_tail"] is False


def test_regression_target_statistics() -> None:
    values = [str(v) for v in np.linspace(1, 5, 400)] + ["n/a", None]
    p = profile_frame(
        frame(_filler(402), values), task="regression", near_duplicates=False, clusters=False
    )
    assert p.labels["kind"] == "regression"
    assert p.labels["mean"] == pytest.approx(3.0)
    assert p.labels["quantiles"]["q50"] == pytest.approx(3.0)
    assert sum(p.labels["histogram"]["counts"]) == 400
    assert p.corrupted["unknown_label"]["rows"] == [401]
    assert p.corrupted["missing_label"]["rows"] == [402]


def test_lengths_histogram_percentiles_and_suggestion() -> None:
    texts = [" ".join(["w"] * n) + " ." for n in range(1, 101)]  # n words + one mark
    p = profile_frame(frame(texts, ["a"] * 100), max_len=50, near_duplicates=False, clusters=False)
    lengths = p.lengths
    assert lengths["max"] == 101 and lengths["p50"] == pytest.approx(51.5)
    assert sum(lengths["histogram"]["counts"]) + lengths["histogram"]["overflow"] == 100
    assert lengths["suggested_max_len"] == nice_ceiling(lengths["p95"]) == 128
    assert lengths["truncation_rate"] == pytest.approx(0.51)
    assert lengths["whitespace"]["max"] == 101


def test_nice_ceiling() -> None:
    assert [nice_ceiling(v) for v in (1, 8, 9, 33, 129, 5000)] == [8, 8, 16, 48, 160, 8192]


def test_vocabulary_matches_the_tokenizer() -> None:
    tokenize = pytest.importorskip("tuirecipe.data.tokenize").tokenize
    texts = ["Don't stop!", "It's 3.5 stars... OK?", "naïve café, über-cool", "  spaced\tout  "]
    p = profile_frame(frame(texts, ["a"] * 4), near_duplicates=False, clusters=False)
    expected = {tok for t in texts for tok in tokenize(t, True)}
    assert p.size["vocab_size"] == len(expected)
    lengths = [len(tokenize(t, True)) for t in texts]
    assert p.lengths["max"] == max(lengths)
    cased = profile_frame(
        frame(texts, ["a"] * 4), lowercase=False, near_duplicates=False, clusters=False
    )
    assert cased.size["vocab_size"] == len({tok for t in texts for tok in tokenize(t, False)})


def test_near_duplicates_found_and_unrelated_texts_not_paired() -> None:
    base = (
        "the quick brown fox jumps over the lazy dog while the farmer watches from "
        "the porch and drinks his morning coffee slowly"
    )
    texts = _filler(300) + [base, base.replace("slowly", "quickly"), "Breaking: " + base]
    p = profile_frame(frame(texts, ["a"] * 303), clusters=False)
    near = p.near_duplicates
    pairs = {tuple(sorted(e["rows"])) for e in near["examples"]}
    assert {(301, 302), (301, 303), (302, 303)} <= pairs
    assert all(min(pair) > 300 for pair in pairs)
    assert p.flags["near_duplicate"][300:].all() and not p.flags["near_duplicate"][:300].any()


def test_dev_leakage_and_oov() -> None:
    train = frame(_filler(200), ["a", "b"] * 100)
    dev = frame(
        [_filler(1, 5)[0].upper(), "completely novel words here", _filler(1, 7)[0]],
        ["a", "b", "a"],
        rows=[1, 2, 3],
    )
    p = profile_frame(train, dev=dev, clusters=False)
    assert p.size["dev_rows"] == 3 and p.size["rows"] == 203
    assert p.leakage["dev_rows_in_train"] == 2
    assert [e["dev_row"] for e in p.leakage["examples"]] == [1, 3]
    assert p.leakage["examples"][0]["train_row"] == 6
    # 'completely novel words here' = 4 of the 14 dev tokens are unseen in train
    assert p.size["dev_oov_rate"] == pytest.approx(4 / 14)
    # the upper-cased and the exact copy are the same loose text on both sides
    assert p.near_duplicates["leakage"]["loose_copies"] == 2
    assert p.near_duplicates["leakage"]["dev_texts_involved"] == 2


def test_clusters_separate_topics_and_judge_labels_against_the_prior() -> None:
    rng = np.random.default_rng(0)
    topics = {
        "sport": "goal match team coach league score season player".split(),
        "money": "bank market stock price profit shares investor trade".split(),
    }
    texts, labels = [], []
    for i in range(400):
        topic = "sport" if i % 2 else "money"
        texts.append(" ".join(rng.choice(topics[topic], 6)) + f" n{i}")
        labels.append(topic if i < 300 else ("money" if topic == "sport" else "sport"))
    p = profile_frame(frame(texts, labels), near_duplicates=False)
    c = p.clusters
    assert c["ran"] and 2 <= c["k"] <= 20 and not c["sampled"]
    assert sum(cl["size"] for cl in c["clusters"]) == 400
    for cl in c["clusters"]:
        terms = set(cl["top_terms"][:3])
        assert terms <= set(topics["sport"]) or terms <= set(topics["money"])
        assert cl["majority"] >= 0.6  # 25% flipped labels: still a 75% majority
        assert cl["label_signal"] == "concentrated" and cl["majority_prior"] == 0.5
    assert c["label_signal"]["concentrated"] == c["k"]
    assert any("topic clusters hold one label" in line for line in p.advice)
    noise = rng.choice(["x", "y"], 400).tolist()  # labels unrelated to the topics
    unrelated = profile_frame(frame(texts, noise), near_duplicates=False)
    assert unrelated.clusters["label_signal"]["concentrated"] == 0
    assert not any("topic clusters" in line for line in unrelated.advice)


def test_progress_and_timings() -> None:
    seen: list[tuple[float, str]] = []
    p = profile_frame(frame(_filler(100), ["a"] * 100), progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(seen) >= 6
    assert {
        "normalise",
        "duplicates",
        "near_duplicates (helper thread)",
        "clusters (helper thread)",
        "main_thread",
        "wall",
    } <= set(p.timings)


def test_json_round_trip() -> None:
    p = profile_frame(frame(_filler(100) + [None], ["a"] * 101))
    data = json.loads(json.dumps(p.to_dict()))
    assert "flags" not in data
    again = DatasetProfile.from_dict(data)
    assert again.to_dict() == data and again.flags is None


def test_cache_reuses_profile_and_flags(tmp_path, monkeypatch) -> None:
    df = frame(_filler(50) + ["dup", "dup"], ["a"] * 52)
    first = profile_cached(df, fingerprint="sha-1", cache_dir=tmp_path, clusters=False)
    import tuirecipe.data.profile.cache as cache

    def boom(*args, **kwargs):
        raise AssertionError("should have come from the cache")

    monkeypatch.setattr(cache, "profile_frame", boom)
    messages = []
    second = profile_cached(
        df,
        fingerprint="sha-1",
        cache_dir=tmp_path,
        clusters=False,
        progress=lambda f, m: messages.append(m),
    )
    assert second.to_dict() == first.to_dict() and messages == ["profile loaded from cache"]
    for name in FLAG_NAMES:
        assert np.array_equal(second.flags[name], first.flags[name])
    with pytest.raises(AssertionError):  # other options -> another key
        profile_cached(df, fingerprint="sha-1", cache_dir=tmp_path, clusters=False, max_len=8)
    with pytest.raises(AssertionError):  # other data -> another key
        profile_cached(df, fingerprint="sha-2", cache_dir=tmp_path, clusters=False)


def test_row_flags_recomputed_from_frame_and_selected() -> None:
    df = frame(["a b", "a  B", "c d", "bad\x07", " ".join(["w"] * 20)], ["x", "y", "x", "x", "x"])
    p = profile_frame(df, max_len=10, clusters=False)
    bare = DatasetProfile.from_dict(p.to_dict())
    with pytest.raises(ValueError):
        row_flags(bare)
    flags = row_flags(bare, df)
    for name in FLAG_NAMES:
        assert np.array_equal(flags[name], p.flags[name]), name
    assert select_rows(flags, ["duplicate"]).tolist() == [0, 1]
    assert select_rows(flags, ["conflict", "corrupted", "long"]).tolist() == [0, 1, 3, 4]
    assert select_rows(flags, ["duplicate", "conflict"], mode="all").tolist() == [0, 1]


def test_row_numbers_default_to_index_plus_one() -> None:
    df = frame(["same", "same", "other"], ["a", "a", "b"])
    p = profile_frame(df, near_duplicates=False, clusters=False)
    assert p.duplicates["exact"]["groups"][0]["rows"] == [1, 2]


def test_empty_frame_does_not_crash() -> None:
    p = profile_frame(frame([], []))
    assert p.size["train_rows"] == 0 and p.duplicates["exact"]["surplus_rows"] == 0
    json.dumps(p.to_dict())


def test_profile_needs_no_torch_textual_or_rich() -> None:
    # None in sys.modules makes an import fail: our code using textual or rich would raise;
    # torch cannot be blocked so (scikit-learn probes it), so it must simply stay unloaded.
    code = (
        "import sys\n"
        "for name in ('textual', 'rich'):\n"
        "    sys.modules[name] = None\n"
        "import tuirecipe.data.profile as p, pandas as pd, numpy as np\n"
        "words = 'goal match team bank market stock gene cell virus'.split()\n"
        "rng = np.random.default_rng(0)\n"
        "texts = [' '.join(rng.choice(words, 5)) + f' n{i}' for i in range(300)]\n"
        "prof = p.profile_frame(pd.DataFrame({'text': texts, 'label': ['x', 'y'] * 150}))\n"
        "assert prof.clusters['ran'], prof.clusters\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    loaded = (
        "import sys, tuirecipe.data.profile as p, pandas as pd\n"
        "p.profile_frame(pd.DataFrame({'text': ['a b'] * 60, 'label': ['x'] * 60}))\n"
        "bad = [m for m in ('torch', 'textual') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", loaded], check=True)
