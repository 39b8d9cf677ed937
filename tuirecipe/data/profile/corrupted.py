"""Corrupted rows: missing text or label, bad labels, broken encodings, markup residue,
extreme lengths.

Text checks run on the distinct raw texts only, and in two passes: one cheap regex that
any suspicious text matches, then the per-category regexes on those candidates alone.
Each category yields a boolean mask over the rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tuirecipe.data.profile import normalize

ROW_LIMIT = 50

_CP1252_HIGH = (
    r"\x{152}\x{153}\x{160}\x{161}\x{178}\x{17d}\x{17e}\x{192}\x{2c6}\x{2dc}"
    r"\x{2013}\x{2014}\x{2018}-\x{201e}\x{2020}-\x{2022}\x{2026}\x{2030}"
    r"\x{2039}\x{203a}\x{20ac}\x{2122}"
)

# category -> (regex over the raw text, description)
TEXT_PATTERNS: dict[str, tuple[str, str]] = {
    "replacement_char": (
        r"\x{fffd}",
        "Unicode replacement character U+FFFD (bytes lost in decoding)",
    ),
    "mojibake": (
        rf"Ã[\x{{80}}-\x{{bf}}{_CP1252_HIGH}]|â€|â\x{{80}}[\x{{80}}-\x{{bf}}]|Â[\x{{80}}-\x{{bf}}]|ï»¿",
        "UTF-8 read as Latin-1/cp1252 (e.g. 'Ã©', 'â€™')",
    ),
    "control_chars": (
        r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x{9f}]",
        "control characters (C0 other than tab/newline/CR, DEL, C1)",
    ),
    "html_entities": (
        r"&(?:[a-zA-Z]{2,8}|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});|(?:^|[^&\w])#[0-9]{2,4};",
        "HTML entities or their residue ('&amp;', '&lt;', '&#39;', '#36;')",
    ),
}
_CANDIDATE = r"[\x{fffd}\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x{9f}ÃÂ]|â€|ï»¿|&[#a-zA-Z]|#[0-9]+;"

DESCRIPTIONS = {
    "missing_text": "text missing, empty or only whitespace",
    "missing_label": "label missing or empty",
    "unknown_label": "label outside the configured label set (or not a number, for regression)",
    **{name: desc for name, (_, desc) in TEXT_PATTERNS.items()},
    "no_words": "text has no word characters (empty after dropping punctuation)",
    "extreme_length": "longer than both the 99.9th percentile and 4x the 99th percentile",
}

# Flagged for a look, but a long text is not damage: counted apart from the corrupted.
NOT_DAMAGE = ("extreme_length",)


def corrupted_counts(found: Mapping[str, Any]) -> tuple[int, int]:
    """``(corrupted, other flags)`` from a profile's ``corrupted`` section (category →
    ``{"count": …}``) or a split's (category → count): the one place both are counted,
    so the advice, the section's title and the splits table say the same numbers."""
    damaged = flagged = 0
    for category, value in found.items():
        count = value.get("count", 0) if isinstance(value, Mapping) else value
        if not isinstance(count, (int, float)):
            continue
        if category in NOT_DAMAGE:
            flagged += int(count)
        else:
            damaged += int(count)
    return damaged, flagged


def candidate_mask(uniques: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per text: it matches ``_CANDIDATE`` (one byte pass by the compiled module when
    there is one, RE2 otherwise: the same texts, tested)."""
    if normalize._textscan is not None:
        offsets, width, data = normalize._buffers(uniques)
        out = np.zeros(len(uniques), dtype=np.uint8)
        normalize._textscan.candidates(offsets, width, data, out)
        return out.view(bool)
    return pc.match_substring_regex(uniques, _CANDIDATE).to_numpy(zero_copy_only=False)


def text_categories(uniques: pa.Array) -> dict[str, np.ndarray]:
    """Per distinct raw text: one boolean array per text pattern category."""
    where = np.flatnonzero(candidate_mask(uniques))
    out = {name: np.zeros(len(uniques), dtype=bool) for name in TEXT_PATTERNS}
    if len(where):
        subset = uniques.take(pa.array(where))
        for name, (pattern, _) in TEXT_PATTERNS.items():
            hit = pc.match_substring_regex(subset, pattern).to_numpy(zero_copy_only=False)
            out[name][where[hit]] = True
    return out


def extreme_length_mask(lengths: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, float]:
    """Rows longer than both p99.9 and 4 x p99 (tokens); returns the mask and the cutoff."""
    if not valid.any():
        return np.zeros(len(lengths), dtype=bool), 0.0
    p99, p999 = np.percentile(lengths[valid], [99, 99.9])
    cutoff = float(max(p999, 4 * p99))
    return valid & (lengths > cutoff), cutoff


def summarise(masks: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, dict]:
    """Count and (capped) row numbers per category, in DESCRIPTIONS order."""
    out = {}
    for name in DESCRIPTIONS:
        mask = masks.get(name)
        if mask is None:
            continue
        hits = np.flatnonzero(mask)
        out[name] = {
            "count": int(len(hits)),
            "rows": rows[hits[:ROW_LIMIT]].tolist(),
            "description": DESCRIPTIONS[name],
        }
    return out
