"""Text normalisation levels and token indexes, computed column-wise with pyarrow.

:func:`build_text_index` turns a text column into integer codes at three levels of
normalisation, each computed only on the distinct texts of the level before it (so a
dataset full of repeats gets cheaper at every level):

- ``exact``: the text as-is;
- ``case_space``: lowercased, runs of whitespace collapsed to one space, stripped;
- ``loose``: ``case_space`` with punctuation removed (each whitespace token loses its
  non-word characters; tokens that become empty are dropped).

It also counts tokens the way :func:`tuirecipe.data.tokenize.tokenize` splits them
(runs of word characters and single punctuation marks), and whitespace tokens. The work is
done per distinct whitespace token (a few hundred thousand strings even for a million rows)
and mapped back with numpy, never with a Python loop per row.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

try:  # the optional compiled word index (setup.py); without it, pyarrow's kernels below
    from tuirecipe.data.profile import _textscan
except ImportError:  # pragma: no cover - built without a C compiler
    _textscan = None  # type: ignore[assignment]

# Whitespace as Python's str.split() sees it (RE2's \s lacks \v, NEL, NBSP, ...).
_WS = r"[\t\n\x0b\x0c\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"  # noqa: E501
_NEEDS_COLLAPSE = rf"^{_WS}|{_WS}$|{_WS}{{2}}|[\t\n\x0b\x0c\r\x1c-\x1f\x{{85}}\x{{a0}}\x{{1680}}\x{{2000}}-\x{{200a}}\x{{2028}}\x{{2029}}\x{{202f}}\x{{205f}}\x{{3000}}]"  # noqa: E501
# RE2's \w is ASCII-only; Python's (used by the tokenizer) is Unicode letters, digits, "_".
_WORD = r"[\p{L}\p{N}_]"
_NOT_WORD = r"[^\p{L}\p{N}_]"
_MODEL_TOKEN = rf"{_WORD}+|{_NOT_WORD}"


def _text_column(values: pd.Series) -> tuple[pa.Array | pa.ChunkedArray, np.ndarray]:
    """The column as arrow strings (still in chunks when it came so, and has no nulls;
    missing values become ""), plus a mask of missing values."""
    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = None
    if arr is None or not (
        pa.types.is_string(arr.type)
        or pa.types.is_large_string(arr.type)
        or pa.types.is_null(arr.type)
    ):
        # Not text (numbers, mixed objects): each value as str, missing ones (None, NaN,
        # NA) as None; a float column keeps NaN through .where(), so test each value.
        as_str = [
            None if pd.api.types.is_scalar(v) and pd.isna(v) else str(v)
            for v in values.astype(object).tolist()
        ]
        arr = pa.array(as_str, type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray) and (arr.null_count or not arr.num_chunks):
        arr = arr.combine_chunks()
    if pa.types.is_null(arr.type):
        arr = pa.nulls(len(arr), pa.large_string())
    missing = arr.is_null().to_numpy(zero_copy_only=False)
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    return arr, missing


def text_array(values: pd.Series) -> tuple[pa.Array, np.ndarray]:
    """The column as a non-null arrow string array, plus a mask of missing values."""
    arr, missing = _text_column(values)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr, missing


def _encode(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Per-element codes and the distinct values (in order of first occurrence)."""
    encoded = pc.dictionary_encode(arr)
    if isinstance(encoded, pa.ChunkedArray):
        codes = np.concatenate([_codes(chunk) for chunk in encoded.chunks])
        uniques = encoded.chunk(0).dictionary
    else:
        codes, uniques = _codes(encoded), encoded.dictionary
    # Every value distinct: the distinct values are the values themselves, in order, so
    # keep those instead of the hash table's copy (137 MB for 1M distinct texts).
    if len(uniques) == len(arr):
        if isinstance(arr, pa.Array):
            return codes, arr
        if arr.num_chunks == 1:
            return codes, arr.chunk(0)
    return codes, uniques


def _codes(encoded: pa.DictionaryArray) -> np.ndarray:
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)


def _first_index(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """For each code, the first position where it occurs (-1 if never)."""
    first = np.full(n_codes, -1, dtype=np.int64)
    order = np.arange(len(codes) - 1, -1, -1)
    first[codes[order]] = order
    return first


def collapse_space(lowered: pa.Array) -> pa.Array:
    """Collapse whitespace runs to one space and strip, touching only texts that need it.

    Arrow's whitespace (trim, split) is Python's ``str.split()`` whitespace, so the texts
    that need it become ``" ".join(text.split())``: trim, split, join is about twice as fast
    as a regex replace of whitespace runs on a million texts.
    """
    needs = pc.match_substring_regex(lowered, _NEEDS_COLLAPSE)
    n_need = pc.sum(needs).as_py() or 0
    if not n_need:
        return lowered
    subset = pc.filter(lowered, needs)
    words = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(subset))
    fixed = pc.binary_join(words, pa.scalar(" ", subset.type))
    return pc.replace_with_mask(lowered, needs, fixed.cast(lowered.type))


def case_space(texts: pa.Array) -> pa.Array:
    """The ``case_space`` form of each text: lowercased, whitespace runs collapsed, stripped.

    The one definition of that level: the profile's duplicate groups and the splitter's
    groups (:func:`text_group_codes`) both come from here.
    """
    return collapse_space(pc.utf8_lower(texts))


GROUP_LEVELS = ("exact", "case_space")


