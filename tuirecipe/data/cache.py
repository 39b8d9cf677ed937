"""Prepared data kept on disk, so the runs of a search, sweep, seeds or cv do not each pay
for loading, splitting, the vocabulary and the encoding again.

:func:`prepare_cached` returns what ``prepare_data(config, augment=False)`` returns, read
from ``<runs>/.cache/prepared/<key>.npz`` when an entry for the same preparation exists,
and made (then written) otherwise. The key is a SHA-256 over everything the preparation
depends on: the content of the data file (and dev file), every ``[data]`` setting, the
seed when the dev set is split off the data, the source of :mod:`tuirecipe.data` and the
numpy / pandas versions. Augmentation is not cached: it is applied to the cached
training split afterwards, as :func:`~tuirecipe.data.prepare.prepare_data` does.

An entry is one uncompressed ``.npz`` file (arrays, the texts as UTF-8 bytes with
offsets, and a JSON header), never a pickle, so reading one runs no code. It is written
atomically; a process that finds no entry holds a lock on the key while it prepares, so
trials started together prepare once. An entry that cannot be read back whole (a crash,
a full disk, a changed format) is removed and made again, never an error. The folder is
kept under a size cap (``TUIRECIPE_DATA_CACHE_MB``, default 2048): the least recently
used entries go first.

Why not joblib.Memory: it pickles, keys on the function's arguments (a config object,
not the data file's content) and has no lock, so concurrent trials would all prepare.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tuirecipe.config import Config
from tuirecipe.fileio import atomic_write

FORMAT = 1  # bump when the entry layout changes
CACHE_ENV = "TUIRECIPE_DATA_CACHE"  # "1": workers use the cache (a pool sets it); "0": never
CAP_ENV = "TUIRECIPE_DATA_CACHE_MB"
DEFAULT_CAP_MB = 2048
_STALE_TEMP_S = 3600.0  # a temporary file this old was left by a killed writer
_DATA_PACKAGE = Path(__file__).resolve().parent
_SPLITS = ("train", "dev")
_ARRAYS = ("ids", "lengths", "targets", "rows")


@dataclass
class CacheUse:
    """How a preparation went: ``hit`` (read back), ``key``, the entry's ``path``, and
    ``damaged`` (an unreadable entry was found, removed and made again)."""

    hit: bool
    key: str
    path: Path
    damaged: bool = False
    written: bool = False

    def record(self) -> dict[str, Any]:
        """For ``meta.json`` (``data_cache``)."""
        return {
            "hit": self.hit,
            "key": self.key,
            "path": str(self.path),
            "damaged": self.damaged,
            "written": self.written,
        }


def cache_enabled() -> bool:
    """Whether this process was asked to use the cache (a worker pool's children are)."""
    return os.environ.get(CACHE_ENV, "") == "1"


def cache_dir(config: Config) -> Path:
    return config.runs_path / ".cache" / "prepared"


def cap_bytes() -> int:
    raw = os.environ.get(CAP_ENV, "")
    mb = int(raw) if raw.isdigit() else DEFAULT_CAP_MB
    return mb * 1024 * 1024


# ---------------------------------------------------------------------------------------
# the key


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


_code_digest: str | None = None


def code_version() -> str:
    """A digest of the data package's source: any change to how data is prepared (or to
    this file) gives new keys."""
    global _code_digest
    if _code_digest is None:
        digest = hashlib.sha256()
        for path in sorted(_DATA_PACKAGE.rglob("*.py")):
            digest.update(str(path.relative_to(_DATA_PACKAGE)).encode())
            digest.update(path.read_bytes())
        _code_digest = digest.hexdigest()
    return _code_digest


def cache_key(config: Config) -> str:
    """The key of ``config``'s prepared data (without augmentation)."""
    import pandas as pd

    from tuirecipe.data.prepare import resolve_data_path

    data = config.data
    path = resolve_data_path(config)
    settings = dataclasses.asdict(data)
    # Resolved: a search's config names "a.csv", its trials' resolved configs the full
    # path; both prepare the same (and the path is in the stored load report).
    settings["path"] = str(path)
    parts: dict[str, Any] = {
        "format": FORMAT,
        "code": code_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "data": settings,
        "file": _file_sha256(path),
        # the split's seed matters only when dev is split off the data
        "seed": None if data.dev_path else config.seed,
    }
    if config.model.name == "pretrained":  # the encoder's own tokenizer encodes the rows
        from tuirecipe.data.encoders import inspect_folder

        folder = config.resolve_path(config.model.encoder)
        parts["tokenizer"] = inspect_folder(folder, source=config.source).key()
    if data.dev_path:
        dev = config.resolve_path(data.dev_path)
        settings["dev_path"] = str(dev)
        parts["dev_file"] = _file_sha256(dev)
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# ---------------------------------------------------------------------------------------
# writing and reading an entry


def _texts_arrays(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    encoded = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _texts_from(blob: np.ndarray, offsets: np.ndarray) -> list[str]:
    raw = blob.tobytes()
    return [raw[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)]


def _header(data: Any, key: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "key": key,
        "task": data.task,
        "vocab": {"itos": data.vocab.itos, "lowercase": data.vocab.lowercase},
        "label_names": list(data.label_names),
        "report": dataclasses.asdict(data.report),
        "dev_report": dataclasses.asdict(data.dev_report) if data.dev_report else None,
        "target_mean": data.target_mean,
        "target_std": data.target_std,
        "class_counts": list(data.class_counts),
        "max_len": data.max_len,
        "split_groups": data.split_groups,
        "splits": {
            name: {
                "truncated": getattr(data, name).truncated,
                "unk_rate": getattr(data, name).unk_rate,
                "n": len(getattr(data, name)),
            }
            for name in _SPLITS
        },
    }


def write_entry(path: Path, data: Any, key: str) -> None:
    """``data`` (a PreparedData) as the entry ``path``, atomically."""
    arrays: dict[str, Any] = {}  # Any: numpy types savez's keywords as bool
    for name in _SPLITS:
        split = getattr(data, name)
        for field in _ARRAYS:
            arrays[f"{name}.{field}"] = np.asarray(getattr(split, field))
        blob, offsets = _texts_arrays(split.texts)
        arrays[f"{name}.text_bytes"], arrays[f"{name}.text_offsets"] = blob, offsets
    header = json.dumps(_header(data, key), ensure_ascii=False).encode("utf-8")
    arrays["header"] = np.frombuffer(header, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda handle: np.savez(handle, **arrays))


def read_entry(path: Path, key: str) -> Any:
    """The PreparedData stored in ``path``; raises (anything) when the entry is not whole
    or not for ``key``. Each member's CRC is checked as it is read."""
    from tuirecipe.data.loading import LoadReport, SkippedRow
    from tuirecipe.data.prepare import PreparedData, Split
    from tuirecipe.data.tokenize import Vocab

    with np.load(path, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    header = json.loads(arrays.pop("header").tobytes().decode("utf-8"))
    if header.get("format") != FORMAT or header.get("key") != key:
        raise ValueError("entry of another format or key")

    def report(table: dict[str, Any] | None) -> LoadReport | None:
        if table is None:
            return None
        skipped = [SkippedRow(**row) for row in table.pop("skipped")]
        return LoadReport(**table, skipped=skipped)

    splits = {}
    for name in _SPLITS:
        info = header["splits"][name]
        texts = _texts_from(arrays[f"{name}.text_bytes"], arrays[f"{name}.text_offsets"])
        split = Split(
            ids=arrays[f"{name}.ids"],
            lengths=arrays[f"{name}.lengths"],
            targets=arrays[f"{name}.targets"],
            texts=texts,
            rows=arrays[f"{name}.rows"],
            truncated=int(info["truncated"]),
            unk_rate=float(info["unk_rate"]),
        )
        sizes = {len(texts), len(split.ids), len(split.lengths), len(split.targets)}
        if sizes != {info["n"]} or len(split.rows) != info["n"]:
            raise ValueError(f"{name} split sizes disagree")
        splits[name] = split
    main_report = report(header["report"])
    assert main_report is not None
    vocab = Vocab(list(header["vocab"]["itos"]), bool(header["vocab"]["lowercase"]))
    return PreparedData(
        task=header["task"],
        train=splits["train"],
        dev=splits["dev"],
        vocab=vocab,
        label_names=list(header["label_names"]),
        report=main_report,
        dev_report=report(header["dev_report"]),
        target_mean=float(header["target_mean"]),
        target_std=float(header["target_std"]),
        class_counts=[int(c) for c in header["class_counts"]],
        max_len=int(header["max_len"]),
        split_groups=str(header["split_groups"]),
    )


# ---------------------------------------------------------------------------------------
# the cache


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (a lock file) while the block runs; none where the
    platform has no ``fcntl`` (the worst case is then two processes preparing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _try_read(path: Path, key: str) -> tuple[Any, bool]:
    """(data, damaged): the entry read back, or None and whether a damaged one was
    removed."""
    if not path.exists():
        return None, False
    try:
        data = read_entry(path, key)
    except Exception:  # noqa: BLE001 - any unreadable entry is made again
        try:
            path.unlink()
        except OSError:
            pass
        return None, True
    try:
        os.utime(path)  # recently used: the cap removes it last
    except OSError:
        pass
    return data, False


def prune(folder: Path, cap: int, keep: Path | None = None) -> list[Path]:
    """Remove the least recently used entries until the folder holds at most ``cap``
    bytes (``keep`` is never removed), and temporary files left by killed writers.
    Returns what it removed."""
    removed: list[Path] = []
    now = time.time()
    entries = []
    for path in folder.iterdir() if folder.is_dir() else []:
        try:
            st = path.stat()
        except OSError:
            continue
        if path.name.endswith(".tmp"):
            if now - st.st_mtime > _STALE_TEMP_S:
                path.unlink(missing_ok=True)
                removed.append(path)
        elif path.suffix == ".npz":
            entries.append((st.st_mtime, st.st_size, path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= cap:
            break
        if keep is not None and path == keep:
            continue
        try:
            path.unlink()
            path.with_suffix(".lock").unlink(missing_ok=True)
        except OSError:
            continue
        total -= size
        removed.append(path)
    return removed


def prepare_cached(config: Config, folder: Path | None = None) -> tuple[Any, CacheUse]:
    """``prepare_data(config, augment=False)``, through the cache in ``folder`` (default
    :func:`cache_dir`). A cache that cannot be written (a read-only or full disk) is
    skipped: the data is still returned."""
    from tuirecipe.data.prepare import prepare_data

    folder = folder if folder is not None else cache_dir(config)
    try:
        key = cache_key(config)
    except OSError:  # an unreadable data file: prepare_data names it in its own words
        return prepare_data(config, augment=False), CacheUse(False, "", folder)
    path = folder / f"{key}.npz"
    data, damaged = _try_read(path, key)
    if data is not None:
        return data, CacheUse(True, key, path)
    written = False
    with ExitStack() as stack:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            stack.enter_context(_locked(folder / f"{key}.lock"))
        except OSError:  # no folder or no lock here: prepare without them
            pass
        # another process may have written it while this one waited for the lock
        data, damaged_now = _try_read(path, key)
        damaged = damaged or damaged_now
        if data is not None:
            return data, CacheUse(True, key, path, damaged)
        data = prepare_data(config, augment=False)
        try:
            write_entry(path, data, key)
            written = True
        except Exception:  # noqa: BLE001 - a cache that cannot be written is only slower
            pass
    if written:
        try:
            prune(folder, cap_bytes(), keep=path)
        except OSError:
            pass
    return data, CacheUse(False, key, path, damaged, written)
