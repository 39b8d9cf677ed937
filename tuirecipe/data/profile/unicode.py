"""Typographic and compatibility Unicode: characters that make two spellings of one word.

A set written partly in a word processor has ``don’t`` (curly apostrophe) beside ``don't``,
``well–known`` beside ``well-known``, ``ﬁne`` (a ligature) beside ``fine``: the model sees two
words where a reader sees one. :func:`unicode_section` counts the rows holding such
characters, by kind, with the characters seen and example rows, the rows whose text changes
under NFKC, and the *vocabulary split*: word types that occur in both a typographic and a
plain form.

Only the distinct texts that are not pure ASCII are read character by character (pyarrow
finds them); the characters of those texts are classified once per distinct code point, and
the whole-text NFKC check runs only on texts holding a character that can change under it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tuirecipe.data.profile import normalize

EXAMPLES_PER_KIND = 5
EXAMPLE_CHARS = 300
CHARACTERS_PER_KIND = 20
SPLIT_EXAMPLES = 10
# The plain forms looked up in every text form one regular expression; past this many
# typographic word types only the most frequent are looked up (and the section says so).
MAX_SPLIT_CANDIDATES = 5000

_QUOTES = "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u2032\u2033\u02bc\u00b4"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_ELLIPSES = "\u2026\u2025"
_LIGATURES = {0x0132, 0x0133, *range(0x01C4, 0x01CD), *range(0x01F1, 0x01F4)}
_LIGATURES |= {*range(0xFB00, 0xFB07), *range(0xFB13, 0xFB18)}

# (key, description), in the order they are reported. "decomposed" is judged per text.
KINDS: tuple[tuple[str, str], ...] = (
    ("quotes", "curly quotes and apostrophes (‘ ’ “ ” …) beside straight ' and \""),
    ("dashes", "typographic dashes and hyphens (– — ‐ −) beside -"),
    ("ellipsis", "the one-character ellipsis … beside ..."),
    ("spaces", "non-breaking and other non-ASCII spaces"),
    ("zero_width", "zero-width and other invisible format characters"),
    ("fullwidth", "fullwidth and halfwidth forms (Ａ, ！, ｶ)"),
    ("ligatures", "ligatures (ﬁ, ﬂ, Ĳ) that NFKC splits into letters"),
    ("compatibility", "other characters NFKC rewrites (², ½, ™, ①, styled letters)"),
    ("decomposed", "accents written as separate combining marks (NFC joins them)"),
)
KIND_KEYS = tuple(key for key, _ in KINDS)
_KIND_ID = {key: i for i, key in enumerate(KIND_KEYS)}
# Kinds that change a word's spelling (a space only moves a word boundary).
_SPLITTING = [k for k in KIND_KEYS if k != "spaces"]

UNITS = {
    "rows": "rows (each row counted once, however many such characters it holds)",
    "texts": "distinct texts (exact)",
    "occurrences": "character occurrences, summed over rows",
    "word_types": "word types: whitespace-separated words, lowercased, outer punctuation stripped",
}

_PLAIN = str.maketrans(
    {
        **{c: "'" for c in "\u2018\u2019\u201a\u201b\u2032\u02bc\u00b4"},
        **{c: '"' for c in "\u201c\u201d\u201e\u201f\u2033"},
        **{c: "-" for c in _DASHES},
        "\u2026": "...",
        "\u2025": "..",
    }
)
# Word characters: letters, digits and combining marks (so "cafe\u0301" keeps its accent).
_OUTER = r"^[^\p{L}\p{N}\p{M}]+|[^\p{L}\p{N}\p{M}]+$"
_BOUNDARY = r"[^\p{L}\p{N}\p{M}]"


def _strip_outer(word: str) -> str:
    """``word`` without leading and trailing characters that are not word characters."""
    start, end = 0, len(word)
    while start < end and unicodedata.category(word[start])[0] not in "LNM":
        start += 1
    while end > start and unicodedata.category(word[end - 1])[0] not in "LNM":
        end -= 1
    return word[start:end]


def char_kind(char: str) -> str | None:
    """The kind of one character (None: an ordinary character)."""
    cp = ord(char)
    if char in _QUOTES:
        return "quotes"
    if char in _DASHES:
        return "dashes"
    if char in _ELLIPSES:
        return "ellipsis"
    # Separators only: C1 controls such as U+0085 are reported as corrupted rows instead.
    if cp > 0x7F and unicodedata.category(char) in ("Zs", "Zl", "Zp"):
        return "spaces"
    if unicodedata.category(char) == "Cf":
        return "zero_width"
    if 0xFF01 <= cp <= 0xFFEF:
        return "fullwidth"
    if cp in _LIGATURES:
        return "ligatures"
    if unicodedata.normalize("NFKC", char) != char:
        return "compatibility"
    return None


def plain_form(word: str) -> str:
    """A word with typographic punctuation made ASCII, invisibles dropped, then NFKC."""
    dropped = "".join(c for c in word.translate(_PLAIN) if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", dropped).lower()


def _may_change_text(char: str) -> bool:
    """Whether a text holding ``char`` may change under NFKC (checked on the whole text)."""
    cp = ord(char)
    return (
        unicodedata.normalize("NFKC", char) != char
        or unicodedata.category(char) in ("Mn", "Mc")
        or 0x1100 <= cp <= 0x11FF  # Hangul conjoining jamo compose into syllables
    )


def _codepoints(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Every code point of ``strings`` and the index of the string it belongs to."""
    lengths = pc.utf8_length(strings).to_numpy(zero_copy_only=False).astype(np.int64)
    joined = "".join(strings.to_pylist())
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    return cps, np.repeat(np.arange(len(strings)), lengths)


