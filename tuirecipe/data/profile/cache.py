"""Profiles cached on disk, keyed by the data fingerprint and the profile options.

A cached profile is ``<key>.json`` (``DatasetProfile.to_dict()``) plus ``<key>.flags.npz``
(the per-row flags, bit-packed: 1,000,000 rows × 5 flags ≈ 0.6 MB). A missing, unreadable
or stale entry is simply recomputed; the cache never raises on a bad file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tuirecipe.data.profile.frame import profile_frame
from tuirecipe.data.profile.model import FLAG_NAMES, PROFILE_VERSION, DatasetProfile
from tuirecipe.fileio import atomic_write_bytes


def cache_key(fingerprint: str, n_rows: int, options: dict[str, Any]) -> str:
    """sha256 over the fingerprint, row count, profile version and options."""
    payload = json.dumps(
        {
            "fingerprint": fingerprint,
            "rows": n_rows,
            "version": PROFILE_VERSION,
            "options": options,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def save_profile(profile: DatasetProfile, path: Path) -> None:
    """Write ``path`` (JSON) and, when the profile has flags, ``path`` + ``.flags.npz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(profile.to_dict(), ensure_ascii=False).encode("utf-8"))
    if profile.flags is not None:
        n = len(next(iter(profile.flags.values())))
        packed: dict[str, np.ndarray] = {
            name: np.packbits(profile.flags[name]) for name in FLAG_NAMES
        }
        if profile.row_groups is not None:
            packed["row_groups"] = profile.row_groups
        if profile.row_split is not None:
            packed["row_split"] = profile.row_split
        flags_path = path.with_name(path.name + ".flags.npz")
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as tmp:
            np.savez(tmp, n=np.array([n]), **packed)  # type: ignore[arg-type]
        os.replace(tmp.name, flags_path)


def load_profile(path: Path) -> DatasetProfile | None:
    """The profile at ``path`` (with flags when saved), or None if absent or unreadable."""
    try:
        profile = DatasetProfile.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if profile.version != PROFILE_VERSION:
        return None
    flags_path = path.with_name(path.name + ".flags.npz")
    try:
        with np.load(flags_path) as data:
            n = int(data["n"][0])
            profile.flags = {
                name: np.unpackbits(data[name], count=n).astype(bool) for name in FLAG_NAMES
            }
            for name in ("row_groups", "row_split"):
                if name in data and len(data[name]) == n:
                    setattr(profile, name, data[name])
    except (OSError, KeyError, ValueError):
        profile.flags = None
    return profile


def profile_cached(
    train: pd.DataFrame, *, fingerprint: str, cache_dir: Path, **kwargs: Any
) -> DatasetProfile:
    """``profile_frame(train, **kwargs)``, reusing a cached result for the same data + options.

    ``fingerprint`` must identify the data profiled: the sha256 of the train file, and of
    the dev file when ``dev`` is passed. ``progress`` is not part of the key.
    """
    # ``skipped`` follows from the file and the loader settings, which ``fingerprint``
    # names; the split is hashed below.
    # ``cluster_features`` is a function: the encoder it runs is keyed by
    # ``cluster_encoder`` (its folder and the hash of its files).
    ignored = ("progress", "dev", "split", "skipped", "text_codes", "cluster_features")
    options = {k: v for k, v in kwargs.items() if k not in ignored}
    dev = kwargs.get("dev")
    options["dev_rows"] = None if dev is None else len(dev)
    split = kwargs.get("split")
    if split is not None:  # the split itself, not only how it was asked for
        options["split"] = hashlib.sha256(np.asarray(split, np.int8).tobytes()).hexdigest()
    path = Path(cache_dir) / f"profile-{cache_key(fingerprint, len(train), options)}.json"
    cached = load_profile(path)
    if cached is not None:
        progress = kwargs.get("progress")
        if progress is not None:
            progress(1.0, "profile loaded from cache")
        return cached
    profile = profile_frame(train, **kwargs)
    try:
        save_profile(profile, path)
    except OSError:
        pass  # a read-only cache folder costs a recomputation next time, nothing more
    return profile
