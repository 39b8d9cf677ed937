"""The profile's column-wise text normalisation and token counts agree with Python's
``str.split()`` and the tokenizer, on texts with awkward whitespace and Unicode.

(Arrow lowercases by simple case mapping: Python's special cases, 'İ' -> 'i̇' and a
word-final 'Σ' -> 'ς', are left out of these texts.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from support.token_index import assert_same_index

from tuirecipe.data.profile import normalize, profile_frame
from tuirecipe.data.profile.normalize import (
    build_text_index,
    collapse_space,
    model_vocabulary,
    oov_rate,
)
from tuirecipe.data.tokenize import tokenize

COMPILED = normalize._textscan


@pytest.fixture(autouse=True, params=["compiled", "pyarrow"])
def word_index(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs on both roads to the word index: the compiled module
    (_textscan.c) and pyarrow's kernels alone (a machine without a C compiler)."""
    if request.param == "compiled" and COMPILED is None:
        pytest.skip("the compiled module was not built (no C compiler)")
    monkeypatch.setattr(normalize, "_textscan", COMPILED if request.param == "compiled" else None)
    return str(request.param)


AWKWARD = [
    "  leading and trailing  ",
    "tab\there\nnewline\r\nend",
    "no\u00a0break\u3000ideographic\u2028line",
    "file\x1cseparator\x1fand\x85next",
    "Don't stop!!! It's 3.5 stars... OK?",
    "naïve café, über-cool — ‘quoted’",
    "Straße ǅ ﬁ Ⅻ",
    "e\u0301 combining, ٣ digits, snake_case",
    "emoji 😀😀 #tag &amp; x.y a-b",
    "...",
    "",
    "   ",
    "plain words only",
]


def test_collapse_space_is_python_split_and_join() -> None:
    lowered = pa.array([t.lower() for t in AWKWARD])
    assert collapse_space(lowered).to_pylist() == [" ".join(t.lower().split()) for t in AWKWARD]
    assert collapse_space(pa.array(["a b", "c"])).to_pylist() == ["a b", "c"]


@pytest.mark.parametrize("lowercase", [True, False])
def test_vocabulary_is_the_tokenizers(lowercase: bool) -> None:
    index = build_text_index(pd.Series(AWKWARD))
    expected = {tok for t in AWKWARD for tok in tokenize(t, lowercase)}
    assert sorted(model_vocabulary(index, lowercase).to_pylist()) == sorted(expected)


@pytest.mark.parametrize("lowercase", [True, False])
def test_oov_rate_counts_tokenizer_tokens(lowercase: bool) -> None:
    train = build_text_index(pd.Series(AWKWARD))
    vocab = model_vocabulary(train, lowercase)
    # Copies of training texts with extra whitespace around them: nothing is unseen
    # (whitespace is not a token, so it cannot be out of vocabulary).
    copies = pd.Series([f"  {t}\t" for t in AWKWARD] + [" " + AWKWARD[4]])
    assert oov_rate(build_text_index(copies), vocab, lowercase) == 0.0
    # One repeated row with unseen words: each occurrence counts.
    dev_texts = [AWKWARD[4], "Brand-new words!", "Brand-new words!"]
    seen = {tok for t in AWKWARD for tok in tokenize(t, lowercase)}
    tokens = [tok for t in dev_texts for tok in tokenize(t, lowercase)]
    expected = sum(tok not in seen for tok in tokens) / len(tokens)
    assert expected > 0
    rate = oov_rate(build_text_index(pd.Series(dev_texts)), vocab, lowercase)
    assert rate == pytest.approx(expected)


def test_dev_oov_rate_of_a_dev_copied_from_train_is_zero() -> None:
    train = pd.DataFrame({"text": AWKWARD * 2, "label": ["a", "b"] * len(AWKWARD)})
    dev = pd.DataFrame({"text": [t + "  " for t in AWKWARD], "label": ["a"] * len(AWKWARD)})
    p = profile_frame(train, dev=dev, near_duplicates=False, clusters=False)
    assert p.size["dev_oov_rate"] == 0.0


def test_index_on_two_threads_equals_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from tuirecipe.data.profile import normalize

    texts = pd.Series(AWKWARD * 3 + [f"word{i % 7} Word{i % 5}, x{i}!" for i in range(50)])
    monkeypatch.setattr(normalize, "PARALLEL_MIN", 10**9)
    serial = build_text_index(texts)
    monkeypatch.setattr(normalize, "PARALLEL_MIN", 2)
    halves = build_text_index(texts)
    assert_same_index(serial, halves)


