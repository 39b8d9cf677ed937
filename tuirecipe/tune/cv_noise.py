"""A ``tuirecipe cv`` run as the label-noise estimate's probability source.

Each fold model predicts its own validation fold (``validation_outputs.npy``), so every
training row gets probabilities from the one model that did not train on it; the held-out
(dev) rows get the mean of every fold model's probabilities (none trained on them). Those
feed :func:`tuirecipe.data.label_noise.estimate_from_probabilities` in place of the TF-IDF
default: the estimate then judges labels with the project's own model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tuirecipe.errors import UserError
from tuirecipe.tune.cv import FOLD_FILE, HELDOUT_FILE, VALIDATION_FILE

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.config import Config
    from tuirecipe.data.label_noise import LabelNoise
    from tuirecipe.data.profiling import LoadedDataset


def cv_probabilities(parent: Path) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """``(source rows, probabilities, class names, description)`` from the cv run at
    ``parent`` (the parent run directory, holding ``summary.json``)."""
    name = parent.name
    try:
        summary = json.loads((parent / "summary.json").read_text(encoding="utf-8"))
        folds = [str(f["run"]) for f in summary["folds"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{parent}: not a finished cv run ({type(exc).__name__}: {exc})") from exc
    rows: list[np.ndarray] = []
    probs: list[np.ndarray] = []
    held: list[np.ndarray] = []
    held_rows: np.ndarray | None = None
    classes: list[str] = []
    for fold in folds:
        path = parent.parent / fold
        try:
            result: dict[str, Any] = json.loads((path / FOLD_FILE).read_text(encoding="utf-8"))
            on_val = np.load(path / VALIDATION_FILE)
            val_rows = np.asarray(result["validation_rows"], dtype=np.int64)
        except (OSError, ValueError, KeyError) as exc:
            raise UserError(
                f"cv run {name}: fold {fold} has no validation-fold probabilities (a cv run "
                "from before they were saved, or a failed fold); run tuirecipe cv again"
            ) from exc
        classes = [str(c) for c in result.get("label_names", [])]
        rows.append(val_rows)
        probs.append(on_val)
        held_path = path / HELDOUT_FILE
        if held_path.is_file() and "heldout_rows" in result:
            held.append(np.load(held_path))
            held_rows = np.asarray(result["heldout_rows"], dtype=np.int64)
    if held and held_rows is not None and len(held_rows):
        rows.append(held_rows)
        probs.append(np.mean(np.stack(held), axis=0))
    description = (
        f"tuirecipe cv run {name} ({len(folds)} folds): each training row's probabilities "
        "from the fold model that held it out, each dev row's the mean over the fold models"
    )
    return np.concatenate(rows), np.concatenate(probs), classes, description


def label_noise_from_cv(config: Config, data: LoadedDataset, run: str) -> LabelNoise:
    """The estimate with a ``tuirecipe cv`` run's out-of-fold probabilities (``run``: its
    id under the runs folder, or its path). Every row of the data file must be covered."""
    from tuirecipe.data.label_noise import estimate_from_probabilities
    from tuirecipe.data.label_noise_run import noise_scope

    parent = Path(run) if Path(run).is_dir() else config.runs_path / run
    rows, probs, classes, source = cv_probabilities(parent)
    frame = data.frame
    position = {int(r): i for i, r in enumerate(rows)}
    file_rows = frame["row"].to_numpy(np.int64)
    missing = [int(r) for r in file_rows if int(r) not in position]
    if missing:
        raise UserError(
            f"cv run {parent.name} has no out-of-fold probabilities for row {missing[0]} of "
            f"{data.path.name} ({len(missing):,} rows in all): a cv run on another file?"
        )
    index = {c: i for i, c in enumerate(classes)}
    labels = frame["label"].astype(str).tolist()
    unknown = sorted({label for label in labels if label not in index})
    if unknown:
        raise UserError(f"cv run {parent.name} does not know the label {unknown[0]!r}")
    take = np.asarray([position[int(r)] for r in file_rows], dtype=np.int64)
    return estimate_from_probabilities(
        np.asarray([index[label] for label in labels], dtype=np.int64),
        probs[take],
        classes=classes,
        rows=file_rows,
        source=source,
        scope=noise_scope(data),
        settings={"source": "cv", "run": parent.name},
    )
