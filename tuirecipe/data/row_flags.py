"""The profile's per-row results laid onto the data file's table (core: pandas only).

The data browser filters on these flags and the export removes rows by these groups, so
the browser, the export and the profile count the same rows: the profile covers every
row of the file (and, after it, a separate dev file's rows, which the browser does not
show).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tuirecipe.data.profile.model import FLAG_NAMES


def profile_row_flags(profile: Any, data: Any) -> pd.DataFrame | None:
    """The flags of ``data.frame``'s rows as a frame of bool columns, or None when the
    profile carries none (or was made from other rows)."""
    flags = getattr(profile, "flags", None)
    n = len(data.frame)
    if not flags or any(len(flags[name]) < n for name in FLAG_NAMES):
        return None
    return pd.DataFrame({name: np.asarray(flags[name][:n], dtype=bool) for name in FLAG_NAMES})


def file_groups(profile: Any, n: int) -> np.ndarray | None:
    """Each of the first ``n`` rows' duplicate group (``case_space`` code, -1 blank)."""
    groups = getattr(profile, "row_groups", None)
    if groups is None or len(groups) < n:
        return None
    return np.asarray(groups[:n], dtype=np.int64)


def removal_counts(profile: Any, n: int) -> dict[str, int] | None:
    """What the export's bulk removals would take out of the first ``n`` rows, from the
    profile's groups and flags: ``duplicate`` = surplus rows (all copies but the first),
    ``conflict`` = rows of texts with more than one label, ``conflict_texts``."""
    groups = file_groups(profile, n)
    flags = getattr(profile, "flags", None)
    if groups is None or not flags:
        return None
    used = groups[groups >= 0]
    conflict = np.asarray(flags["conflict"][:n], dtype=bool)
    return {
        "duplicate": int(len(used) - len(np.unique(used))),
        "conflict": int(conflict.sum()),
        "conflict_texts": int(len(np.unique(groups[conflict]))),
    }
