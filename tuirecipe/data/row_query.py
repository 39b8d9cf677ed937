"""Which rows of a loaded table a browser shows, and in what order (core: pandas, numpy
and pyarrow; no UI).

:func:`select_rows` filters (label, flag, marked rows, case-insensitive substring) and
sorts (row, length, label) on whole columns at once, so it costs the same whether the
table is shown or not; the data browser keeps only the positions it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# "quality": the label-noise estimate's label quality, most suspect first (rows without an
# estimate keep their order)
SORTS = ("row", "length", "label", "quality")


@dataclass(frozen=True)
class BrowserQuery:
    label: str | None = None
    flag: str | None = None  # a flag column name, or "marked"
    search: str = ""
    sort: str = "row"  # row | length | label | quality
    descending: bool = False


def text_array(frame: pd.DataFrame) -> Any:
    """The text column as a pyarrow array when possible (fast vectorised search)."""
    try:
        import pyarrow as pa

        values = frame["text"].array
        arrow = getattr(values, "_pa_array", None)
        if arrow is not None:
            return arrow
        return pa.array(frame["text"].astype(str).to_numpy(dtype=object), type=pa.large_string())
    except Exception:  # pragma: no cover - pyarrow missing: pandas fallback
        return None


def select_rows(
    frame: pd.DataFrame,
    lengths: np.ndarray,
    flags: pd.DataFrame | None,
    marks: dict[int, str],
    query: BrowserQuery,
    quality: np.ndarray | None = None,
) -> np.ndarray:
    """Positions of the rows matching ``query``, in display order (vectorised).
    ``quality``: each row's label quality (the label-noise estimate's), for that sort."""
    n = len(frame)
    keep = np.ones(n, dtype=bool)
    if query.label is not None:
        keep &= (frame["label"].astype(str) == query.label).to_numpy()
    if query.flag == "marked":
        if marks:
            keep &= frame["row"].isin(list(marks)).to_numpy()
        else:
            keep[:] = False
    elif query.flag is not None:
        if flags is not None and query.flag in flags.columns:
            keep &= flags[query.flag].to_numpy(dtype=bool)
        else:
            keep[:] = False
    if query.search:
        keep &= contains(frame, query.search)
    positions = np.flatnonzero(keep)
    if query.sort == "length":
        order = np.argsort(lengths[positions], kind="stable")
    elif query.sort == "quality" and quality is not None and len(quality) == n:
        order = np.argsort(quality[positions], kind="stable")
    elif query.sort == "label":
        codes = pd.Categorical(frame["label"].astype(str)).codes
        order = np.argsort(codes[positions], kind="stable")
    else:
        order = None
    if order is not None:
        positions = positions[order]
    if query.descending:
        positions = positions[::-1]
    return positions


def contains(frame: pd.DataFrame, needle: str) -> np.ndarray:
    """Rows whose text holds ``needle``, ignoring case (a plain substring, no regex)."""
    arrow = text_array(frame)
    if arrow is not None:
        import pyarrow.compute as pc

        hit = pc.match_substring(arrow, needle, ignore_case=True)
        return np.asarray(hit.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    return frame["text"].astype(str).str.contains(needle, case=False, regex=False).to_numpy()