def test_a_column_of_numbers_with_gaps_is_profiled_as_text() -> None:
    index = build_text_index(pd.Series([1, 2.5, None, float("nan"), 1]))
    assert index.exact_uniques.to_pylist() == ["1.0", "2.5", ""]
    assert index.missing.tolist() == [False, False, True, True, False]
    mixed = build_text_index(pd.Series(["a", 3, None, pd.NA], dtype=object))
    assert mixed.exact_uniques.to_pylist() == ["a", "3", ""]
    assert mixed.blank.tolist() == [False, False, True, True]


@pytest.mark.parametrize("lowercase", [True, False])
def test_vocabulary_and_oov_in_one_pass_equal_the_two_functions(lowercase: bool) -> None:
    from tuirecipe.data.profile.normalize import vocabulary_and_oov

    texts = pd.Series(
        ["Hello, world!", "it's (fine)", "Don't STOP", "new #42 words", "hello   WORLD", ""]
        + [f"row{i}, more-{i % 3}" for i in range(40)]
    )
    index = build_text_index(texts)
    rng = np.random.default_rng(0)
    train = rng.random(len(texts)) < 0.7
    dev = ~train
    size, oov = vocabulary_and_oov(index, lowercase, train, dev)
    vocab = model_vocabulary(index, lowercase, train)
    assert size == len(vocab)
    assert oov == pytest.approx(oov_rate(index, vocab, lowercase, dev))
    assert 0 < oov < 1


def test_an_index_built_from_the_splits_codes_equals_a_fresh_one() -> None:
    from tuirecipe.data.profile.normalize import encode_levels

    texts = pd.Series(["A  b", "a b", "c", "", None, "C ", "d\te"] * 3)
    fresh = build_text_index(texts)
    reused = build_text_index(texts, codes=encode_levels(texts))
    for name in ("exact_codes", "space_codes", "loose_codes", "model_tokens", "blank"):
        assert np.array_equal(getattr(fresh, name), getattr(reused, name)), name


@pytest.mark.parametrize("lowercase", [True, False])
def test_vocabulary_and_oov_count_per_text_like_per_row(lowercase: bool) -> None:
    """The one-pass count works per distinct text (a token is in training when a text with
    a training row holds it); it must equal the per-row reference functions on copies that
    straddle the split, case and space variants, Unicode and empty texts."""
    from tuirecipe.data.profile.normalize import vocabulary_and_oov

    texts = pd.Series(
        AWKWARD
        + ["Café au lait!", "café  AU lait!", "CAFÉ au lait!", "only-in-dev ¿qué?", ""]
        + ["Straße ǅ ﬁ Ⅻ"] * 3
        + [f"row{i} {'Word' if i % 2 else 'word'}, x{i % 4}!" for i in range(30)]
    )
    index = build_text_index(texts)
    n = len(texts)
    train = np.zeros(n, dtype=bool)
    train[: len(AWKWARD)] = True
    train[len(AWKWARD) + 1] = True  # one case/space variant in train, the others in dev
    train[len(AWKWARD) + 5] = True  # one copy of a repeated text in train
    train[len(AWKWARD) + 8 :: 2] = True
    for dev in (~train, ~train & (texts != ""), np.zeros(n, dtype=bool)):
        size, oov = vocabulary_and_oov(index, lowercase, train, dev)
        vocab = model_vocabulary(index, lowercase, train)
        assert size == len(vocab)
        expected = oov_rate(index, vocab, lowercase, dev) if dev.any() else 0.0
        assert oov == expected
    assert 0 < vocabulary_and_oov(index, lowercase, train, ~train)[1] < 1
    # every row in training: nothing in dev is unseen
    everything = np.ones(n, dtype=bool)
    assert vocabulary_and_oov(index, lowercase, everything, everything)[1] == 0.0


def test_id_counts_in_slices_equal_one_bincount() -> None:
    from tuirecipe.data.profile.normalize import _id_counts

    ids = np.random.default_rng(0).integers(0, 50, 1000).astype(np.int32)
    for chunk in (1, 7, 999, 1000, 4096):
        assert np.array_equal(_id_counts(ids, 60, chunk), np.bincount(ids, minlength=60))
    assert np.array_equal(_id_counts(ids[:0], 3), np.zeros(3, dtype=np.int64))