def text_group_codes(values: pd.Series | Sequence[str], level: str) -> np.ndarray:
    """Per-row int32 codes, equal for texts that are the same at ``level``.

    ``level`` is ``"exact"`` or ``"case_space"``; a missing text counts as ``""``. The
    normalisation runs on the distinct texts only, so repeats cost nothing.
    """
    if level not in GROUP_LEVELS:
        raise ValueError(f"level must be one of {', '.join(GROUP_LEVELS)}, got {level!r}")
    return text_codes_by_level(values, levels=(level,))[level]


def text_codes_by_level(
    values: pd.Series | Sequence[str], levels: Sequence[str] = GROUP_LEVELS
) -> dict[str, np.ndarray]:
    """:func:`text_group_codes` for several levels at once, reading the texts once."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    return encode_levels(series).by_level(levels)


@dataclass
class Words:
    """Whitespace words of some texts: each text's ids are ``ids[offsets[i]:offsets[i + 1]]``
    and ``vocab[id]`` is the word. A text without words holds one empty word ("" splits to
    [""]), so every text has at least one."""

    offsets: np.ndarray  # int64, one more than the texts
    ids: np.ndarray  # int32
    vocab: pa.Array  # distinct words, in order of first occurrence

    def occurrences(self, text_rows: np.ndarray, chunk: int = 1 << 22) -> np.ndarray:
        """How often each word occurs over the rows, each text counted ``text_rows[i]``
        times (float64: bincount's weights), about ``chunk`` word ids at a time (no
        weight array as long as every word)."""
        counts = np.zeros(len(self.vocab), dtype=np.float64)
        n_texts = len(self.offsets) - 1
        starts = self.offsets[:-1]
        bounds = np.append(np.searchsorted(starts, np.arange(0, len(self.ids), chunk)), n_texts)
        for a, b in zip(bounds[:-1], bounds[1:]):
            if a == b:
                continue
            weights = np.repeat(text_rows[a:b].astype(np.float64), np.diff(self.offsets[a : b + 1]))
            ids = self.ids[self.offsets[a] : self.offsets[b]]
            counts += np.bincount(ids, weights=weights, minlength=len(self.vocab))
        return counts

    def nonempty(self) -> np.ndarray:
        """Per text: it has a word."""
        found = pc.index(self.vocab, "").as_py() if len(self.vocab) else -1
        if found < 0:
            return np.ones(len(self.offsets) - 1, dtype=bool)
        single = np.diff(self.offsets) == 1
        return ~(single & (self.ids[np.minimum(self.offsets[:-1], len(self.ids) - 1)] == found))


@dataclass
class TextCodes:
    """The first two levels of a text column: what the splitter's groups need, and the
    start of :func:`build_text_index` (which takes it instead of redoing the work).

    The ``case_space`` level is kept as its texts (``space_uniques``, pyarrow's path) or
    as their words (``space_words``, the compiled path, which never writes the texts)."""

    n_rows: int
    exact_codes: np.ndarray
    exact_uniques: pa.Array
    missing: np.ndarray
    exact_to_space: np.ndarray
    n_space: int
    space_uniques: pa.Array | None = None
    space_words: Words | None = None
    # checks on the distinct texts already started in a helper thread (the profile's
    # corrupted-text scan and Unicode finding), by name: the split runs meanwhile
    started: dict[str, Future] = field(default_factory=dict, repr=False)
    # words() is made once even when two threads ask (the Unicode check and the index)
    _words_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def space_nonempty(self) -> np.ndarray:
        """Per ``case_space`` code: the text is not empty."""
        if self.space_words is not None:
            return self.space_words.nonempty()
        assert self.space_uniques is not None
        return pc.utf8_length(self.space_uniques).to_numpy(zero_copy_only=False) > 0

    def words(self) -> Words:
        """The whitespace words of each ``case_space`` text."""
        with self._words_lock:
            if self.space_words is None:
                assert self.space_uniques is not None
                self.space_words = Words(*_tokens(_small_offsets(self.space_uniques)))
            return self.space_words

    def blank(self) -> np.ndarray:
        """Per row: the text is missing, empty or whitespace only (its ``case_space``
        form is empty), as :class:`TextIndex` ``blank``."""
        return ~self.space_nonempty()[self.exact_to_space][self.exact_codes]

    def by_level(self, levels: Sequence[str] = GROUP_LEVELS) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if "exact" in levels:
            out["exact"] = self.exact_codes
        if "case_space" in levels:
            out["case_space"] = self.exact_to_space[self.exact_codes]
        return out


def encode_levels(
    values: pd.Series, on_exact: Callable[[pa.Array], object] | None = None
) -> TextCodes:
    """Codes of a text column at the ``exact`` and ``case_space`` levels (``on_exact``
    gets the distinct raw texts as soon as they are known)."""
    pool = pa.default_memory_pool()
    arr, missing = _text_column(values)
    if isinstance(arr, pa.Array) and _mostly_distinct(arr):
        codes0, u0, map01, space = _space_first(arr)
        pool.release_unused()
        if on_exact is not None:
            on_exact(u0)
        return TextCodes(len(codes0), codes0, u0, missing, map01, space.n, space.texts, space.words)
    codes0, u0 = _encode(arr)
    del arr
    pool.release_unused()  # the hash table's copy of every text
    if on_exact is not None:
        on_exact(u0)
    space = _space_level(u0)
    pool.release_unused()
    return TextCodes(
        len(codes0), codes0, u0, missing, space.codes, space.n, space.texts, space.words
    )


@dataclass
class _SpaceLevel:
    """Each text's ``case_space`` code, how many codes, and the level's texts (pyarrow's
    path) or its words (the compiled path)."""

    codes: np.ndarray
    n: int
    texts: pa.Array | None
    words: Words | None


def _space_level(texts: pa.Array | pa.ChunkedArray) -> _SpaceLevel:
    """The ``case_space`` level of ``texts``.

    With the compiled module, the lowercased texts are split into words at once (runs of
    whitespace, as ``str.split()``), and texts are equal at this level when their word
    sequences are: the collapsed texts are never written. The codes, the distinct words
    and their order equal pyarrow's path (collapse, encode, split, encode), since both
    number in order of first occurrence.
    """
    if _textscan is None:
        codes, u1 = _encode(_case_space_all(texts))
        return _SpaceLevel(codes, len(u1), u1, None)
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()  # (halved by _lower_all and _tokens as one array)
    offsets, ids, vocab = _tokens(_lower_all(texts), _split_words)
    codes, n = _group_spans(offsets * 4, ids)
    if n < len(codes):  # each code's words: those of its first text
        at, lens = _positions(offsets, _first_index(codes, n))
        ids = ids[at]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
    return _SpaceLevel(codes, n, None, Words(offsets, ids, vocab))


def _lower_all(texts: pa.Array) -> pa.Array:
    """``utf8_lower`` of ``texts``, on two halves in two threads when large."""
    if len(texts) < PARALLEL_MIN:
        return pc.utf8_lower(texts)
    half = len(texts) // 2
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="normalise") as pool:
        later = pool.submit(pc.utf8_lower, texts.slice(half))
        first = pc.utf8_lower(texts.slice(0, half))
        return pa.concat_arrays([first, later.result()])


def _buffers(texts: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, int, pa.Buffer | bytes]:
    """A string or binary array's own offsets (one more than its length), their width in
    bytes, and its data buffer, for :mod:`_textscan` (chunks are joined first)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    width = 8 if pa.types.is_large_string(texts.type) or pa.types.is_large_binary(texts.type) else 4
    buffers = texts.buffers()
    dtype = np.int64 if width == 8 else np.int32
    if not len(texts):  # arrow lets an empty array go without offsets
        return np.zeros(1, dtype=dtype), width, b""
    offsets = np.frombuffer(buffers[1], dtype=dtype, count=texts.offset + len(texts) + 1)
    return offsets[texts.offset :], width, buffers[2] if buffers[2] is not None else b""


def _large_strings(offsets: bytearray, data: bytearray) -> pa.Array:
    """An arrow ``large_string`` array over the buffers :mod:`_textscan` returns."""
    return pa.Array.from_buffers(
        pa.large_string(), len(offsets) // 8 - 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _split_words(texts: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """:func:`_split_encode` of the ``case_space`` forms of lowercased ``texts``, by the
    compiled module, straight from the texts."""
    assert _textscan is not None and texts.null_count == 0
    offsets, width, data = _buffers(texts)
    ids, starts, word_offsets, word_data = _textscan.split_encode(offsets, width, data)
    vocab = _large_strings(word_offsets, word_data)
    return np.frombuffer(starts, dtype=np.int64), np.frombuffer(ids, dtype=np.int32), vocab


def _group_spans(offsets: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes of the byte strings ``data[offsets[i]:offsets[i + 1]]`` (byte offsets, int64;
    ``data`` any contiguous array), equal strings equal codes, numbered in order of first
    occurrence; and how many there are."""
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    data = np.ascontiguousarray(data)
    n = len(offsets) - 1
    if _textscan is not None:
        codes = np.empty(n, dtype=np.int32)
        return codes, _textscan.group_spans(offsets, 8, data.view(np.uint8), codes)
    keys = pa.Array.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    encoded = pc.dictionary_encode(keys)
    return _codes(encoded), len(encoded.dictionary)


# Rows read to guess whether a column's texts are mostly distinct, and the share of
# distinct texts among them above which the case_space level is computed first.
PROBE_ROWS = 20_000
MOSTLY_DISTINCT = 0.9


def _mostly_distinct(texts: pa.Array) -> bool:
    """Whether a spread sample of the rows holds few repeated texts. Only decides the
    order of the work in :func:`encode_levels`; the codes are the same either way."""
    if len(texts) < PARALLEL_MIN:
        return False
    step = max(1, len(texts) // PROBE_ROWS)
    probe = texts.take(pa.array(np.arange(0, len(texts), step)))
    return len(pc.unique(probe)) >= MOSTLY_DISTINCT * len(probe)


def _space_first(texts: pa.Array) -> tuple[np.ndarray, pa.Array, np.ndarray, _SpaceLevel]:
    """The exact and case_space levels of mostly distinct texts, case_space first.

    Hashing every text once at each level is the cost when the texts are distinct. Each
    row's case_space form is hashed instead, and the raw texts only where a case_space
    text has several rows (an exact copy must share the case_space form): a row that is
    alone at case_space is a new exact text. The codes, distinct texts and their order
    (first occurrence) equal the exact-first order's, since the first row of a case_space
    text is always the first row of its raw text.

    Returns ``(exact codes, distinct texts, exact -> case_space map, the case_space
    level)``.
    """
    n = len(texts)
    space = _space_level(texts)
    space_codes = space.codes
    counts = np.bincount(space_codes, minlength=space.n)
    shared = np.flatnonzero(counts[space_codes] > 1)
    del counts
    is_first = np.ones(n, dtype=bool)
    first_row = None
    if len(shared):
        sub_codes, sub_uniques = _encode(texts.take(pa.array(shared)))
        sub_first = _first_index(sub_codes, len(sub_uniques))
        first_row = shared[sub_first[sub_codes]]  # each shared row's first raw copy
        is_first[shared] = first_row == shared
    firsts = np.flatnonzero(is_first)
    codes0 = np.empty(n, dtype=np.int32)
    codes0[firsts] = np.arange(len(firsts), dtype=np.int32)
    if first_row is not None:
        codes0[shared] = codes0[first_row]
    u0 = texts if len(firsts) == n else texts.take(pa.array(firsts))
    return codes0, u0, space_codes[firsts], space


# Above this many distinct texts, the two heaviest steps run on two halves in two threads
# (pyarrow releases the GIL; the budget machine has two cores).
PARALLEL_MIN = 100_000


def _case_space_of(texts: pa.Array) -> pa.Array:
    return case_space(texts)


def _case_space_all(texts: pa.Array) -> pa.Array | pa.ChunkedArray:
    """:func:`_case_space_of` of ``texts``, on two halves in two threads when large (then
    as two chunks: :func:`_encode` takes them without joining them into one copy)."""
    if len(texts) < PARALLEL_MIN:
        return _case_space_of(texts)
    half = len(texts) // 2
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="normalise") as pool:
        later = pool.submit(_case_space_of, texts.slice(half))
        first = _case_space_of(texts.slice(0, half))
        return pa.chunked_array([first, later.result().cast(first.type)])


def _small_offsets(texts: pa.Array) -> pa.Array:
    """``texts`` as ``string`` (32-bit offsets) when they fit: its split lists then take
    4 instead of 8 bytes per token for their offsets (150 MB less at 18M tokens)."""
    if pa.types.is_large_string(texts.type) and texts.nbytes < 2**31 - 2**20:
        return texts.cast(pa.string())
    return texts


def _split_encode(texts: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """Split collapsed texts on " ": list offsets, per-token ids and the distinct tokens
    (in order of first occurrence)."""
    split = pc.split_pattern(texts, " ")
    offsets = split.offsets.to_numpy().astype(np.int64)
    encoded = pc.dictionary_encode(pc.list_flatten(split))
    return offsets - offsets[0], _codes(encoded), encoded.dictionary


def _tokens(
    texts: pa.Array,
    split: Callable[[pa.Array], tuple[np.ndarray, np.ndarray, pa.Array]] = _split_encode,
) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """``split`` (:func:`_split_encode`) of ``texts``, on two halves in two threads when
    large.

    The halves' distinct tokens are merged in order (the first half's, then the second's
    new ones), which is the order of first occurrence over the whole: the same ids as in
    one pass.
    """
    if len(texts) < PARALLEL_MIN:
        return split(texts)
    half = len(texts) // 2
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="normalise") as pool:
        later = pool.submit(split, texts.slice(half))
        off_a, ids_a, dict_a = split(texts.slice(0, half))
        off_b, ids_b, dict_b = later.result()
    # dict_a's words keep their ids; dict_b's new words follow in their order
    both = pa.concat_arrays([dict_a, dict_b.cast(dict_a.type)])
    remap_b = _string_codes(both)[len(dict_a) :]
    vocab = pa.concat_arrays([dict_a, dict_b.filter(pa.array(remap_b >= len(dict_a)))])
    ids = np.empty(len(ids_a) + len(ids_b), dtype=np.int32)
    ids[: len(ids_a)] = ids_a
    np.take(remap_b, ids_b, out=ids[len(ids_a) :])
    del ids_a, ids_b
    offsets = np.concatenate([off_a[:-1], off_b + off_a[-1]])
    return offsets, ids, vocab


def _string_codes(texts: pa.Array) -> np.ndarray:
    """Per string, its number among the distinct strings in order of first occurrence
    (``dictionary_encode``'s indices, by the compiled module when there is one)."""
    if _textscan is None:
        return _codes(pc.dictionary_encode(texts))
    offsets, width, data = _buffers(texts)
    codes = np.empty(len(texts), dtype=np.int32)
    _textscan.group_spans(offsets, width, data, codes)
    return codes


@dataclass
class TextIndex:
    """Per-row codes at each normalisation level and token counts.

    ``*_codes`` are int32 arrays aligned with the rows; codes index the distinct texts of
    that level. Token data are kept per distinct ``case_space`` text (``space``).
    """

    n_rows: int
    missing: np.ndarray  # text was null / NaN
    blank: np.ndarray  # missing, empty or whitespace-only
    exact_codes: np.ndarray
    exact_uniques: pa.Array
    space_codes: np.ndarray
    n_space: int  # distinct case_space texts
    space_uniques: pa.Array | None  # those texts (None where only their words were made)
    exact_to_space: np.ndarray
    loose_codes: np.ndarray
    space_to_loose: np.ndarray
    loose_empty: np.ndarray  # per loose code: no word characters at all
    loose_to_space: np.ndarray  # a representative case_space text per loose code
    model_tokens: np.ndarray  # per space code: tokens as the tokenizer counts them
    ws_tokens: np.ndarray  # per space code: whitespace tokens
    loose_offsets: np.ndarray  # per space code: slice into loose_ids
    loose_ids: np.ndarray  # loose token ids (empty tokens dropped)
    loose_vocab: pa.Array  # loose token strings by id
    ws_token_dict: pa.Array  # distinct lowercased whitespace tokens
    ws_offsets: np.ndarray  # per space code: slice into ws_ids
    ws_ids: np.ndarray
    ws_sub_counts: np.ndarray  # per ws_token_dict entry: its tokenizer-token count
    ws_pieces: Pieces  # per ws_token_dict entry: its tokenizer tokens

    def row_model_tokens(self) -> np.ndarray:
        return self.model_tokens[self.space_codes]

    def row_ws_tokens(self) -> np.ndarray:
        return self.ws_tokens[self.space_codes]

    def loose_tokens_of_space(self, space_code: int) -> np.ndarray:
        return self.loose_ids[self.loose_offsets[space_code] : self.loose_offsets[space_code + 1]]


def model_subtokens(tokens: pa.Array) -> pa.Array:
    """Split whitespace tokens into tokenizer tokens (words and single punctuation marks)."""
    spaced = pc.replace_substring_regex(tokens, f"({_MODEL_TOKEN})", "\\1 ")
    return pc.split_pattern(pc.utf8_rtrim(spaced, " "), " ")


def subtoken_count(tokens: pa.Array) -> np.ndarray:
    """Tokenizer tokens in each whitespace token (0 for an empty one)."""
    return pc.count_substring_regex(tokens, _MODEL_TOKEN).to_numpy().astype(np.int32)


def _split_tokens(
    tokens: pa.Array, counts: np.ndarray, weights: np.ndarray | None = None
) -> tuple[pa.Array, np.ndarray | None]:
    """Tokenizer tokens of distinct whitespace ``tokens`` (each weighted by its token's
    ``weights``), in no particular order; empty tokens give none.

    A token whose ``counts`` (:func:`subtoken_count`) is 1 is its own tokenizer token, and
    most are. The others yield their word runs (split at non-word characters) and their
    non-word characters one by one: two regex replaces without capture groups, several
    times faster in RE2 than :func:`model_subtokens`' ``"\\1 "`` replace.
    """
    single, multi = counts == 1, np.flatnonzero(counts > 1)
    many = tokens.take(pa.array(multi, pa.int64()))
    runs = pc.split_pattern(pc.replace_substring_regex(many, f"{_NOT_WORD}+", " "), " ")
    run_parent = pc.list_parent_indices(runs).to_numpy()
    run_values = pc.list_flatten(runs)
    nonempty = pc.greater(pc.binary_length(run_values), 0)
    marks = pc.dictionary_encode(pc.replace_substring_regex(many, f"{_WORD}+", ""))
    mark_strings = marks.dictionary.to_pylist()  # few distinct: ",", "'", "#", "()"...
    chars = [c for text in mark_strings for c in text]
    pieces = [
        tokens.filter(pa.array(single)),
        run_values.filter(nonempty).cast(tokens.type),
        pa.array(chars, tokens.type),
    ]
    out = pa.concat_arrays(pieces)
    if weights is None:
        return out, None
    many_weights = weights[multi]
    mark_codes = _codes(marks)
    if weights.ndim == 1:
        mark_weights = np.bincount(mark_codes, weights=many_weights, minlength=len(mark_strings))
    else:  # one column per set of weights
        mark_weights = np.column_stack(
            [
                np.bincount(mark_codes, weights=column, minlength=len(mark_strings))
                for column in many_weights.T
            ]
        ).reshape(len(mark_strings), weights.shape[1])
    char_owner = np.repeat(np.arange(len(mark_strings)), [len(t) for t in mark_strings])
    run_weights = many_weights[run_parent][nonempty.to_numpy(zero_copy_only=False)]
    return out, np.concatenate([weights[single], run_weights, mark_weights[char_owner]])


@dataclass
class Pieces:
    """The tokenizer's pieces of distinct whitespace words (runs of word characters and
    single other characters, as :func:`tuirecipe.data.tokenize.tokenize` cuts them): word
    ``i``'s piece ids are ``ids[offsets[i]:offsets[i + 1]]``; ``vocab[id]`` is the piece.
    (The order of a word's pieces is the text's on the compiled road, not on pyarrow's:
    only which pieces a word holds is used.)"""

    offsets: np.ndarray  # int64, one more than the words
    ids: np.ndarray  # int32
    vocab: pa.Array  # distinct pieces

    def counts(self) -> np.ndarray:
        """Pieces per word, as :func:`subtoken_count` counts them."""
        return np.diff(self.offsets).astype(np.int32)


def word_pieces(words: pa.Array, word_chars: np.ndarray | None = None) -> Pieces:
    """:class:`Pieces` of distinct whitespace ``words`` (no whitespace inside);
    ``word_chars``: their :func:`_word_chars`, when the caller has it."""
    if _textscan is not None:
        offsets, width, data = _buffers(words)
        chars = _word_chars(words) if word_chars is None else word_chars
        ids, starts, piece_offsets, piece_data = _textscan.split_encode(
            offsets, width, data, 1, chars
        )
        vocab = _large_strings(piece_offsets, piece_data)
        return Pieces(np.frombuffer(starts, dtype=np.int64), np.frombuffer(ids, np.int32), vocab)
    strings, parents = _piece_strings(words, subtoken_count(words))
    order = np.argsort(parents, kind="stable")
    encoded = pc.dictionary_encode(strings.take(pa.array(order, pa.int64())))
    offsets = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum(np.bincount(parents, minlength=len(words)), out=offsets[1:])
    return Pieces(offsets, _codes(encoded), encoded.dictionary)


def _word_chars(words: pa.Array) -> np.ndarray:
    """The non-ASCII code points in ``words`` that are word characters (``_WORD``, RE2's
    reading, as the pyarrow road's), sorted, for the compiled module."""
    non_ascii = words.filter(pc.invert(pc.string_is_ascii(words)))
    if not len(non_ascii):
        return np.zeros(0, dtype=np.uint32)
    joined = "".join(non_ascii.to_pylist()).encode("utf-32-le")
    seen = np.bincount(np.frombuffer(joined, dtype=np.uint32), minlength=0x110000)
    points = np.flatnonzero(seen[0x80:]) + 0x80  # each once, sorted, without a sort
    chars = pa.array([chr(c) for c in points.tolist()], pa.string())
    word = pc.match_substring_regex(chars, f"^{_WORD}$").to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(points[word], dtype=np.uint32)


def _piece_strings(tokens: pa.Array, counts: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """The pieces of ``tokens`` (``counts`` each, :func:`subtoken_count`) as strings, with
    the index of the token each comes from: pyarrow's road to :func:`word_pieces`, by the
    regexes of :func:`_split_tokens`."""
    single, multi = np.flatnonzero(counts == 1), np.flatnonzero(counts > 1)
    many = tokens.take(pa.array(multi, pa.int64()))
    runs = pc.split_pattern(pc.replace_substring_regex(many, f"{_NOT_WORD}+", " "), " ")
    run_parent = multi[pc.list_parent_indices(runs).to_numpy()]
    run_values = pc.list_flatten(runs)
    nonempty = pc.greater(pc.binary_length(run_values), 0)
    marks = pc.dictionary_encode(pc.replace_substring_regex(many, f"{_WORD}+", ""))
    mark_strings = marks.dictionary.to_pylist()  # few distinct: ",", "'", "#", "()"...
    mark_lens = np.array([len(m) for m in mark_strings], dtype=np.int64)
    mark_offsets = np.concatenate([[0], np.cumsum(mark_lens)])
    mark_chars = pa.array([c for m in mark_strings for c in m], tokens.type)
    codes = _codes(marks)
    at, lens = _positions(mark_offsets, codes)
    strings = pa.concat_arrays(
        [
            tokens.take(pa.array(single, pa.int64())),
            run_values.filter(nonempty).cast(tokens.type),
            mark_chars.take(pa.array(at, pa.int64())),
        ]
    )
    parents = np.concatenate(
        [single, run_parent[nonempty.to_numpy(zero_copy_only=False)], np.repeat(multi, lens)]
    )
    return strings, parents


def _loose_words(
    words: pa.Array, word_chars: np.ndarray | None = None
) -> tuple[np.ndarray, pa.Array]:
    """Each distinct whitespace word's loose form (its word characters only) as a number,
    and the distinct loose forms in order of first occurrence (``word_chars`` as in
    :func:`word_pieces`)."""
    if _textscan is None:
        encoded = pc.dictionary_encode(pc.replace_substring_regex(words, f"{_NOT_WORD}+", ""))
        return _codes(encoded), encoded.dictionary
    offsets, width, data = _buffers(words)
    chars = _word_chars(words) if word_chars is None else word_chars
    codes, loose_offsets, loose_data = _textscan.strip_encode(offsets, width, data, chars)
    return np.frombuffer(codes, dtype=np.int32), _large_strings(loose_offsets, loose_data)


def _piece_counts(
    tok_dict: pa.Array, tok_ids: np.ndarray, starts: np.ndarray, chars: np.ndarray | None
) -> tuple[Pieces, np.ndarray]:
    """The pieces of each distinct whitespace token, and their number summed per text."""
    pieces = word_pieces(tok_dict, chars)
    return pieces, _sums_per_text(pieces.counts(), tok_ids, starts)


def _sums_per_text(
    per_token: np.ndarray, tok_ids: np.ndarray, starts: np.ndarray, chunk: int = 1 << 22
) -> np.ndarray:
    """``per_token[tok_ids]`` summed over each text (texts start at ``starts``), in int32,
    a slice of texts holding about ``chunk`` tokens at a time (no copy of every token).

    Every text holds at least one token ("" splits to [""]), so reduceat is safe.
    """
    out = np.empty(len(starts), dtype=np.int32)
    bounds = np.append(np.searchsorted(starts, np.arange(0, len(tok_ids), chunk)), len(starts))
    for a, b in zip(bounds[:-1], bounds[1:]):
        if a == b:
            continue
        end = starts[b] if b < len(starts) else len(tok_ids)
        values = per_token[tok_ids[starts[a] : end]]
        np.add.reduceat(values, starts[a:b] - starts[a], dtype=np.int32, out=out[a:b])
    return out


def _loose_level(
    lids: np.ndarray, empty_pos: int, offsets: np.ndarray, n_texts: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Each text's loose token ids (``lids``, one per whitespace token) without the empty
    ones (id ``empty_pos``), their per-text offsets, and the texts' loose codes (equal id
    sequences, equal code) with how many there are."""
    if empty_pos >= 0:
        keep = lids != empty_pos
        dropped = np.flatnonzero(~keep)
        loose_offsets = offsets - np.searchsorted(dropped, offsets)
        del dropped
        lids = lids[keep]  # a mask: about twice as fast as np.delete(lids, dropped)
        del keep
    else:
        loose_offsets = offsets
    # Exact grouping of id sequences: each text's loose ids as one byte string.
    lids = np.ascontiguousarray(lids, dtype=np.int32)
    codes, n_codes = _group_spans(loose_offsets * 4, lids)
    return lids, loose_offsets, codes, n_codes


def build_text_index(
    values: pd.Series,
    on_exact: Callable[[pa.Array], object] | None = None,
    codes: TextCodes | None = None,
) -> TextIndex:
    """Encode a text column at the ``exact``, ``case_space`` and ``loose`` levels.

    ``on_exact`` receives the distinct raw texts as soon as they are known (the profile
    starts its corrupted-text scan on them in another thread). ``codes``: the column's
    :func:`encode_levels`, when the caller has it already (the split needed it).
    """
    # Intermediate arrays are dropped as soon as they are used: on a million distinct
    # texts each is another copy of the whole text.
    pool = pa.default_memory_pool()
    if codes is None or codes.n_rows != len(values):
        codes = encode_levels(values, on_exact)
    elif on_exact is not None:
        on_exact(codes.exact_uniques)
    codes0, u0, missing = codes.exact_codes, codes.exact_uniques, codes.missing
    map01, n1 = codes.exact_to_space, codes.n_space
    n = len(codes0)
    codes1 = map01[codes0]

    # Whitespace tokens of each case_space text (split when encode_levels did not).
    words = codes.words()
    offsets, tok_ids, tok_dict = words.offsets, words.ids, words.vocab
    starts = offsets[:-1]
    nonempty = codes.space_nonempty()

    # Per distinct whitespace token: its tokenizer pieces (counted, summed per text) and
    # its loose (punctuation-free) form. The two are independent: on large data the
    # pieces are taken in a second thread while this one builds the loose level.
    chars = _word_chars(tok_dict) if _textscan is not None else None  # for both below
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="normalise") as threads:
        if len(tok_ids) >= PARALLEL_MIN:
            counted = threads.submit(_piece_counts, tok_dict, tok_ids, starts, chars)
        else:
            counted = None
        tok_to_loose, loose_vocab = _loose_words(tok_dict, chars)
        empty_pos = pc.index(loose_vocab, "").as_py()
        ws_tokens = np.where(nonempty, np.diff(offsets), 0).astype(np.int32)
        loose = _loose_level(tok_to_loose[tok_ids], empty_pos, offsets, n1)
        del tok_to_loose
        pieces, model_tokens = (
            _piece_counts(tok_dict, tok_ids, starts, chars) if counted is None else counted.result()
        )
    lids, loose_offsets, map12, n2 = loose

    # Hand freed arrow memory back to the system (mimalloc keeps it otherwise).
    pool.release_unused()
    loose_to_space = _first_index(map12, n2)
    loose_empty = (np.diff(loose_offsets) == 0)[loose_to_space]

    return TextIndex(
        n_rows=n,
        missing=missing,
        blank=~nonempty[codes1],
        exact_codes=codes0,
        exact_uniques=u0,
        space_codes=codes1,
        n_space=n1,
        space_uniques=codes.space_uniques,
        exact_to_space=map01,
        loose_codes=map12[codes1],
        space_to_loose=map12,
        loose_empty=loose_empty,
        loose_to_space=loose_to_space,
        model_tokens=model_tokens,
        ws_tokens=ws_tokens,
        loose_offsets=loose_offsets,
        loose_ids=lids,
        loose_vocab=loose_vocab,
        ws_token_dict=tok_dict,
        ws_offsets=offsets,
        ws_ids=tok_ids,
        ws_sub_counts=pieces.counts(),
        ws_pieces=pieces,
    )


def _cased_tokens(
    index: TextIndex, row_mask: np.ndarray | None = None
) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Distinct whitespace tokens of the raw (cased) texts, their tokenizer-token counts,
    and how often each occurs over the rows (the masked rows only)."""
    words = pc.utf8_split_whitespace(index.exact_uniques)
    encoded = pc.dictionary_encode(pc.list_flatten(words))
    codes = index.exact_codes if row_mask is None else index.exact_codes[row_mask]
    per_text = np.bincount(codes, minlength=len(index.exact_uniques))
    owner = pc.list_parent_indices(words).to_numpy()
    ids = _codes(encoded)
    weights = np.bincount(ids, weights=per_text[owner], minlength=len(encoded.dictionary))
    return encoded.dictionary, subtoken_count(encoded.dictionary), weights


def _token_weights(
    index: TextIndex, lowercase: bool, row_mask: np.ndarray | None
) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Distinct whitespace tokens, their tokenizer-token counts and occurrences."""
    if lowercase:
        tokens, counts = index.ws_token_dict, index.ws_sub_counts
        return tokens, counts, token_occurrences(index, row_mask)
    return _cased_tokens(index, row_mask)


def model_vocabulary(
    index: TextIndex, lowercase: bool, row_mask: np.ndarray | None = None
) -> pa.Array:
    """Distinct tokenizer tokens of the texts (lowercased unless ``lowercase`` is False),
    of the masked rows only when ``row_mask`` is given (the training split)."""
    tokens, counts, weights = _token_weights(index, lowercase, row_mask)
    if row_mask is not None:
        seen = weights > 0
        tokens, counts = tokens.filter(pa.array(seen)), counts[seen]
    vocab = pc.unique(_split_tokens(tokens, counts)[0])
    pa.default_memory_pool().release_unused()
    return vocab


def oov_rate(
    index: TextIndex, vocab: pa.Array, lowercase: bool, row_mask: np.ndarray | None = None
) -> float:
    """Share of the tokenizer tokens over ``index``'s rows (the masked rows only) that are
    not in ``vocab``."""
    tokens, counts, weights = _token_weights(index, lowercase, row_mask)
    subs, sub_weights = _split_tokens(tokens, counts, weights.astype(np.float64))
    assert sub_weights is not None
    known = pc.is_in(subs, value_set=vocab).to_numpy(zero_copy_only=False)
    del subs
    pa.default_memory_pool().release_unused()
    total = sub_weights.sum()
    return float(sub_weights[~known].sum() / total) if total else 0.0


def _token_table(
    index: TextIndex, lowercase: bool
) -> tuple[Pieces, np.ndarray, np.ndarray, np.ndarray, int]:
    """The whitespace tokens of each distinct text, as the vocabulary sees them: the
    distinct tokens' pieces, per-text offsets into the token ids, the ids, each row's text
    code and the number of texts. Lowercased: the index's own tokens of the
    ``case_space`` texts; cased: the raw texts split once here."""
    if lowercase:
        return (
            index.ws_pieces,
            index.ws_offsets,
            index.ws_ids,
            index.space_codes,
            index.n_space,
        )
    words = pc.utf8_split_whitespace(index.exact_uniques)
    encoded = pc.dictionary_encode(pc.list_flatten(words))
    offsets = words.offsets.to_numpy().astype(np.int64)
    return (
        word_pieces(encoded.dictionary),
        offsets - offsets[0],
        _codes(encoded),
        index.exact_codes,
        len(index.exact_uniques),
    )


def _positions(offsets: np.ndarray, texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into the token ids) of the tokens of ``texts``, and each text's count."""
    starts, lens = offsets[texts], np.diff(offsets)[texts]
    firsts = np.cumsum(lens) - lens
    return np.arange(int(lens.sum()), dtype=np.int64) + np.repeat(starts - firsts, lens), lens


def _id_counts(ids: np.ndarray, n: int, chunk: int = 1 << 22) -> np.ndarray:
    """``np.bincount(ids, minlength=n)`` in slices: bincount copies int32 ids to int64
    first, 175 MB at 22M tokens, where a slice at a time takes 32 MB."""
    counts = np.zeros(n, dtype=np.int64)
    for start in range(0, len(ids), chunk):
        counts += np.bincount(ids[start : start + chunk], minlength=n)
    return counts


def vocabulary_and_oov(
    index: TextIndex, lowercase: bool, train: np.ndarray, dev: np.ndarray
) -> tuple[int, float]:
    """``len(model_vocabulary(index, lowercase, train))`` and ``oov_rate(index, vocab,
    lowercase, dev)``, the same numbers with less work on large data.

    Whitespace tokens are counted per distinct text, never per row: a token is in
    training when some text with a training row holds it (all occurrences, less those in
    texts without one: one integer count over every token, the rest on the few texts
    outside training). The vocabulary is then the pieces (:class:`Pieces`) that some
    training token holds, and the OOV share the dev-weighted pieces outside it: integer
    arrays over the distinct tokens' pieces, no string is hashed again. Every weight is a
    whole count, so the share equals the two functions' to the last bit.
    """
    pieces, offsets, ids, row_codes, n_texts = _token_table(index, lowercase)
    counts = pieces.counts()
    n_tokens = len(counts)
    text_in_train = np.bincount(row_codes[train], minlength=n_texts) > 0
    outside, _ = _positions(offsets, np.flatnonzero(~text_in_train))
    in_train = _id_counts(ids, n_tokens) > np.bincount(ids[outside], minlength=n_tokens)
    del outside
    owner = np.repeat(np.arange(n_tokens), counts)  # the token each piece comes from
    known = np.zeros(len(pieces.vocab), dtype=bool)
    known[pieces.ids[in_train[owner]]] = True
    vocab_size = int(known.sum())
    dev_rows = np.bincount(row_codes[dev], minlength=n_texts)
    dev_texts = np.flatnonzero(dev_rows)
    at, lens = _positions(offsets, dev_texts)
    dev_w = np.bincount(ids[at], weights=np.repeat(dev_rows[dev_texts], lens), minlength=n_tokens)
    del at
    total = float((dev_w * counts).sum())
    if not total:
        return vocab_size, 0.0
    unseen = float(dev_w[owner[~known[pieces.ids]]].sum())
    return vocab_size, unseen / total


def token_occurrences(index: TextIndex, row_mask: np.ndarray | None = None) -> np.ndarray:
    """How often each lowercased whitespace token occurs over the rows (masked rows only)."""
    space_counts = np.bincount(
        index.space_codes if row_mask is None else index.space_codes[row_mask],
        minlength=index.n_space,
    )
    words = Words(index.ws_offsets, index.ws_ids, index.ws_token_dict)
    return words.occurrences(space_counts)
