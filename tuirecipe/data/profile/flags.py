"""Per-row flags for the data browser.

The flags are a dict of numpy bool arrays, one per name in ``FLAG_NAMES``
(``duplicate``, ``conflict``, ``near_duplicate``, ``corrupted``, ``long``), each aligned
with the profiled frame's rows. Filtering 1,000,000 rows is one numpy expression
(``flags["duplicate"] | flags["conflict"]``, then ``np.flatnonzero``).

- ``duplicate``: every member of a group of rows with the same ``case_space`` text;
- ``conflict``: a row whose ``case_space`` text carries more than one label;
- ``near_duplicate``: the row's text is in a near-duplicate pair found (in the sample);
- ``corrupted``: any corrupted-row category;
- ``long``: longer than the configured ``max_len`` (would be truncated).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tuirecipe.data.profile.frame import profile_frame
from tuirecipe.data.profile.model import FLAG_NAMES, DatasetProfile


def row_flags(profile: DatasetProfile, frame: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """The profile's per-row flags; recomputed from ``frame`` when the profile has none.

    A profile fresh from ``profile_frame`` (or from the cache) carries its flags; one
    rebuilt from JSON alone needs the frame it was made from.
    """
    flags = profile.flags
    if flags is not None and (frame is None or len(next(iter(flags.values()))) == len(frame)):
        return flags
    if frame is None:
        raise ValueError("this profile carries no row flags; pass the frame it was made from")
    options = dict(profile.options)
    options["clusters"] = False
    fresh = profile_frame(frame, task=profile.task, **options)
    assert fresh.flags is not None  # a fresh profile always carries its row flags
    profile.flags = fresh.flags
    return fresh.flags


def select_rows(
    flags: dict[str, np.ndarray], names: list[str] | tuple[str, ...], mode: str = "any"
) -> np.ndarray:
    """Positions of rows carrying any (or all) of the named flags."""
    unknown = set(names) - set(FLAG_NAMES)
    if unknown:
        raise KeyError(f"unknown flag(s): {', '.join(sorted(unknown))}")
    if not names:
        return np.arange(len(next(iter(flags.values()))))
    combine = np.logical_or if mode == "any" else np.logical_and
    return np.flatnonzero(combine.reduce([flags[name] for name in names]))