def test_sums_per_text_in_slices_equal_one_reduceat() -> None:
    from tuirecipe.data.profile.normalize import _sums_per_text

    rng = np.random.default_rng(1)
    for _ in range(50):
        lens = rng.integers(1, 5, rng.integers(1, 40))
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        ids = rng.integers(0, 30, int(lens.sum())).astype(np.int32)
        per_token = rng.integers(0, 4, 30).astype(np.int32)
        expected = np.add.reduceat(per_token[ids], starts)
        for chunk in (1, 2, 3, 7, 1 << 22):
            assert np.array_equal(_sums_per_text(per_token, ids, starts, chunk), expected)


def test_distinct_texts_keep_their_own_array_with_the_same_codes() -> None:
    from tuirecipe.data.profile.normalize import _encode, encode_levels

    texts = pa.array(["b", "A  b", "", "a b", "é"], pa.large_string())
    codes, uniques = _encode(texts)
    assert uniques is texts and codes.tolist() == [0, 1, 2, 3, 4]
    chunked = pa.chunked_array([texts])
    codes, uniques = _encode(chunked)
    assert uniques.equals(texts) and codes.tolist() == [0, 1, 2, 3, 4]
    repeated = pa.array(["x", "y", "x"])
    codes, uniques = _encode(repeated)
    assert uniques.to_pylist() == ["x", "y"] and codes.tolist() == [0, 1, 0]
    # the levels of a distinct column equal those of the same texts with a repeat added
    series = pd.Series(["b", "A  b", None, "a b", "é"], dtype="string[pyarrow]")
    alone = encode_levels(series)
    with_copy = encode_levels(pd.concat([series, series.iloc[:1]], ignore_index=True))
    assert alone.exact_uniques.to_pylist() == with_copy.exact_uniques.to_pylist()
    assert alone.n_space == with_copy.n_space
    assert alone.words().vocab.to_pylist() == with_copy.words().vocab.to_pylist()
    assert alone.exact_codes.tolist() == with_copy.exact_codes[:5].tolist()
    assert alone.missing.tolist() == [False, False, True, False, False]


def test_case_space_first_gives_the_exact_first_codes() -> None:
    """Mostly distinct columns are encoded case_space first (one hash of the texts fewer);
    every code, distinct text and map must equal the exact-first order's, with exact
    copies, case and spacing variants, Unicode whitespace and case, and missing texts."""
    from tuirecipe.data.profile import normalize
    from tuirecipe.data.profile.normalize import _encode, _space_first, case_space, text_array

    rng = np.random.default_rng(3)
    pieces = ["a", "A", "b", "Straße", "STRASSE", "İ", "i", "ǅ", "\u00a0", "\u3000", "\x0b"]
    pieces += ["  ", "\t", "x\u2028y", "é", "é", "#1", "", "ﬁ", "Σ", "ς", " "]
    texts = ["".join(rng.choice(pieces, size=rng.integers(0, 5))) for _ in range(3000)]
    texts += texts[:400] + [t.upper() for t in texts[:300]] + [None, None, "a"]
    series = pd.Series([texts[i] for i in rng.permutation(len(texts))], dtype=object)
    arr, _ = text_array(series)
    codes0, u0 = _encode(arr)
    map01, u1 = _encode(case_space(u0))
    got = _space_first(arr)
    assert got[0].dtype == codes0.dtype and np.array_equal(got[0], codes0)
    assert got[1].to_pylist() == u0.to_pylist()
    assert np.array_equal(got[2], map01) and got[3].n == len(u1)
    words = normalize.Words(*normalize._tokens(u1))
    space_words = normalize.TextCodes(
        len(codes0),
        codes0,
        u0,
        np.zeros(len(codes0), bool),
        got[2],
        got[3].n,
        got[3].texts,
        got[3].words,
    ).words()
    assert space_words.vocab.to_pylist() == words.vocab.to_pylist()
    assert np.array_equal(space_words.ids, words.ids)
    assert np.array_equal(space_words.offsets, words.offsets)
    # all distinct: the column's own array is kept
    distinct = pa.array([f"{t} {i}" for i, t in enumerate(["a", "A", "a "] * 50)])
    kept = _space_first(distinct)
    assert kept[1] is distinct and kept[0].tolist() == list(range(150))
    # and encode_levels takes that road for a large mostly distinct column
    large = pd.Series([f"Row {i} text" for i in range(normalize.PARALLEL_MIN)] + ["row 0 TEXT"])
    assert normalize._mostly_distinct(text_array(large)[0])
    levels = normalize.encode_levels(large)
    assert levels.by_level()["case_space"][-1] == 0 and levels.exact_codes[-1] == len(large) - 1
