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

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Whitespace as Python's str.split() sees it (RE2's \s lacks \v, NEL, NBSP, ...).
_WS = r"[\t\n\x0b\x0c\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"  # noqa: E501
_NEEDS_COLLAPSE = rf"^{_WS}|{_WS}$|{_WS}{{2}}|[\t\n\x0b\x0c\r\x1c-\x1f\x{{85}}\x{{a0}}\x{{1680}}\x{{2000}}-\x{{200a}}\x{{2028}}\x{{2029}}\x{{202f}}\x{{205f}}\x{{3000}}]"  # noqa: E501
# RE2's \w is ASCII-only; Python's (used by the tokenizer) is Unicode letters, digits, "_".
_WORD = r"[\p{L}\p{N}_]"
_NOT_WORD = r"[^\p{L}\p{N}_]"
_MODEL_TOKEN = rf"{_WORD}+|{_NOT_WORD}"


def text_array(values: pd.Series) -> tuple[pa.Array, np.ndarray]:
    """The column as a non-null arrow string array, plus a mask of missing values."""
    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = None
    if arr is None or not (
        pa.types.is_string(arr.type)
        or pa.types.is_large_string(arr.type)
        or pa.types.is_null(arr.type)
    ):
        as_str = (
            values.astype(object)
            .where(values.notna(), None)
            .map(lambda v: v if v is None or isinstance(v, str) else str(v))
        )
        arr = pa.array(as_str.tolist(), type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_null(arr.type):
        arr = pa.nulls(len(arr), pa.large_string())
    missing = arr.is_null().to_numpy(zero_copy_only=False)
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    return arr, missing


def _codes(encoded: pa.DictionaryArray) -> np.ndarray:
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)


def _first_index(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """For each code, the first position where it occurs (-1 if never)."""
    first = np.full(n_codes, -1, dtype=np.int64)
    order = np.arange(len(codes) - 1, -1, -1)
    first[codes[order]] = order
    return first


def collapse_space(lowered: pa.Array) -> pa.Array:
    """Collapse whitespace runs to one space and strip, touching only texts that need it."""
    needs = pc.match_substring_regex(lowered, _NEEDS_COLLAPSE)
    n_need = pc.sum(needs).as_py() or 0
    if not n_need:
        return lowered
    subset = pc.filter(lowered, needs)
    fixed = pc.utf8_trim(pc.replace_substring_regex(subset, f"{_WS}+", " "), " ")
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
    arr, _ = text_array(series)
    encoded = pc.dictionary_encode(arr)
    codes = _codes(encoded)
    out: dict[str, np.ndarray] = {}
    if "exact" in levels:
        out["exact"] = codes
    if "case_space" in levels:
        out["case_space"] = _codes(pc.dictionary_encode(case_space(encoded.dictionary)))[codes]
    return out


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
    space_uniques: pa.Array
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


def build_text_index(
    values: pd.Series, on_exact: Callable[[pa.Array], object] | None = None
) -> TextIndex:
    """Encode a text column at the ``exact``, ``case_space`` and ``loose`` levels.

    ``on_exact`` receives the distinct raw texts as soon as they are known (the profile
    starts its corrupted-text scan on them in another thread).
    """
    arr, missing = text_array(values)
    n = len(arr)
    enc0 = pc.dictionary_encode(arr)
    codes0, u0 = _codes(enc0), enc0.dictionary
    if on_exact is not None:
        on_exact(u0)

    space_u0 = case_space(u0)
    enc1 = pc.dictionary_encode(space_u0)
    map01, u1 = _codes(enc1), enc1.dictionary
    codes1 = map01[codes0]

    # Whitespace tokens of each case_space text; the text is collapsed, so split on " ".
    split = pc.split_pattern(u1, " ")
    offsets = split.offsets.to_numpy().astype(np.int64)
    tok_enc = pc.dictionary_encode(pc.list_flatten(split))
    tok_ids, tok_dict = _codes(tok_enc), tok_enc.dictionary
    starts = offsets[:-1]
    text_len = pc.utf8_length(u1).to_numpy().astype(np.int64)
    nonempty = text_len > 0

    # Per distinct whitespace token: tokenizer-token count and its loose (punctuation-free) form.
    sub_counts = pc.count_substring_regex(tok_dict, _MODEL_TOKEN).to_numpy().astype(np.int32)
    loose_tok = pc.replace_substring_regex(tok_dict, f"{_NOT_WORD}+", "")
    loose_enc = pc.dictionary_encode(loose_tok)
    tok_to_loose, loose_vocab = _codes(loose_enc), loose_enc.dictionary
    empty_pos = pc.index(loose_vocab, "").as_py()

    # Every list holds at least one element ("" splits to [""]), so reduceat is safe.
    model_tokens = np.add.reduceat(sub_counts[tok_ids], starts, dtype=np.int64).astype(np.int32)
    ws_tokens = np.where(nonempty, np.diff(offsets), 0).astype(np.int32)

    lids = tok_to_loose[tok_ids]
    if empty_pos >= 0:
        dropped = np.flatnonzero(lids == empty_pos)
        loose_offsets = offsets - np.searchsorted(dropped, offsets)
        lids = np.delete(lids, dropped)
    else:
        loose_offsets = offsets
    # Exact grouping of id sequences: view each text's loose ids as one binary string.
    lids = np.ascontiguousarray(lids, dtype=np.int32)
    keys = pa.Array.from_buffers(
        pa.large_binary(),
        len(u1),
        [None, pa.py_buffer((loose_offsets * 4).astype(np.int64)), pa.py_buffer(lids)],
    )
    enc2 = pc.dictionary_encode(keys)
    map12 = _codes(enc2)
    n2 = len(enc2.dictionary)
    loose_to_space = _first_index(map12, n2)
    loose_empty = (np.diff(loose_offsets) == 0)[loose_to_space]

    return TextIndex(
        n_rows=n,
        missing=missing,
        blank=~nonempty[codes1],
        exact_codes=codes0,
        exact_uniques=u0,
        space_codes=codes1,
        space_uniques=u1,
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
    )


def model_vocabulary(index: TextIndex, lowercase: bool) -> pa.Array:
    """Distinct tokenizer tokens of the texts (lowercased unless ``lowercase`` is False)."""
    if lowercase:
        tokens = index.ws_token_dict
    else:
        cased = pc.utf8_split_whitespace(index.exact_uniques)
        tokens = pc.unique(pc.list_flatten(cased))
    subs = pc.list_flatten(model_subtokens(tokens))
    vocab = pc.unique(subs)
    return pc.filter(vocab, pc.not_equal(vocab, ""))


def token_occurrences(index: TextIndex, row_mask: np.ndarray | None = None) -> np.ndarray:
    """How often each lowercased whitespace token occurs over the rows (masked rows only)."""
    space_counts = np.bincount(
        index.space_codes if row_mask is None else index.space_codes[row_mask],
        minlength=len(index.space_uniques),
    )
    per_text = np.repeat(space_counts, np.diff(index.ws_offsets))
    return np.bincount(index.ws_ids, weights=per_text, minlength=len(index.ws_token_dict))
