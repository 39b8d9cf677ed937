"""The profile's findings that were missing (issue 12, point 6): typographic Unicode, length
as a label shortcut, regression conflicts judged by their spread. Each on a small dataset
built so the truth is known, once where it must fire and once where it must not; then on
the real sets (skipped when ../shared/data/real is absent) against counts made here by
brute force."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import REAL_DATA, requires_real_data
from sklearn.metrics import roc_auc_score
from sklearn.tree import DecisionTreeClassifier

from tuirecipe.data.profile.labels import encode_labels
from tuirecipe.data.profile.normalize import build_text_index
from tuirecipe.data.profile.regression import TOLERANCE_FRACTION, regression_conflicts
from tuirecipe.data.profile.shortcut import _fit_tree, _histogram, length_shortcut
from tuirecipe.data.profile.unicode import unicode_section


def _unicode_of(texts: list[str], first_row: int = 2, lines: bool = False) -> dict:
    """Run the section the way the profile would: distinct texts + a code per row."""
    codes, uniques = pd.factorize(pd.Series(texts))
    rows = np.arange(len(texts)) + first_row
    return unicode_section(
        pa.array(list(uniques), type=pa.large_string()),
        codes,
        rows,
        rows * 3 if lines else None,
    )


def _kind(section: dict, name: str) -> dict:
    found = [k for k in section["kinds"] if k["kind"] == name]
    assert found, f"no {name!r} in {[k['kind'] for k in section['kinds']]}"
    return found[0]


# --- typographic Unicode ------------------------------------------------------------


TYPOGRAPHIC = [
    "I don’t like it",  # rows 2-4: curly apostrophe
    "I don’t like it",
    "I don’t like it",
    "I don't like it at all",  # the plain spelling
    "“quoted” and well–known",  # curly quotes and an en dash
    "a well-known fact",
    "a ﬁne day",  # ligature
    "a fine day",
    "10\u00a0km away",  # no-break space
    "hel\u200blo",  # zero-width space
    "ＡＢＣ news",  # fullwidth letters
    "wait…",  # ellipsis
    "cafe\u0301 au lait",  # decomposed accent
    "café noir",  # precomposed: the plain spelling of the line above
    "x² is ½",  # other compatibility characters
    "plain ascii text",
]


def test_typographic_characters_are_counted_by_kind_with_rows_and_characters() -> None:
    out = _unicode_of(TYPOGRAPHIC, lines=True)
    assert out["fires"] is True
    assert out["rows_checked"] == len(TYPOGRAPHIC)
    assert out["texts_checked"] == len(set(TYPOGRAPHIC))
    quotes = _kind(out, "quotes")
    assert (quotes["rows"], quotes["texts"]) == (4, 2)
    chars = {c["char"]: (c["occurrences"], c["rows"], c["codepoint"]) for c in quotes["characters"]}
    assert chars == {"’": (3, 3, "U+2019"), "“": (1, 1, "U+201C"), "”": (1, 1, "U+201D")}
    # examples: the first row of each text, with its line, in row order
    assert [(e["row"], e["line"]) for e in quotes["examples"]] == [(2, 6), (6, 18)]
    assert quotes["examples"][0]["text"] == "I don’t like it"
    expected_rows = {
        "dashes": 1,
        "ellipsis": 1,
        "spaces": 1,
        "zero_width": 1,
        "fullwidth": 1,
        "ligatures": 1,
        "compatibility": 1,
        "decomposed": 1,
    }
    for name, n_rows in expected_rows.items():
        assert _kind(out, name)["rows"] == n_rows, name
    assert _kind(out, "decomposed")["characters"][0]["codepoint"] == "U+0301"
    assert {c["char"] for c in _kind(out, "compatibility")["characters"]} == {"²", "½"}
    # rows with any kind: 3 (don’t) + 1 (quotes and a dash) + 7 rows of one kind each;
    # "café noir" is ordinary
    assert out["rows"] == 11 and out["texts"] == 9
    # NFKC changes: no-break space, ligature, fullwidth, ellipsis, decomposed, ² ½ (curly
    # quotes, dashes and a zero-width space survive NFKC) — checked against Python itself
    brute = sum(unicodedata.normalize("NFKC", t) != t for t in TYPOGRAPHIC)
    assert out["nfkc_changed"] == {"rows": brute, "texts": brute} and brute == 6
    assert set(out["units"]) >= {"rows", "texts", "occurrences", "word_types"}


def test_vocabulary_split_finds_words_spelled_both_ways() -> None:
    split = _unicode_of(TYPOGRAPHIC)["vocabulary_split"]
    plain = {e["plain"]: e for e in split["examples"]}
    # don’t/don't, well–known/well-known, ﬁne/fine, café (decomposed)/café; "hello" and
    # "abc" have no plain spelling in the data, so they split nothing
    assert set(plain) == {"don't", "well-known", "fine", "café"}
    assert split["word_types"] == 4
    assert plain["don't"]["plain_occurrences"] == 1
    assert plain["don't"]["typographic"] == [{"word": "don’t", "occurrences": 3}]
    assert plain["fine"]["typographic"][0]["word"] == "ﬁne"
    assert split["unit"].startswith("word types")


def test_clean_text_and_ordinary_non_ascii_do_not_fire() -> None:
    clean = [
        "I don't like it",
        "a well-known fact... really",
        "café, naïve, Zürich",  # precomposed accents are ordinary letters
        "日本語のテキスト。",
        "Ελληνικά κείμενα",
        "नमस्ते दुनिया",  # combining vowel signs that are already NFC
        "",
    ]
    out = _unicode_of(clean)
    assert out["fires"] is False
    assert out["rows"] == 0 and out["kinds"] == []
    assert out["nfkc_changed"] == {"rows": 0, "texts": 0}
    assert out["vocabulary_split"]["word_types"] == 0 and out["splits_vocabulary"] is False
    assert out["non_ascii_texts"] == 4


def test_a_chunked_text_column_gives_the_same_section() -> None:
    codes, uniques = pd.factorize(pd.Series(TYPOGRAPHIC))
    rows = np.arange(len(TYPOGRAPHIC)) + 2
    whole = unicode_section(pa.array(list(uniques)), codes, rows, None)
    chunked = pa.chunked_array([list(uniques[:5]), list(uniques[5:])])
    assert unicode_section(chunked, codes, rows, None) == whole
    assert whole["splits_vocabulary"] is True


def test_rows_left_out_of_codes_are_not_counted() -> None:
    texts = pa.array(["it’s here", "its here"], type=pa.large_string())
    out = unicode_section(texts, np.array([1, 1]), np.array([5, 6]), None)
    assert out["fires"] is False and out["rows_checked"] == 2


@requires_real_data
@pytest.mark.parametrize(
    "name", ["sms_spam", "trec", "sentiment_sentences", "sst2_dev", "ag_news_test"]
)
def test_unicode_on_real_sets_matches_a_brute_force_count(name: str) -> None:
    frame = pd.read_csv(REAL_DATA / name / f"{name}.csv", keep_default_na=False, dtype=str)
    texts = frame["text"].tolist()
    out = _unicode_of(texts)
    nfkc = sum(unicodedata.normalize("NFKC", t) != t for t in texts)
    assert out["nfkc_changed"]["rows"] == nfkc
    quote_rows = sum(bool(re.search("[‘’‚‛“”„‟′″ʼ´]", t)) for t in texts)
    found = [k for k in out["kinds"] if k["kind"] == "quotes"]
    assert (found[0]["rows"] if found else 0) == quote_rows
    if name == "sms_spam":  # curly quotes beside straight ones: don’t / don't
        assert quote_rows > 0
        assert "don't" in {e["plain"] for e in out["vocabulary_split"]["examples"]}
    if name == "sst2_dev":  # the clean control set
        assert out["fires"] is False


# --- length as a shortcut -----------------------------------------------------------


def _shortcut(lengths, labels, max_len: int = 64, names=None) -> dict:
    names = names or sorted(set(labels))
    codes = np.array([names.index(x) for x in labels])
    n = len(labels)
    return length_shortcut(
        np.asarray(lengths), codes, names, np.ones(n, dtype=bool), max_len, np.arange(n) + 2
    )


def test_a_class_of_long_rows_fires_and_its_truncated_rows_are_named() -> None:
    rng = np.random.default_rng(1)
    lengths = np.r_[rng.integers(5, 40, 300), rng.integers(5, 40, 300), rng.integers(80, 160, 60)]
    labels = ["pos"] * 300 + ["neg"] * 300 + ["plot"] * 60
    out = _shortcut(lengths, labels, max_len=64)
    assert out["fires"] is True and out["strength"] == "strong"
    top = out["per_class"][0]
    assert top["label"] == "plot" and top["direction"] == "longer" and top["auc"] == 1.0
    truncated = out["truncated"]
    assert truncated["rows"] == 60 and truncated["concentrated_in"] == "plot"
    plot = truncated["per_class"][0]
    assert plot["share_of_class"] == 1.0 and plot["share_of_truncated"] == 1.0
    assert plot["examples"] == list(range(602, 612))
    assert out["classifier"]["balanced_accuracy"] > out["classifier"]["chance_balanced_accuracy"]
    assert "'plot'" in out["message"]


def test_lengths_that_do_not_depend_on_the_label_do_not_fire() -> None:
    rng = np.random.default_rng(2)
    lengths = rng.integers(5, 90, 900)
    labels = list(rng.choice(["a", "b", "c"], 900))
    out = _shortcut(lengths, labels, max_len=64)
    assert out["fires"] is False and out["strength"] == "none"
    assert all(p["strength"] == "weak" for p in out["per_class"])
    assert out["classifier"]["lift"] < 0.2
    assert out["truncated"]["rows"] == int((lengths > 64).sum())
    assert out["truncated"]["concentrated_in"] is None


def test_truncation_falling_on_one_class_fires_even_when_lengths_overlap() -> None:
    # The review-set case: the rows past max_len are all one class, the rest look alike.
    rng = np.random.default_rng(3)
    lengths = np.r_[rng.integers(10, 60, 500), rng.integers(10, 60, 480), rng.integers(90, 120, 20)]
    labels = ["review"] * 500 + ["summary"] * 500
    out = _shortcut(lengths, labels, max_len=64)
    assert max(p["auc"] for p in out["per_class"]) < 0.75  # no per-class length signal
    assert out["truncated"]["concentrated_in"] == "summary"
    assert out["fires"] is True and "max_len 64" in out["message"]


def test_length_auc_equals_scikit_learns_roc_auc_with_ties() -> None:
    rng = np.random.default_rng(4)
    lengths = rng.integers(1, 12, 400)  # many ties
    labels = [("x", "y", "z")[int(v)] for v in (lengths + rng.integers(0, 8, 400)) % 3]
    out = _shortcut(lengths, labels)
    for item in out["per_class"]:
        mine = np.array(labels) == item["label"]
        assert item["auc"] == pytest.approx(roc_auc_score(mine, lengths), abs=1e-12)
        assert item["median_length"] == np.median(lengths[mine])


def test_the_tree_fitted_on_the_length_table_predicts_as_one_fitted_on_the_rows() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 2000)
    lengths = rng.poisson(10 + 6 * y)  # a real but overlapping length signal
    values, _, table = _histogram(lengths, y, 3)
    from_table = _fit_tree(values, table, DecisionTreeClassifier)
    from_rows = DecisionTreeClassifier(max_depth=3, class_weight="balanced", random_state=0)
    from_rows.fit(lengths.reshape(-1, 1).astype(float), y)
    grid = np.arange(lengths.max() + 2).reshape(-1, 1).astype(float)
    assert (from_table.predict(grid) == from_rows.predict(grid)).all()


def test_one_class_is_not_measured() -> None:
    out = _shortcut([5, 6, 7], ["a", "a", "a"])
    assert out["ran"] is False and out["fires"] is False


def _real_shortcut(name: str) -> dict:
    frame = pd.read_csv(REAL_DATA / name / f"{name}.csv", keep_default_na=False, dtype=str)
    index = build_text_index(frame["text"])
    labels = encode_labels(frame["label"], len(frame), "classification", None)
    return length_shortcut(
        index.row_model_tokens(),
        labels.codes,
        labels.names,
        ~index.blank,
        128,
        np.arange(len(frame)) + 2,
    )


@requires_real_data
@pytest.mark.parametrize("name", ["sst2_dev", "trec", "ag_news_test", "sentiment_sentences"])
def test_real_sets_without_a_length_shortcut_do_not_fire(name: str) -> None:
    out = _real_shortcut(name)
    assert out["fires"] is False, out["message"]


@requires_real_data
def test_spam_is_longer_than_ham_and_that_is_reported_with_its_strength() -> None:
    out = _real_shortcut("sms_spam")
    spam = next(p for p in out["per_class"] if p["label"] == "spam")
    assert spam["direction"] == "longer" and 0.75 <= spam["auc"] < 0.85
    assert out["classifier"]["balanced_accuracy"] > 0.75
    assert out["fires"] is True and "'spam'" in out["message"]


# --- regression conflicts -----------------------------------------------------------


def _regression(texts: list[str], values: list[float], tolerance: float | None = None):
    codes, uniques = pd.factorize(pd.Series(texts))
    rows = np.arange(len(texts)) + 2
    return regression_conflicts(
        codes,
        len(uniques),
        np.ones(len(texts), dtype=bool),
        rows,
        lambda i: texts[i],
        np.array(values, dtype=float),
        tolerance,
    )


REGRESSION = (
    ["noisy"] * 4 + ["flip"] * 2 + ["same"] * 2 + [f"t{i}" for i in range(12)] + ["nan"] * 2,
    [2.89, 3.0, 3.2, 3.43] + [0.5, 4.5] + [2.0, 2.0] + list(np.linspace(0, 10, 12)) + [1, np.nan],
)


def test_a_spread_beyond_the_tolerance_is_a_conflict_and_annotator_noise_is_not() -> None:
    summary, conflicting = _regression(*REGRESSION)
    finite = np.array([v for v in REGRESSION[1] if np.isfinite(v)])
    q25, q75 = np.percentile(finite, [25, 75])
    tol = summary["tolerance"]
    assert tol["value"] == pytest.approx(TOLERANCE_FRACTION * (q75 - q25))
    assert tol["source"] == "default" and "interquartile" in tol["rule"]
    assert 0.54 < tol["value"]  # the 2.89-3.43 text is noise at this scale
    assert summary["conflicting_texts"] == 1 and summary["rows"] == 2
    (group,) = summary["groups"]
    assert group["text"] == "flip" and group["rows"] == [6, 7]
    assert (group["min"], group["max"], group["spread"]) == (0.5, 4.5, 4.0)
    assert group["std"] == pytest.approx(np.std([0.5, 4.5]))
    assert summary["within_tolerance"] == {"texts": 1, "rows": 4}
    assert summary["identical_values"] == {"texts": 1, "rows": 2}
    # "nan" has one finite value: not repeated
    assert summary["repeated_texts"] == 3
    assert conflicting.sum() == 1


def test_a_given_tolerance_is_used_and_reported() -> None:
    summary, _ = _regression(*REGRESSION, tolerance=0.1)
    assert summary["tolerance"]["value"] == 0.1 and summary["tolerance"]["source"] == "given"
    assert summary["conflicting_texts"] == 2
    # the widest spread first
    assert [g["text"] for g in summary["groups"]] == ["flip", "noisy"]
    assert summary["groups"][1]["spread"] == pytest.approx(0.54)


def test_distinct_texts_have_no_regression_conflicts() -> None:
    texts = [f"text {i}" for i in range(20)]
    summary, conflicting = _regression(texts, list(np.arange(20.0)))
    assert summary["conflicting_texts"] == 0 and summary["groups"] == []
    assert summary["repeated_texts"] == 0 and not conflicting.any()


def test_many_plain_spellings_are_looked_up_among_the_words_with_the_same_counts() -> None:
    """Past REGEX_SPELLINGS typographic words, their plain spellings are counted among
    the index's words instead of searched for with one regular expression: the section
    must be the same either way, and through the profile's own path (encode_levels)."""
    from tuirecipe.data.profile import unicode as uni
    from tuirecipe.data.profile.frame import _unicode_of as profile_unicode
    from tuirecipe.data.profile.normalize import encode_levels

    n_words = uni.REGEX_SPELLINGS + 40
    texts = [f"Tok{i}’s here, “tok{i}” — fine" for i in range(n_words)]
    texts += [f"tok{i}'s there and TOK{i}'S again" for i in range(0, n_words, 2)]
    texts += ["Тест’s кириллица — ‘тест’s’", "тест's"] * 3
    searched = _unicode_of(texts)
    assert searched["vocabulary_split"]["checked"] > uni.REGEX_SPELLINGS
    assert searched["vocabulary_split"]["word_types"] > n_words // 2
    series = pd.Series(texts)
    codes = encode_levels(series)
    rows = np.arange(len(texts)) + 2
    looked_up = profile_unicode(codes, rows, None)
    assert looked_up == searched
    # and a section small enough for the expression gives the same through both calls
    few = texts[:5] + texts[n_words : n_words + 3]
    assert profile_unicode(encode_levels(pd.Series(few)), np.arange(len(few)) + 2, None) == (
        _unicode_of(few)
    )
