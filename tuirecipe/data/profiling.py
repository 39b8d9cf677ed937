"""Profile the dataset a config names: load, split off dev the way training will, profile.

One function shared by the console's Data pane and ``tuirecipe data``, so both show the
same numbers for the same config. The profile is cached by the data fingerprint (file
sha256 plus how dev is split off) under ``$TUIRECIPE_CACHE/profiles`` or
``<runs_dir>/.cache/profiles``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tuirecipe.config import Config
from tuirecipe.data.loading import SkippedRow, load_table
from tuirecipe.data.prepare import resolve_data_path
from tuirecipe.data.profile import DatasetProfile, profile_cached
from tuirecipe.data.splits import stratified_split

Progress = Callable[[float, str], None]


@dataclass
class LoadedDataset:
    """The whole data file as loaded, and the train/dev frames the profile looks at."""

    path: Path
    sha256: str
    frame: pd.DataFrame  # every usable row of the data file: text, label, row
    train: pd.DataFrame
    dev: pd.DataFrame
    dev_sha256: str = ""
    notes: list[str] = field(default_factory=list)
    skipped: int = 0
    # The data file's skipped rows (row, line, reason), for the export manifest.
    skipped_rows: list[SkippedRow] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """Names the data profiled: the file(s), and how dev was split off."""
        if self.dev_sha256:
            return f"{self.sha256}+dev:{self.dev_sha256}"
        return f"{self.sha256}:split"


def profile_cache_dir(config: Config) -> Path:
    root = os.environ.get("TUIRECIPE_CACHE")
    base = Path(root).expanduser() if root else config.runs_path / ".cache"
    return base / "profiles"


def load_dataset(config: Config) -> LoadedDataset:
    """Load the data file (and dev file) and split as ``prepare_data`` would."""
    cfg = config.data
    path = resolve_data_path(config)
    table = load_table(path, cfg)
    frame = table.frame
    notes = list(table.report.notes)
    skipped = len(table.report.skipped)
    if cfg.dev_path:
        dev_table = load_table(
            config.resolve_path(cfg.dev_path), cfg, key="data.dev_path", require_classes=False
        )
        notes += dev_table.report.notes
        return LoadedDataset(
            path,
            table.report.sha256,
            frame,
            frame,
            dev_table.frame,
            dev_table.report.sha256,
            notes,
            skipped,
            table.report.skipped,
        )
    train_idx, dev_idx = stratified_split(
        frame["label"].to_numpy(), cfg.dev_fraction, config.seed, cfg.task
    )
    loaded = LoadedDataset(
        path,
        table.report.sha256,
        frame,
        frame.iloc[train_idx].reset_index(drop=True),
        frame.iloc[dev_idx].reset_index(drop=True),
        "",
        notes,
        skipped,
        table.report.skipped,
    )
    return loaded


def profile_dataset(
    config: Config, data: LoadedDataset, progress: Progress | None = None
) -> DatasetProfile:
    cfg = config.data
    fingerprint = f"{data.fingerprint}:dev_fraction={cfg.dev_fraction}:seed={config.seed}"
    return profile_cached(
        data.train,
        fingerprint=fingerprint,
        cache_dir=profile_cache_dir(config),
        task=cfg.task,
        dev=data.dev,
        max_len=cfg.max_len,
        lowercase=cfg.lowercase,
        progress=progress,
    )


def profile_config(
    config: Config, progress: Progress | None = None
) -> tuple[LoadedDataset, DatasetProfile]:
    data = load_dataset(config)
    return data, profile_dataset(config, data, progress)
