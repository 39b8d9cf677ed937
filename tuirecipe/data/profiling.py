"""Profile the dataset a config names: load, split off dev the way training will, profile
every row and then each split.

One function shared by the console's Data pane and ``tuirecipe data``, so both show the
same numbers for the same config. The profile is cached under ``$TUIRECIPE_CACHE/profiles``
or ``<runs_dir>/.cache/profiles``, keyed by everything that changes it: the file(s)'
sha256, every ``[data]`` setting, the seed and the profiling code itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tuirecipe.config import Config
from tuirecipe.data.loading import load_table
from tuirecipe.data.prepare import resolve_data_path
from tuirecipe.data.profile import DatasetProfile, profile_cached
from tuirecipe.data.profile.build import row_lines, row_numbers
from tuirecipe.data.profile.frame import start_text_checks
from tuirecipe.data.profile.normalize import TextCodes, encode_levels
from tuirecipe.data.splits import stratified_split

Progress = Callable[[float, str], None]


@dataclass
class LoadedDataset:
    """The whole data file as loaded, and the train/dev frames the profile looks at."""

    path: Path
    sha256: str
    frame: pd.DataFrame  # every usable row of the data file: text, label, row
    # train / dev when they are not rows of ``frame`` picked by ``split`` (a dev file);
    # otherwise taken from ``frame`` when first asked for (a copy of each row)
    train_frame: pd.DataFrame | None
    dev_frame: pd.DataFrame | None
    dev_sha256: str = ""
    notes: list[str] = field(default_factory=list)
    skipped: int = 0
    # each row of ``frame``: 0 train, 1 dev (None when dev is a separate file)
    split: np.ndarray | None = None
    skipped_rows: list[dict] = field(default_factory=list)  # row, line, reason
    dev_path: Path | None = None
    split_groups: str = ""  # how the split treats copies (data.split_groups)
    # the texts' exact / case_space codes the split used, for the profile to reuse once
    text_codes: TextCodes | None = field(default=None, repr=False)

    @cached_property
    def train(self) -> pd.DataFrame:
        if self.train_frame is not None:
            return self.train_frame
        return self._part(0)

    @cached_property
    def dev(self) -> pd.DataFrame:
        if self.dev_frame is not None:
            return self.dev_frame
        return self._part(1)

    def _part(self, code: int) -> pd.DataFrame:
        if self.split is None:
            return self.frame if code == 0 else self.frame.iloc[:0]
        return self.frame.iloc[np.flatnonzero(self.split == code)].reset_index(drop=True)

    @property
    def n_train(self) -> int:
        return len(self.train) if self.split is None else int((self.split == 0).sum())

    @property
    def n_dev(self) -> int:
        return len(self.dev) if self.split is None else int((self.split == 1).sum())

    @property
    def fingerprint(self) -> str:
        """Names the data profiled: the file(s), and how dev was split off."""
        if self.dev_sha256:
            return f"{self.sha256}+dev:{self.dev_sha256}"
        return f"{self.sha256}:split"

    def counts_line(self) -> str:
        """Rows read, used (per split) and skipped, in words: the pane and the CLI."""
        used = len(self.frame)
        if self.dev_path is not None:
            split = f"train file; the dev file adds {self.n_dev:,}"
        else:
            split = f"{self.n_train:,} train + {self.n_dev:,} dev"
        return (
            f"{used + self.skipped:,} rows read: {used:,} used ({split}), {self.skipped:,} skipped"
        )

    @property
    def scope(self) -> str:
        """What "all rows" means for this data, in words."""
        if self.dev_path is not None:
            return (
                f"every usable row of {self.path.name} ({len(self.frame):,}, train) and of "
                f"{self.dev_path.name} ({self.n_dev:,}, dev)"
            )
        kept = {
            "none": "row by row, copies may fall on both sides",
            "exact": "copies of a text kept on one side",
            "case_space": "copies kept on one side, ignoring case and spacing",
        }.get(self.split_groups, "")
        return (
            f"every usable row of {self.path.name} ({len(self.frame):,}): "
            f"{self.n_train:,} train + {self.n_dev:,} dev as training splits it"
            + (f" ({kept}: data.split_groups = {self.split_groups})" if kept else "")
        )


def without_huge_pages() -> bool:
    """Back this process with ordinary 4 KiB pages (Linux ``PR_SET_THP_DISABLE``); whether
    it applied (False off Linux, or where the call is refused).

    For a process that only profiles data (``tuirecipe data``): the profile allocates and
    frees many large arrays, and with transparent huge pages each first touch zeroes 2 MiB
    at a time. Measured on 1M distinct rows: about 1 s less system time (0.5 s less CPU in
    all) and 90 MB lower peak memory. Process-wide and inherited by child processes, so
    only a command that does nothing else calls it.
    """
    prctl = _libc_function("prctl")
    return prctl is not None and prctl(41, 1, 0, 0, 0) == 0


def _libc_function(name: str) -> Callable[..., int] | None:
    """The C library's function ``name`` on Linux (None elsewhere, or where this C
    library has none: musl has no ``mallopt``)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


