"""The compiled word index (tuirecipe/data/profile/_textscan.c) against the reference:
Python's ``str.split()`` for the words, pyarrow's ``dictionary_encode`` for the numbering,
and the whole token index built by pyarrow's kernels alone."""

from __future__ import annotations

import sysconfig

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from support.token_index import assert_same_index, pieces_of_each_word

from tuirecipe.data.profile import normalize
from tuirecipe.data.tokenize import tokenize

ts = normalize._textscan
needs_module = pytest.mark.skipif(ts is None, reason="the compiled module was not built")

# Every character str.isspace() holds, some that look like space but are not, and text.
SPACES = [chr(c) for c in range(0x110000) if chr(c).isspace()]
NOT_SPACES = ["\u200b", "\u180e", "\ufeff", "\x00", "\x1b", "\x7f", "\u2060", "\u00ad"]
PIECES = SPACES + NOT_SPACES + ["a", "B", "é", "İ", "ß", "ǅ", "😀", "x.y", "#1", "", "  "]


def _random_texts(seed: int, n: int) -> list[str]:
    rng = np.random.default_rng(seed)
    texts = ["".join(rng.choice(PIECES, size=rng.integers(0, 7))) for _ in range(n)]
    return texts + texts[: n // 5] + [t.upper() for t in texts[: n // 7]]


def _split(texts: pa.Array) -> list[list[str]]:
    offsets, ids, vocab = normalize._split_words(texts)
    words = vocab.to_pylist()
    return [[words[i] for i in ids[offsets[k] : offsets[k + 1]]] for k in range(len(texts))]


@needs_module
def test_words_are_python_splits_and_numbered_by_first_occurrence() -> None:
    texts = _random_texts(0, 2000)
    for kind in (pa.string(), pa.large_string()):
        arr = pa.array(texts, kind)
        assert _split(arr) == [t.split() or [""] for t in texts]
        offsets, ids, vocab = normalize._split_words(arr)
        flat = pa.array([w for t in texts for w in (t.split() or [""])], pa.large_string())
        encoded = pc.dictionary_encode(flat)
        assert vocab.to_pylist() == encoded.dictionary.to_pylist()
        assert np.array_equal(ids, encoded.indices.to_numpy())
        # a slice reads its own texts only
        part = arr.slice(333, 700)
        assert _split(part) == [t.split() or [""] for t in texts[333:1033]]


@needs_module
def test_each_space_character_alone_and_between_words() -> None:
    for space in SPACES:
        got = _split(pa.array([space, f"a{space}b", f"{space}{space}c{space}"]))
        assert got == [[""], ["a", "b"], ["c"]], hex(ord(space))
    for other in NOT_SPACES:
        assert _split(pa.array([f"a{other}b"])) == [[f"a{other}b"]], hex(ord(other))
    assert _split(pa.array([], pa.string())) == []


@needs_module
def test_groups_equal_arrows_dictionary_encode() -> None:
    texts = pa.array(_random_texts(1, 3000), pa.large_string())
    offsets, width, data = normalize._buffers(texts)
    codes = np.empty(len(texts), dtype=np.int32)
    n = ts.group_spans(offsets, width, data, codes)
    encoded = pc.dictionary_encode(texts)
    assert n == len(encoded.dictionary)
    assert np.array_equal(codes, encoded.indices.to_numpy())
    # sequences of int32 ids, as the case_space and loose levels group them
    ids = np.array([3, 1, 3, 1, 2, 3, 1], dtype=np.int32)
    spans = np.array([0, 2, 4, 4, 5, 7], dtype=np.int64) * 4
    got, n = normalize._group_spans(spans, ids)
    assert got.tolist() == [0, 0, 1, 2, 0] and n == 3


@needs_module
def test_bad_buffers_are_refused_not_read() -> None:
    codes = np.empty(2, dtype=np.int32)
    with pytest.raises(ValueError, match="outside"):
        ts.group_spans(np.array([0, 5, 99], np.int64), 8, b"abcdef", codes)
    with pytest.raises(ValueError, match="outside"):
        ts.split_encode(np.array([0, 4, 2], np.int64), 8, b"abcdef")
    with pytest.raises(ValueError, match="width"):
        ts.split_encode(np.array([0, 1], np.int64), 3, b"a")
    with pytest.raises(ValueError, match="one aligned int32"):
        ts.group_spans(np.array([0, 1], np.int64), 8, b"a", codes)
    # a negative start in the middle (the ends are checked before the call)
    with pytest.raises(ValueError, match="outside"):
        ts.group_spans(np.array([0, -3, 4], np.int64), 8, b"abcdef", codes)
    with pytest.raises(ValueError, match="outside"):
        ts.split_encode(np.array([0, -3, 4], np.int64), 8, b"abcdef")
    # offsets, codes and word characters must sit on their own alignment
    shifted = memoryview(bytearray(b"x" + np.array([0, 3, 6], np.int64).tobytes()))[1:]
    with pytest.raises(ValueError, match="aligned"):
        ts.candidates(shifted, 8, b"abcdef", np.zeros(2, np.uint8))
    odd_codes = memoryview(bytearray(9))[1:]
    with pytest.raises(ValueError, match="aligned"):
        ts.group_spans(np.array([0, 3, 6], np.int64), 8, b"abcdef", odd_codes)
    odd_chars = memoryview(bytearray(5))[1:]
    with pytest.raises(ValueError, match="aligned"):
        ts.split_encode(np.array([0, 3], np.int64), 8, b"abc", 1, odd_chars)


@needs_module
def test_empty_arrays_without_offsets_are_read_as_empty() -> None:
    from tuirecipe.data.profile import corrupted

    for offsets in (None, pa.py_buffer(b"")):
        empty = pa.Array.from_buffers(pa.string(), 0, [None, offsets, pa.py_buffer(b"")])
        assert corrupted.candidate_mask(empty).tolist() == []
        words = normalize._split_words(empty)
        assert words[0].tolist() == [0] and len(words[1]) == 0 and len(words[2]) == 0


@needs_module
@pytest.mark.parametrize("threads", [False, True])
def test_the_whole_index_equals_the_pyarrow_one(
    monkeypatch: pytest.MonkeyPatch, threads: bool
) -> None:
    """Every field of the token index, on the compiled road and on pyarrow's: distinct and
    repeated texts (both orders of encode_levels), two threads or one, missing texts."""
    if threads:
        monkeypatch.setattr(normalize, "PARALLEL_MIN", 50)
    texts = _random_texts(2, 1500)
    mostly_distinct = [f"{t} {i}" for i, t in enumerate(texts)] + texts[:20]
    for column in (texts + [None], mostly_distinct):
        series = pd.Series(column, dtype=object)
        monkeypatch.setattr(normalize, "_textscan", ts)
        fast = normalize.build_text_index(series)
        monkeypatch.setattr(normalize, "_textscan", None)
        reference = normalize.build_text_index(series)
        assert fast.space_uniques is None and reference.space_uniques is not None
        assert reference.n_space == len(reference.space_uniques)
        assert_same_index(reference, fast)
        tokens = reference.ws_token_dict.to_pylist()
        assert pieces_of_each_word(fast.ws_pieces) == [sorted(tokenize(t, False)) for t in tokens]


def test_the_compiled_module_is_built_where_a_compiler_is() -> None:
    """CI builds it (pip install -e .): a broken build would otherwise fall back to
    pyarrow's road silently, and the speed budget would go with it."""
    compiler = (sysconfig.get_config_var("CC") or "").split()
    import shutil

    if not compiler or shutil.which(compiler[0]) is None:
        pytest.skip("no C compiler here")
    assert ts is not None, "pip install -e . should have built tuirecipe/data/profile/_textscan"


@needs_module
def test_corrupted_candidates_equal_the_regex(monkeypatch: pytest.MonkeyPatch) -> None:
    from tuirecipe.data.profile import corrupted

    pieces = ["\ufffd", "\x00", "\x08", "\t", "\n", "\r", "\x0b", "\x1f", "\x7f", "\x80", "\x9f"]
    pieces += ["\xa0", "Ã", "Â", "Ä", "â€", "â", "€", "ï»¿", "ï»", "&", "&amp;", "&#", "&1"]
    pieces += ["#", "#1", "#12;", "#;", ";", "1", "a", "Z", " ", "é", "😀", "\u00c3\u00a9"]
    rng = np.random.default_rng(5)
    texts = ["".join(rng.choice(pieces, size=rng.integers(0, 6))) for _ in range(5000)]
    arr = pa.array(texts, pa.large_string())
    regex = pc.match_substring_regex(arr, corrupted._CANDIDATE).to_numpy(zero_copy_only=False)
    assert 0 < regex.sum() < len(texts)
    assert np.array_equal(corrupted.candidate_mask(arr), regex)
    assert np.array_equal(corrupted.candidate_mask(arr.slice(100, 900)), regex[100:1000])
    monkeypatch.setattr(normalize, "_textscan", None)
    assert np.array_equal(corrupted.candidate_mask(arr), regex)


@needs_module
def test_loose_words_equal_the_regex_replace(monkeypatch: pytest.MonkeyPatch) -> None:
    words = pa.array(sorted({w for t in _random_texts(4, 4000) for w in t.split()}))
    codes, vocab = normalize._loose_words(words)
    monkeypatch.setattr(normalize, "_textscan", None)
    ref_codes, ref_vocab = normalize._loose_words(words)
    assert vocab.to_pylist() == ref_vocab.to_pylist() and np.array_equal(codes, ref_codes)
    assert "" in vocab.to_pylist()  # words of punctuation only
    with pytest.raises(ValueError, match="outside"):
        ts.strip_encode(np.array([0, 9], np.int64), 8, b"abc", np.zeros(0, np.uint32))


@needs_module
def test_notable_code_points_equal_the_python_road(monkeypatch: pytest.MonkeyPatch) -> None:
    from tuirecipe.data.profile import unicode as uni

    notable = ["’", "“", "—", "…", "\u00a0", "\u200b", "Ａ", "ﬁ", "²", "e\u0301", "\u1100", "™"]
    plain = ["a", "Ж", "中", "é", "😀", " ", "'", "-", "1", "ß", "\u0085"]
    rng = np.random.default_rng(9)
    texts = ["".join(rng.choice(notable + plain * 3, size=rng.integers(0, 9))) for _ in range(3000)]
    arr = pa.array(texts, pa.large_string())
    monkeypatch.setattr(uni, "CHARS_CHUNK", 97)  # several slices on the Python road
    cps, owner = uni._notable_codepoints(arr)
    assert len(cps) and all(uni._is_notable(chr(c)) for c in set(cps.tolist()))
    monkeypatch.setattr(normalize, "_textscan", None)
    ref_cps, ref_owner = uni._notable_codepoints(arr)
    assert np.array_equal(cps, ref_cps) and np.array_equal(owner, ref_owner)
    with pytest.raises(ValueError, match="0x110000"):
        ts.codepoints(np.array([0, 1], np.int64), 8, b"a", np.zeros(5, np.uint8), 0)