def _is_notable(char: str) -> bool:
    """Whether ``char`` can change anything :func:`_classify` reports: it has a kind, may
    change its text under NFKC, or is a combining mark (a decomposed accent)."""
    return (
        char_kind(char) is not None
        or _may_change_text(char)
        or unicodedata.category(char) in ("Mn", "Mc")
    )


# Texts read character by character at a time (their code points are held at once).
CHARS_CHUNK = 20_000


def _notable_codepoints(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The code points of ``texts`` that :func:`_is_notable`, with the index of the text
    each comes from: a slice of texts at a time, each distinct code point judged once.

    A text in another script holds hundreds of code points, none of them notable (Cyrillic
    letters, CJK ideographs); only the few that are go on to be sorted and counted.
    """
    if normalize._textscan is not None:  # one pass for the code points, one for the notable
        offsets, width, data = normalize._buffers(texts)
        marks = np.zeros(0x110000, dtype=np.uint8)
        normalize._textscan.codepoints(offsets, width, data, marks, 0)
        present = np.flatnonzero(marks)
        marks[present] = [_is_notable(chr(cp)) for cp in present.tolist()]
        found = normalize._textscan.codepoints(offsets, width, data, marks, 1)
        assert found is not None
        return np.frombuffer(found[0], dtype=np.uint32), np.frombuffer(found[1], dtype=np.int64)
    judged = np.zeros(0x110000, dtype=np.int8)  # 0 not yet judged, 1 notable, -1 not
    kept_cps, kept_owner = [], []
    stripped = pc.replace_substring_regex(texts, r"[\x00-\x7f]+", "")
    for start in range(0, len(stripped), CHARS_CHUNK):
        cps, owner = _codepoints(stripped.slice(start, CHARS_CHUNK))
        new = np.flatnonzero(np.bincount(cps, minlength=0x110000).astype(bool) & (judged == 0))
        judged[new] = [1 if _is_notable(chr(cp)) else -1 for cp in new.tolist()]
        keep = judged[cps] > 0
        kept_cps.append(cps[keep])
        kept_owner.append(owner[keep] + start)
    if not kept_cps:
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int64)
    return np.concatenate(kept_cps), np.concatenate(kept_owner)


def _first_positions(codes: np.ndarray, n_texts: int) -> np.ndarray:
    first = np.full(n_texts, -1, dtype=np.int64)
    order = np.arange(len(codes) - 1, -1, -1)
    first[codes[order]] = order
    return first


def unicode_section(
    texts: pa.Array,
    codes: np.ndarray,
    rows: np.ndarray,
    lines: np.ndarray | None = None,
    word_counts: WordCounts | None = None,
) -> dict[str, Any]:
    """The ``unicode`` finding over the rows ``codes`` describes.

    ``texts`` are the distinct texts (string or large_string, an Array or ChunkedArray);
    ``codes[i]`` is the index in
    ``texts`` of row ``i``; ``rows[i]`` its row number and ``lines[i]`` (when given) its line
    in the file. Leave out rows that should not count (blank texts) by leaving them out of
    ``codes``.

    ``word_counts``, when given, gives every word's occurrences over the rows (as
    :func:`_words` counts them, from a word index the caller has: its words are split at
    ``str.split()``'s whitespace, which also counts \x1c-\x1f and U+0085): the plain
    spellings of many typographic words are then looked up there instead of searched for
    in every text.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    codes = np.asarray(codes, dtype=np.int64)
    weights = np.bincount(codes, minlength=len(texts)).astype(np.int64)
    is_ascii = pc.string_is_ascii(texts).to_numpy(zero_copy_only=False)
    candidates = np.flatnonzero(~is_ascii & (weights > 0))
    out: dict[str, Any] = {
        "rows_checked": int(len(codes)),
        "texts_checked": int((weights > 0).sum()),
        "non_ascii_texts": int(len(candidates)),
        "units": UNITS,
    }
    sub = texts.take(pa.array(candidates, type=pa.int64()))
    sub_weights = weights[candidates]
    has, nfkc_changed, chars = _classify(sub, sub_weights)

    first = _first_positions(codes, len(texts))
    kinds: list[dict[str, Any]] = []
    for kind_id, (key, description) in enumerate(KINDS):
        found = np.flatnonzero(has[:, kind_id])
        if not len(found):
            continue
        kind_chars = [c for c in chars if c["kind_id"] == kind_id]
        kind_chars.sort(key=lambda c: (-c["occurrences"], c["char"]))
        kinds.append(
            {
                "kind": key,
                "description": description,
                "rows": int(sub_weights[found].sum()),
                "texts": int(len(found)),
                "characters": [
                    {k: v for k, v in c.items() if k != "kind_id"}
                    for c in kind_chars[:CHARACTERS_PER_KIND]
                ],
                "distinct_characters": len(kind_chars),
                "examples": _examples(sub, candidates, found, first, rows, lines),
            }
        )
    affected = np.flatnonzero(has.any(axis=1))
    changed = np.flatnonzero(nfkc_changed)
    out.update(
        rows=int(sub_weights[affected].sum()),
        texts=int(len(affected)),
        nfkc_changed={"rows": int(sub_weights[changed].sum()), "texts": int(len(changed))},
        kinds=kinds,
        vocabulary_split=_vocabulary_split(texts, weights, sub, sub_weights, has, word_counts),
    )
    split = out["vocabulary_split"]["word_types"]
    out["fires"] = bool(out["rows"])
    out["splits_vocabulary"] = bool(split)
    if out["rows"]:
        names = ", ".join(k["kind"].replace("_", " ") for k in kinds)
        out["message"] = (
            f"{out['rows']:,} rows hold typographic or compatibility characters ({names})"
            + (
                f"; {split:,} word types appear in both a typographic and a plain spelling, "
                "so the model learns them as different words: normalise (NFKC and ASCII "
                "punctuation) before tokenizing"
                if split
                else ""
            )
        )
    else:
        out["message"] = "no typographic or compatibility characters"
    return out


def _classify(
    sub: pa.Array, sub_weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Per text (of ``sub``): which kinds it holds and whether NFKC changes it; and the
    characters seen, with counts."""
    has = np.zeros((len(sub), len(KINDS)), dtype=bool)
    nfkc_changed = np.zeros(len(sub), dtype=bool)
    if not len(sub):
        return has, nfkc_changed, []
    # Code points that cannot change the result (a letter of another script) are left out
    # before anything is sorted: the result is the same, the work is the notable ones'.
    cps, owner = _notable_codepoints(sub)
    uniq, inverse = np.unique(cps, return_inverse=True)
    # The whole-text NFKC check runs only on texts holding a character that may change.
    may = np.array([_may_change_text(chr(cp)) for cp in uniq.tolist()], dtype=bool)
    maybe_change = np.unique(owner[may[inverse]])
    if len(maybe_change):
        texts = sub.take(pa.array(maybe_change, type=pa.int64())).to_pylist()
        nfkc_changed[maybe_change] = [not unicodedata.is_normalized("NFKC", t) for t in texts]
    kind_of = np.array(
        [_KIND_ID.get(char_kind(chr(cp)) or "", -1) for cp in uniq.tolist()], dtype=np.int64
    )
    kind = kind_of[inverse]
    # Decomposed accents: a combining mark counts only inside a text that is not NFC.
    is_mark = np.array(
        [unicodedata.category(chr(cp)) in ("Mn", "Mc") for cp in uniq.tolist()], dtype=bool
    )[inverse]
    maybe = np.unique(owner[is_mark])
    if len(maybe):
        maybe_texts = sub.take(pa.array(maybe, type=pa.int64())).to_pylist()
        not_nfc = np.zeros(len(sub), dtype=bool)
        not_nfc[maybe] = [not unicodedata.is_normalized("NFC", t) for t in maybe_texts]
        kind = np.where(is_mark & not_nfc[owner], _KIND_ID["decomposed"], kind)
    counted = kind >= 0
    owner, inverse, kind = owner[counted], inverse[counted], kind[counted]
    has[owner, kind] = True
    # Occurrences and rows per (character, kind), weighted by the rows of each text.
    key = inverse.astype(np.int64) * len(KINDS) + kind
    keys, key_inv = np.unique(key, return_inverse=True)
    occurrences = np.bincount(key_inv, weights=sub_weights[owner], minlength=len(keys))
    pair = np.unique(key_inv.astype(np.int64) * len(sub) + owner)
    rows_with = np.bincount(
        pair // len(sub), weights=sub_weights[pair % len(sub)], minlength=len(keys)
    )
    chars = []
    for k, occ, nrows in zip(keys.tolist(), occurrences.tolist(), rows_with.tolist()):
        cp = int(uniq[k // len(KINDS)])
        chars.append(
            {
                "char": chr(cp),
                "codepoint": f"U+{cp:04X}",
                "name": unicodedata.name(chr(cp), f"U+{cp:04X}"),
                "occurrences": int(occ),
                "rows": int(nrows),
                "kind_id": k % len(KINDS),
            }
        )
    return has, nfkc_changed, chars


def _examples(
    sub: pa.Array,
    candidates: np.ndarray,
    found: np.ndarray,
    first: np.ndarray,
    rows: np.ndarray,
    lines: np.ndarray | None,
) -> list[dict[str, Any]]:
    positions = first[candidates[found]]
    picked = np.argsort(positions, kind="stable")[:EXAMPLES_PER_KIND]
    out = []
    for i in picked.tolist():
        pos = int(positions[i])
        example: dict[str, Any] = {"row": int(rows[pos])}
        if lines is not None:
            example["line"] = int(lines[pos])
        example["text"] = sub[int(found[i])].as_py()[:EXAMPLE_CHARS]
        out.append(example)
    return out


def _words(strings: pa.Array, weights: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """Distinct words (lowercased, outer punctuation stripped) and their occurrences."""
    split = pc.utf8_split_whitespace(pc.utf8_lower(strings))
    parents = pc.list_parent_indices(split).to_numpy(zero_copy_only=False)
    words = pc.replace_substring_regex(pc.list_flatten(split), _OUTER, "")
    encoded = pc.dictionary_encode(words)
    ids = encoded.indices.to_numpy(zero_copy_only=False)
    counts = np.bincount(ids, weights=weights[parents], minlength=len(encoded.dictionary))
    return encoded.dictionary, counts.astype(np.int64)


# Distinct words (as _words makes them) and their occurrences over the rows, on demand.
WordCounts = Callable[[], tuple[pa.Array, np.ndarray]]

# Up to this many plain spellings are searched for in the texts with one regular
# expression; more are looked up among the counted words (a large alternation with case
# folding and Unicode classes outgrows RE2's DFA: 860 spellings on 200,000 Cyrillic rows
# took a minute).
REGEX_SPELLINGS = 64

# Texts whose words are counted at a time: the words of a large share of a million texts
# would otherwise be held at once (the profile runs this beside its heaviest steps).
WORDS_CHUNK = 100_000


def _plain_counts(
    texts: pa.Array, weights: np.ndarray, idx: np.ndarray, plain: list[str]
) -> dict[str, int]:
    """Occurrences (as :func:`_words` counts them) of the words ``plain`` in the texts
    ``idx``, a slice of texts at a time; words never seen are left out."""
    wanted = pa.array(plain, pa.string())
    lookup: dict[str, int] = {}
    for start in range(0, len(idx), WORDS_CHUNK):
        part = idx[start : start + WORDS_CHUNK]
        words, counts = _words(texts.take(pa.array(part, type=pa.int64())), weights[part])
        keep = pc.is_in(words, value_set=wanted.cast(words.type)).to_numpy(zero_copy_only=False)
        for word, count in zip(words.filter(pa.array(keep)).to_pylist(), counts[keep].tolist()):
            lookup[word] = lookup.get(word, 0) + count
    return lookup


def _looked_up(words: pa.Array, counts: np.ndarray, plain: list[str]) -> dict[str, int]:
    """Occurrences of the words ``plain`` among counted ``words``; unseen ones left out."""
    wanted = pa.array(plain, pa.string()).cast(words.type)
    keep = pc.is_in(words, value_set=wanted).to_numpy(zero_copy_only=False) & (counts > 0)
    found = words.filter(pa.array(keep)).to_pylist()
    return {word: int(n) for word, n in zip(found, counts[keep].tolist())}


def counted_words(words: pa.Array, occurrences: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """:data:`WordCounts` from a word index's lowercased whitespace ``words`` and their
    ``occurrences`` over the rows: the words with outer punctuation stripped, and theirs."""
    encoded = pc.dictionary_encode(pc.replace_substring_regex(words, _OUTER, ""))
    ids = encoded.indices.to_numpy(zero_copy_only=False)
    counts = np.bincount(ids, weights=occurrences, minlength=len(encoded.dictionary))
    return encoded.dictionary, counts.astype(np.int64)


def _vocabulary_split(
    texts: pa.Array,
    weights: np.ndarray,
    sub: pa.Array,
    sub_weights: np.ndarray,
    has: np.ndarray,
    word_counts: WordCounts | None = None,
) -> dict[str, Any]:
    """Word types seen both with typographic characters and in their plain spelling."""
    out: dict[str, Any] = {
        "word_types": 0,
        "unit": UNITS["word_types"],
        "rule": "a word with typographic characters whose plain form (ASCII quotes, dashes "
        "and ellipsis, invisibles dropped, NFKC, lowercased) also occurs as a word",
        "examples": [],
    }
    typo = np.flatnonzero(has[:, [_KIND_ID[k] for k in _SPLITTING]].any(axis=1))
    if not len(typo):
        return out
    words, counts = _words(sub.take(pa.array(typo, type=pa.int64())), sub_weights[typo])
    non_ascii = np.flatnonzero(~pc.string_is_ascii(words).to_numpy(zero_copy_only=False))
    variants: dict[str, dict[str, int]] = {}
    for i in non_ascii.tolist():
        word = words[i].as_py()
        plain = _strip_outer(plain_form(word))
        if plain and plain != word:
            variants.setdefault(plain, {})[word] = int(counts[i])
    if not variants:
        return out
    ordered = sorted(variants, key=lambda p: (-sum(variants[p].values()), p))
    out["checked"] = min(len(ordered), MAX_SPLIT_CANDIDATES)
    out["capped"] = len(ordered) > MAX_SPLIT_CANDIDATES
    ordered = ordered[:MAX_SPLIT_CANDIDATES]
    if word_counts is not None and len(ordered) > REGEX_SPELLINGS:
        lookup = _looked_up(*word_counts(), ordered)
    else:
        # One pass over every text finds those that may hold a plain form; words are
        # then counted exactly, as above, in those texts only.
        pattern = (
            rf"(?i)(?:^|{_BOUNDARY})(?:"
            + "|".join(re.escape(p) for p in sorted(ordered, key=len, reverse=True))
            + rf")(?:$|{_BOUNDARY})"
        )
        used = weights > 0
        hit = pc.match_substring_regex(texts, pattern).to_numpy(zero_copy_only=False) & used
        hit_idx = np.flatnonzero(hit)
        del hit
        lookup = _plain_counts(texts, weights, hit_idx, ordered)
    split = [(p, lookup[p]) for p in ordered if lookup.get(p, 0) > 0]
    out["word_types"] = len(split)
    out["examples"] = [
        {
            "plain": plain,
            "plain_occurrences": int(n_plain),
            "typographic": [
                {"word": w, "occurrences": n}
                for w, n in sorted(variants[plain].items(), key=lambda kv: (-kv[1], kv[0]))[:3]
            ],
        }
        for plain, n_plain in split[:SPLIT_EXAMPLES]
    ]
    return out
