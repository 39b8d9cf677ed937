"""Exact duplicates and contradictory labels at one normalisation level.

Everything works on integer codes (one per distinct normalised text), so a level costs a
couple of ``bincount``/``unique`` passes over the rows, whatever the texts look like.
Rows with a blank text are left out: they are reported as corrupted instead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TOP_GROUPS = 50
ROWS_PER_GROUP = 20
# (split code per row, split names): a group's rows say which split each is in
Splits = tuple[np.ndarray, tuple[str, ...]]


def _split_of(positions: np.ndarray, splits: Splits | None) -> dict[str, list[str]]:
    if splits is None:
        return {}
    codes, names = splits
    return {"splits": [names[int(c)] for c in codes[positions]]}


def _group_rows(codes: np.ndarray, valid: np.ndarray, wanted: np.ndarray) -> dict[int, np.ndarray]:
    """Row positions of each wanted code (in row order)."""
    if not len(wanted):
        return {}
    idx = np.flatnonzero(valid & np.isin(codes, wanted))
    order = np.argsort(codes[idx], kind="stable")
    idx = idx[order]
    bounds = np.flatnonzero(np.diff(codes[idx])) + 1
    return {int(codes[g[0]]): g for g in np.split(idx, bounds) if len(g)}


def _top(counts: np.ndarray, min_count: int, limit: int) -> np.ndarray:
    candidates = np.flatnonzero(counts >= min_count)
    if len(candidates) > limit:
        part = np.argpartition(-counts[candidates], limit - 1)[:limit]
        candidates = candidates[part]
    return candidates[np.lexsort((candidates, -counts[candidates]))]


def _label_counts(
    positions: np.ndarray, label_codes: np.ndarray, label_names: list[str]
) -> dict[str, int]:
    found = label_codes[positions]
    values, counts = np.unique(found, return_counts=True)
    return {("<missing>" if v < 0 else label_names[v]): int(c) for v, c in zip(values, counts)}


def conflicting_codes(
    codes: np.ndarray, n_codes: int, usable: np.ndarray, label_codes: np.ndarray
) -> np.ndarray:
    """Per code: True when the ``usable`` rows of that text carry more than one label.

    A text conflicts when some row's label differs from the label of its first row: two
    O(n) passes instead of hashing (text, label) pairs.
    """
    use_codes, use_labels = codes[usable], label_codes[usable]
    first_label = np.full(n_codes, -1, dtype=np.int64)
    first_label[use_codes[::-1]] = use_labels[::-1]
    return np.bincount(use_codes[use_labels != first_label[use_codes]], minlength=n_codes) > 0


def duplicate_level(
    codes: np.ndarray,
    n_codes: int,
    valid: np.ndarray,
    rows: np.ndarray,
    text_of_row: Callable[[int], str],
    label_codes: np.ndarray,
    label_names: list[str],
    splits: Splits | None = None,
) -> tuple[dict, np.ndarray]:
    """Surplus rows, repeated texts and the largest groups; also the per-code counts."""
    counts = np.bincount(codes[valid], minlength=n_codes)
    top = _top(counts, 2, TOP_GROUPS)
    members = _group_rows(codes, valid, top)
    groups = []
    for code in top:
        pos = members[int(code)]
        groups.append(
            {
                "text": text_of_row(int(pos[0]))[:300],
                "count": int(counts[code]),
                "rows": rows[pos[:ROWS_PER_GROUP]].tolist(),
                "labels": _label_counts(pos, label_codes, label_names),
                **_split_of(pos[:ROWS_PER_GROUP], splits),
            }
        )
    return {**_duplicate_summary(counts, int(valid.sum())), "groups": groups}, counts


def conflict_level(
    codes: np.ndarray,
    n_codes: int,
    valid: np.ndarray,
    rows: np.ndarray,
    text_of_row: Callable[[int], str],
    label_codes: np.ndarray,
    label_names: list[str],
    splits: Splits | None = None,
) -> tuple[dict, np.ndarray]:
    """Texts that appear with more than one (non-missing) label; also a per-code mask."""
    usable = valid & (label_codes >= 0)
    summary, conflicting, counts = _conflict_summary(codes, n_codes, usable, label_codes)
    top = _top(np.where(conflicting, counts, 0), 2, TOP_GROUPS)
    members = _group_rows(codes, usable, top)
    groups = []
    for code in top:
        pos = members[int(code)]
        groups.append(
            {
                "text": text_of_row(int(pos[0]))[:300],
                "count": len(pos),
                "rows": rows[pos[:ROWS_PER_GROUP]].tolist(),
                "labels": _label_counts(pos, label_codes, label_names),
                **_split_of(pos[:ROWS_PER_GROUP], splits),
            }
        )
    return {**summary, "groups": groups}, conflicting


def _duplicate_summary(counts: np.ndarray, n_rows: int) -> dict[str, int]:
    repeated = counts > 1
    return {
        "surplus_rows": n_rows - int((counts > 0).sum()),
        "repeated_texts": int(repeated.sum()),
        "rows_in_groups": int(counts[repeated].sum()),
    }


def _conflict_summary(
    codes: np.ndarray, n_codes: int, usable: np.ndarray, label_codes: np.ndarray
) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """The conflict counts over the ``usable`` rows, the per-code conflict mask and the
    per-code row counts."""
    conflicting = conflicting_codes(codes, n_codes, usable, label_codes)
    counts = np.bincount(codes[usable], minlength=n_codes)
    summary = {"conflicting_texts": int(conflicting.sum()), "rows": int(counts[conflicting].sum())}
    return summary, conflicting, counts


def duplicate_counts(codes: np.ndarray, n_codes: int, mask: np.ndarray) -> dict[str, int]:
    """Duplicate counts over the rows in ``mask`` only (one split), with the definitions
    of :func:`duplicate_level`, without its example groups."""
    return _duplicate_summary(np.bincount(codes[mask], minlength=n_codes), int(mask.sum()))


def conflict_counts(
    codes: np.ndarray, n_codes: int, mask: np.ndarray, label_codes: np.ndarray
) -> dict[str, int]:
    """Conflict counts over the rows in ``mask`` only (one split), with the definitions
    of :func:`conflict_level`, without its example groups."""
    return _conflict_summary(codes, n_codes, mask & (label_codes >= 0), label_codes)[0]
