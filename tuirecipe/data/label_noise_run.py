"""The label-noise estimate of the dataset a config names, cached beside the profile.

One function for the console's Data pane and ``tuirecipe data --label-noise``:
:func:`label_noise_for` estimates on every usable row of the data file (both splits
together: a wrong label is wrong wherever the split puts it), with the profile's duplicate
groups as fold groups, and caches the result under the profile cache folder, keyed like
the profile (:func:`~tuirecipe.data.profiling.profile_fingerprint`: the file, every
``[data]`` setting, the seed, the code) plus the estimate's own settings. The cache is
``noise-<key>.json`` (the section) and ``noise-<key>.npz`` (the per-row arrays); a bad
entry is recomputed, never fatal.

``in_subprocess=True`` fits the folds in a separate process (``python -m
tuirecipe.data.label_noise_run IN OUT``): scikit-learn's vectoriser and solver hold the GIL
for seconds, which would stall the console's event loop if run in one of its threads. Not
``multiprocessing``: its ``spawn`` re-runs the parent's main script, which a user's script
without a ``__main__`` guard turns into a crash, and ``fork`` from a threaded console is
unsafe. The child reads its input from a pickle this process wrote in the cache folder and
writes the cache entry; a short-lived computation with no run directory, so not a job of
:class:`~tuirecipe.runs.jobs.JobClient`.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tuirecipe.data.label_noise import (
    DEFAULT_FOLDS,
    LabelNoise,
    Progress,
    estimate_label_noise,
    noise_settings,
)
from tuirecipe.fileio import atomic_write_bytes

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.config import Config
    from tuirecipe.data.profile import DatasetProfile
    from tuirecipe.data.profiling import LoadedDataset

_ARRAYS = ("issue", "suggested", "confidence", "quality", "rows")


def noise_scope(data: LoadedDataset) -> str:
    """What the estimate covers, in words (the count's scope)."""
    n = len(data.frame)
    if data.dev_path is not None:
        return (
            f"whole file: every usable row of {data.path.name} ({n:,}); the dev file "
            f"{data.dev_path.name} is not included"
        )
    return (
        f"whole file: every usable row of {data.path.name} ({n:,}), train and dev splits together"
    )


def _groups(profile: DatasetProfile | None, data: LoadedDataset) -> np.ndarray:
    from tuirecipe.data.cleaning import text_groups
    from tuirecipe.data.row_flags import file_groups

    groups = file_groups(profile, len(data.frame)) if profile is not None else None
    return groups if groups is not None else text_groups(data.frame["text"])


def noise_cache_path(config: Config, data: LoadedDataset, settings: dict[str, Any]) -> Path:
    from tuirecipe.data.profiling import profile_cache_dir, profile_fingerprint

    payload = json.dumps(
        {"profile": profile_fingerprint(config, data), "rows": len(data.frame), **settings},
        sort_keys=True,
        default=str,
    )
    key = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    return profile_cache_dir(config) / f"noise-{key}.json"


def save_noise(noise: LabelNoise, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"section": noise.section, "classes": noise.classes}
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as tmp:
        np.savez(tmp, **{name: getattr(noise, name) for name in _ARRAYS})
    os.replace(tmp.name, path.with_suffix(".npz"))
    atomic_write_bytes(path, json.dumps(document, ensure_ascii=False).encode("utf-8"))


def load_noise(path: Path, n: int) -> LabelNoise | None:
    """The cached estimate for ``n`` rows, or None when absent, unreadable or stale."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        with np.load(path.with_suffix(".npz")) as arrays:
            values = {name: arrays[name] for name in _ARRAYS}
        noise = LabelNoise(
            section=dict(document["section"]), classes=list(document["classes"]), **values
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if any(len(getattr(noise, name)) != n for name in _ARRAYS):
        return None
    return noise


def cached_label_noise(
    config: Config, data: LoadedDataset, folds: int = DEFAULT_FOLDS
) -> LabelNoise | None:
    """The estimate when the cache already holds it for this data and settings (reads a
    file, computes nothing), else None."""
    if config.data.task != "classification":
        return None
    path = noise_cache_path(config, data, noise_settings(folds, config.seed, True))
    return load_noise(path, len(data.frame))


def _estimate_in_subprocess(
    texts: list[str],
    labels: list[str],
    kwargs: dict[str, Any],
    path: Path,
    cancelled: Callable[[], bool] | None = None,
) -> LabelNoise | None:
    """Run :func:`estimate_label_noise` in a child process that saves to ``path``; None
    when ``cancelled()`` turned true meanwhile (the child is then ended)."""
    from tuirecipe.data.label_noise import NotApplicable

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix="noise-job-") as folder:
        job = Path(folder) / "input.pickle"
        out = Path(folder) / "noise.json"
        with open(job, "wb") as handle:
            pickle.dump({"texts": texts, "labels": labels, "kwargs": kwargs}, handle, protocol=5)
        errors = Path(folder) / "stderr.txt"
        with open(errors, "wb") as stderr:
            child = subprocess.Popen(
                [sys.executable, "-m", "tuirecipe.data.label_noise_run", str(job), str(out)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
            try:
                while True:
                    try:
                        code = child.wait(timeout=0.25)
                        break
                    except subprocess.TimeoutExpired:
                        if cancelled is not None and cancelled():
                            child.kill()  # our own child, through its handle
                            child.wait()
                            return None
            except BaseException:
                child.kill()
                child.wait()
                raise
        noise = load_noise(out, len(texts)) if code == 0 else None
        if noise is None:
            text = errors.read_text(encoding="utf-8", errors="replace").strip()
            last = (text.splitlines() or ["no output"])[-1]
            if code == 3:  # the child's NotApplicable: its one line
                raise NotApplicable(last)
            raise RuntimeError(f"the label-noise process failed ({code}): {last}")
    return noise


def label_noise_for(
    config: Config,
    data: LoadedDataset,
    profile: DatasetProfile | None = None,
    *,
    folds: int = DEFAULT_FOLDS,
    progress: Progress | None = None,
    in_subprocess: bool = False,
    cancelled: Callable[[], bool] | None = None,
) -> LabelNoise | None:
    """The estimate for the loaded data, from the cache when it is there. In a
    subprocess, ``cancelled()`` is polled: when it turns true the child is ended and the
    answer is None.

    Raises :class:`~tuirecipe.data.label_noise.NotApplicable` (one line) for regression,
    a single class or too few rows.
    """
    from tuirecipe.data.label_noise import check_applicable, encode_labels

    frame = data.frame
    if config.data.task != "classification":
        check_applicable(config.data.task, np.zeros(0), 0, folds)
    ids, classes = encode_labels(frame["label"].to_numpy())
    check_applicable("classification", ids, len(classes), folds)
    settings = noise_settings(folds, config.seed, True)
    path = noise_cache_path(config, data, settings)
    cached = load_noise(path, len(frame))
    if cached is not None:
        if progress is not None:
            progress(1.0, "label noise loaded from cache")
        return cached
    kwargs = {
        "task": "classification",
        "folds": folds,
        "seed": config.seed,
        "groups": _groups(profile, data),
        "rows": frame["row"].to_numpy(np.int64),
        "scope": noise_scope(data),
    }
    texts = frame["text"].astype(str).tolist()
    labels = frame["label"].astype(str).tolist()
    if in_subprocess:
        if progress is not None:
            progress(0.05, f"label noise: {folds}-fold TF-IDF + logistic regression (worker)")
        noise = _estimate_in_subprocess(texts, labels, kwargs, path, cancelled)
        if noise is None:
            return None
        if progress is not None:
            progress(1.0, "label noise ready")
    else:
        noise = estimate_label_noise(texts, labels, progress=progress, **kwargs)
    try:
        save_noise(noise, path)
    except OSError:
        pass  # a read-only cache folder costs a recomputation next time, nothing more
    return noise


def noise_report(
    config: Config,
    data: LoadedDataset,
    profile: DatasetProfile | None = None,
    progress: Progress | None = None,
    *,
    in_subprocess: bool = False,
) -> dict[str, Any]:
    """The profile's ``label_noise`` section: the estimate's, or ``{"ran": False,
    "status", "message"}`` saying in one line why it does not apply."""
    from tuirecipe.data.label_noise import NotApplicable

    try:
        noise = label_noise_for(
            config, data, profile, progress=progress, in_subprocess=in_subprocess
        )
    except NotApplicable as exc:
        status = "does not apply" if config.data.task != "classification" else "not run"
        return {"ran": False, "status": status, "message": str(exc)}
    assert noise is not None  # only a cancelled subprocess gives None
    return noise.section


def _child(argv: list[str]) -> int:
    """The child process: read the input pickle, estimate, save beside ``OUT``."""
    from tuirecipe.data.label_noise import NotApplicable

    job, out = Path(argv[0]), Path(argv[1])
    with open(job, "rb") as handle:
        given = pickle.load(handle)  # written by the parent, in its own cache folder
    try:
        noise = estimate_label_noise(given["texts"], given["labels"], **given["kwargs"])
    except NotApplicable as exc:
        print(str(exc), file=sys.stderr)
        return 3
    save_noise(noise, out)
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
