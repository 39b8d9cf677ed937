"""Per-row flags of a loaded table: the profile's flags (train split only) laid onto the
whole file's rows (core: pandas only, no UI).

The data browser filters on these flags; the export removes rows by them, so both come
from the same groups as the profile's counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# Flags the whole-file pass finds too (a text repeated across train and dev): kept from
# either side.
WHOLE_FILE_FLAGS = ("duplicate", "conflict")


def merge_flags(
    frame: pd.DataFrame, profiled: pd.DataFrame, flags: dict[str, Any], base: pd.DataFrame
) -> pd.DataFrame:
    """The profile's per-row flags (aligned with ``profiled``) laid onto ``frame``'s rows.

    The profile sees the train split only; rows it did not see (dev) keep the ``base``
    flags, matched by source row number, and ``duplicate``/``conflict`` stay set where
    the whole-file ``base`` flags found them. A flag whose length does not match
    ``profiled`` is ignored.
    """
    out = base.reset_index(drop=True).copy()
    where = pd.Index(frame["row"].to_numpy()).get_indexer(profiled["row"].to_numpy())
    ok = where >= 0
    for name, values in flags.items():
        values = pd.Series(values).to_numpy(dtype=bool)
        if len(values) != len(profiled):
            continue
        column = (
            np.array(out[name].to_numpy(dtype=bool))
            if name in out
            else np.zeros(len(out), dtype=bool)
        )
        if name in WHOLE_FILE_FLAGS and name in out:
            column[where[ok]] |= values[ok]
        else:
            column[where[ok]] = values[ok]
        out[name] = column
    return out
