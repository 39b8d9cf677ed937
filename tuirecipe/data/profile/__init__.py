"""The dataset profile: size, labels, lengths, duplicates, conflicts, near-duplicates,
corrupted rows and topic clusters of a text dataset, computed column-wise (pyarrow, numpy)
so a million rows take seconds.

No torch, textual or rich here: the console runs the profile in a thread of the UI process.

- :func:`profile_frame` builds a :class:`DatasetProfile` from a frame (``text``, ``label``,
  optional ``row``) and an optional dev frame;
- :func:`profile_cached` reuses a profile saved for the same data fingerprint and options;
- :func:`row_flags` gives per-row boolean flags for the data browser.
"""

from tuirecipe.data.profile.cache import load_profile, profile_cached, save_profile
from tuirecipe.data.profile.flags import row_flags, select_rows
from tuirecipe.data.profile.frame import profile_frame
from tuirecipe.data.profile.model import FLAG_NAMES, DatasetProfile

__all__ = [
    "FLAG_NAMES",
    "DatasetProfile",
    "load_profile",
    "profile_cached",
    "profile_frame",
    "row_flags",
    "save_profile",
    "select_rows",
]