# Freed memory up to this much stays with the process (see keep_freed_memory).
KEEP_FREED_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep and reuse freed memory in this process instead of handing
    each large block back to the system (``mallopt``: mmap and trim thresholds of 1 GiB);
    whether it applied (False off Linux/glibc).

    For a process that only profiles data (``tuirecipe data``): the profile allocates and
    frees arrays of tens of MB one after another (numpy takes them from malloc), and each
    new block otherwise comes back as fresh pages the kernel must zero on first touch.
    Measured on 1M distinct rows: 0.85M -> 0.40M page faults, about 1 s less system time
    and 0.9 s less wall time, the same peak memory. Process-wide, so only a command that
    does nothing else calls it.
    """
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8
    applied = mallopt(m_mmap_threshold, KEEP_FREED_BYTES) == 1
    applied = mallopt(m_trim_threshold, KEEP_FREED_BYTES) == 1 and applied
    # One arena for every thread: what one thread frees (pyarrow's reader threads, the
    # helper threads) is then reused by the others, instead of kept apart per thread
    # (measured: 1.42 -> 1.11 GB peak, 0.35 s less system time).
    return mallopt(m_arena_max, 1) == 1 and applied


def profile_cache_dir(config: Config) -> Path:
    root = os.environ.get("TUIRECIPE_CACHE")
    base = Path(root).expanduser() if root else config.runs_path / ".cache"
    return base / "profiles"


def load_dataset(config: Config, start_checks: bool = False) -> LoadedDataset:
    """Load the data file (and dev file) and split as ``prepare_data`` would.

    ``start_checks``: the caller profiles the data next (:func:`profile_dataset`), so the
    profile's checks of the distinct raw texts start in a helper thread while the split
    runs.
    """
    path = resolve_data_path(config)
    # scikit-learn takes a second or more of CPU to import (the split and the clusters
    # use it), holding the GIL: imported in a helper thread while the texts are encoded,
    # work done without the GIL. Not while the file is read: the reader's own Python
    # steps would wait for the GIL at every turn (measured: 0.65 s became 1.2 s).
    # (A bad file's error is not held up waiting for the import.)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imports")
    try:
        return _load_and_split(config, path, pool, start_checks)
    finally:
        pool.shutdown(wait=False)


def _import_sklearn(task: str) -> None:
    if task == "classification":
        import sklearn.model_selection  # noqa: F401
    from tuirecipe.data.profile import clusters

    clusters.prepare()


def _load_and_split(
    config: Config, path: Path, imports: ThreadPoolExecutor, start_checks: bool = False
) -> LoadedDataset:
    cfg = config.data
    table = load_table(path, cfg)
    imported = imports.submit(_import_sklearn, cfg.task)
    frame = table.frame
    notes = list(table.report.notes)
    skipped = len(table.report.skipped)
    skipped_rows = [_skipped_item(s) for s in table.report.skipped]
    if cfg.dev_path:
        dev_table = load_table(
            config.resolve_path(cfg.dev_path), cfg, key="data.dev_path", require_classes=False
        )
        notes += dev_table.report.notes
        skipped_rows += [_skipped_item(s, "dev file") for s in dev_table.report.skipped]
        return LoadedDataset(
            path,
            table.report.sha256,
            frame,
            frame,
            dev_table.frame,
            dev_table.report.sha256,
            notes,
            skipped,
            None,
            skipped_rows,
            config.resolve_path(cfg.dev_path),
        )
    # The split's groups are the profile's first two levels: computed once, kept for it.
    codes = encode_levels(frame["text"]) if cfg.split_groups != "none" else None
    if codes is not None and start_checks:
        # The profile's checks of the distinct raw texts run meanwhile on the other core.
        checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="text-checks")
        codes.started = start_text_checks(codes, row_numbers(frame), row_lines(frame), checks)
        checks.shutdown(wait=False)
    imported.result()
    _, dev_idx = stratified_split(
        frame["label"],
        cfg.dev_fraction,
        config.seed,
        cfg.task,
        groups=None if codes is None else codes.by_level([cfg.split_groups])[cfg.split_groups],
    )
    loaded = LoadedDataset(
        path,
        table.report.sha256,
        frame,
        None,
        None,
        "",
        notes,
        skipped,
        _split_codes(len(frame), dev_idx),
        skipped_rows,
        split_groups=cfg.split_groups,
        text_codes=codes,
    )
    return loaded


def _split_codes(n: int, dev_idx: np.ndarray) -> np.ndarray:
    split = np.zeros(n, dtype=np.int8)
    split[dev_idx] = 1
    return split


def _skipped_item(skipped: object, file: str = "") -> dict:
    item = {
        "row": int(getattr(skipped, "row", 0)),
        "line": int(getattr(skipped, "line", 0) or getattr(skipped, "row", 0)),
        "reason": str(getattr(skipped, "reason", "")),
    }
    if file:
        item["file"] = file
    return item


@lru_cache(maxsize=1)
def code_version() -> str:
    """sha256 over the source of the data package: a change to how data are loaded, split
    or profiled gives a fresh profile instead of a stale cached one."""
    import tuirecipe.data as package

    digest = hashlib.sha256()
    root = Path(package.__file__).parent
    for source in sorted(root.rglob("*.py")):
        digest.update(source.relative_to(root).as_posix().encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def profile_fingerprint(config: Config, data: LoadedDataset) -> str:
    """Everything the profile depends on besides its own options: the data file(s), every
    ``[data]`` setting (columns, task, encoding, format, header, lowercase, max_len,
    vocabulary limits, dev_path / dev_fraction, split grouping), the seed and the code."""
    settings = dataclasses.asdict(config.data)
    return (
        f"{data.fingerprint}:data={sorted(settings.items())!r}:seed={config.seed}"
        f":code={code_version()}"
    )


def profile_dataset(
    config: Config, data: LoadedDataset, progress: Progress | None = None
) -> DatasetProfile:
    cfg = config.data
    where: dict[str, Any] = (
        {"split": data.split, "text_codes": data.text_codes}
        if data.split is not None
        else {"dev": data.dev}
    )
    started = data.text_codes.started if data.text_codes is not None else {}
    data.text_codes = None  # used once: the profile (or its cache) replaces it
    if cfg.encoder:
        features = EncoderFeatures.from_config(config, progress)
        where.update(cluster_features=features, cluster_encoder=features.folder.key())
    profile = profile_cached(
        data.frame,
        fingerprint=profile_fingerprint(config, data),
        cache_dir=profile_cache_dir(config),
        task=cfg.task,
        max_len=cfg.max_len,
        lowercase=cfg.lowercase,
        scope=data.scope,
        skipped=data.skipped_rows,
        progress=progress,
        **where,
    )
    for check in started.values():  # a cached profile leaves them unused
        check.cancel()
    return profile


class EncoderFeatures:
    """Cluster features from ``data.encoder``: sentence embeddings of the sampled texts,
    computed in a child process (torch never loads in the caller, which may be the
    console) on the GPU when there is one, and kept on disk beside the profiles by the
    encoder and the texts (:func:`tuirecipe.data.encoders.embed_in_subprocess`)."""

    def __init__(
        self, folder: Any, cache_dir: Path, max_len: int, progress: Progress | None = None
    ) -> None:
        self.folder, self.cache_dir, self.max_len = folder, cache_dir, max_len
        self.progress = progress
        self.__name__ = f"{folder.name} embeddings ({folder.pooling} pooling)"

    @classmethod
    def from_config(cls, config: Config, progress: Progress | None = None) -> EncoderFeatures:
        from tuirecipe.data.encoders import inspect_folder, require_extra

        require_extra("data.encoder", config.source)
        folder = inspect_folder(
            config.resolve_path(config.data.encoder), key="data.encoder", source=config.source
        )
        cache = profile_cache_dir(config).parent / "embeddings"
        return cls(folder, cache, config.data.max_len, progress)

    def __call__(self, texts: list[str]) -> np.ndarray:
        from tuirecipe.data.encoders import embed_in_subprocess

        def report(done: int, total: int) -> None:
            if self.progress is not None:
                self.progress(
                    0.75 + 0.2 * done / max(total, 1),
                    f"embedding texts with {self.folder.name}: {done:,} of {total:,}",
                )

        return embed_in_subprocess(
            self.folder, texts, cache_dir=self.cache_dir, max_len=self.max_len, progress=report
        )


def profile_config(
    config: Config, progress: Progress | None = None
) -> tuple[LoadedDataset, DatasetProfile]:
    data = load_dataset(config, start_checks=True)
    return data, profile_dataset(config, data, progress)
