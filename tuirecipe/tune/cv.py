"""Stratified k-fold cross-validation, and the ensemble of the fold models.

The data's dev split (``data.dev_path`` or ``data.dev_fraction``) is held out; the
training split is cut into ``k`` stratified folds, each copy of a text (as
``data.split_groups`` defines copies) in one fold. Fold ``i`` is an ordinary worker run
(job ``cv_fold``, its own run directory with every event): it trains on the other folds,
evaluates on fold ``i`` (its "dev" curve), and writes its probabilities on the held-out
split. The parent "cv" run then reports per-fold metrics, their mean ± std, each fold
model on the held-out split, and the ensemble (the mean of the members' probabilities;
the mean prediction for regression) with its gain over the single models.

All folds share the vocabulary built from the whole training split, so the fold models'
held-out inputs are identical; labels never cross folds. Augmentation (``[augment]``) is
applied to each fold's training part only, never to its validation fold.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np

from tuirecipe.config import Config
from tuirecipe.runs.launch import prepare_run
from tuirecipe.runs.rundir import RunDir, atomic_write_text
from tuirecipe.tune.pool import make_pool
from tuirecipe.tune.records import (
    finish_parent_run,
    make_parent_run,
    parent_guard,
    trial_result,
)
from tuirecipe.tune.seeds import mean_std

HELDOUT_FILE = "heldout_outputs.npy"
FOLD_FILE = "fold_result.json"


# ---------------------------------------------------------------------------------------
# pure helpers (tested directly)


def subset(split: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of a prepared split."""
    index = np.asarray(index, dtype=np.int64)
    return dataclasses.replace(
        split,
        ids=split.ids[index],
        lengths=split.lengths[index],
        targets=split.targets[index],
        texts=[split.texts[i] for i in index],
        rows=split.rows[index],
    )


def ensemble_outputs(member_outputs: list[np.ndarray]) -> np.ndarray:
    """The ensemble's output: the mean of its members' probabilities (or predictions)."""
    return np.mean(np.stack(member_outputs), axis=0)


def score(outputs: np.ndarray, targets: np.ndarray, task: str) -> dict[str, float]:
    """Accuracy and log loss of probabilities; MSE/MAE of regression predictions."""
    targets = np.asarray(targets)
    if task == "classification":
        p = np.clip(outputs[np.arange(len(targets)), targets], 1e-12, 1.0)
        return {
            "acc": float((outputs.argmax(1) == targets).mean()),
            "loss": float(-np.log(p).mean()),
        }
    err = outputs.reshape(-1) - targets.astype(float)
    return {
        "mse": float((err**2).mean()),
        "mae": float(np.abs(err).mean()),
        "loss": float((err**2).mean()),
    }


# ---------------------------------------------------------------------------------------
# the fold job (runs in a worker)


def run_fold_job(ctx: Any) -> str:
    """Worker job ``cv_fold``: train on k-1 folds, validate on one, predict held-out."""
    import torch

    from tuirecipe.data.augment import augment_split
    from tuirecipe.data.splits import split_group_codes, stratified_kfold
    from tuirecipe.events import EvalMetrics
    from tuirecipe.train.batches import SplitTensors, predict
    from tuirecipe.train.job import load_data, prepare_training, run_training

    config: Config = ctx.config
    fold, k = int(ctx.args["fold"]), int(ctx.args["k"])
    data = load_data(ctx, augment=False, message=f"loading data (fold {fold + 1} of {k})")
    heldout = data.dev
    groups = split_group_codes(data.train.texts, config.data.split_groups)
    folds = stratified_kfold(data.train.targets, k, config.seed, data.task, groups=groups)
    train_idx, val_idx = folds[fold]
    fold_train = augment_split(
        subset(data.train, train_idx), data.vocab, config.augment, config.seed, config.data.max_len
    )
    counts = (
        np.bincount(data.train.targets[train_idx], minlength=len(data.label_names)).tolist()
        if data.task == "classification"
        else []
    )
    fold_data = dataclasses.replace(
        data, train=fold_train, dev=subset(data.train, val_idx), class_counts=counts
    )
    trainer = prepare_training(
        ctx,
        fold_data,
        describe=f"fold {fold + 1}/{k}: {len(fold_train):,} train / {len(val_idx):,} "
        f"validation / {len(heldout):,} held-out rows",
        sizes={"heldout": len(heldout)},
        fold={"index": fold, "k": k},
    )
    result = run_training(trainer, config)
    model, device = trainer.model, trainer.device
    out = predict(
        model,
        SplitTensors.from_split(heldout, data.task, device, int(data.vocab.pad_id)),
        batch_size=config.train.batch_size,
    )
    outputs = (
        (torch.softmax(out, 1) if data.task == "classification" else out.reshape(-1))
        .numpy()
        .astype(np.float64)
    )
    np.save(ctx.run.path / HELDOUT_FILE, outputs)
    held = score(outputs, heldout.targets, data.task)
    ctx.emit(
        EvalMetrics(
            step=trainer.step,
            epoch=trainer.step / trainer.steps_per_epoch,
            split="heldout",
            metrics=held,
            n=len(heldout),
        )
    )
    atomic_write_text(
        ctx.run.path / FOLD_FILE,
        json.dumps(
            {
                "fold": fold,
                "k": k,
                "state": result.state,
                "steps": result.steps,
                "validation_best": {k_: v for k_, v in result.best_eval.items() if k_ != "ci"},
                "validation_final": {k_: v for k_, v in result.final_eval.items() if k_ != "ci"},
                "heldout": held,
                "heldout_targets": np.asarray(heldout.targets).tolist(),
            }
        )
        + "\n",
    )
    return result.state


# ---------------------------------------------------------------------------------------
# orchestration (the CLI side)


def run_cv(
    config: Config, k: int, *, parallel: int | None = None, motivation: str = ""
) -> dict[str, Any]:
    """Run ``k`` fold runs and aggregate them in a parent "cv" run."""
    pool = make_pool(parallel, config.train.device)
    parent = make_parent_run(config, "cv", {"k": k}, motivation)
    runs = [
        prepare_run(
            config,
            "cv_fold",
            parent=parent,
            args={"fold": i, "k": k},
            motivation=motivation or f"cv fold {i + 1}/{k}",
        )
        for i in range(k)
    ]
    with parent_guard(parent):
        pool.run(runs)
    summary = summarize_folds(runs, config.data.task)
    summary["parent"] = parent.id
    failed = [f["run"] for f in summary["folds"] if f["state"] != "finished"]
    finish_parent_run(parent, summary, state="failed" if failed else "finished")
    return summary


def summarize_folds(runs: list[RunDir], task: str) -> dict[str, Any]:
    folds, outputs, targets = [], [], None
    for run in runs:
        info = trial_result(run)
        path = run.path / FOLD_FILE
        if path.is_file() and (run.path / HELDOUT_FILE).is_file():
            result = json.loads(path.read_text(encoding="utf-8"))
            info.update(validation=result["validation_best"], heldout=result["heldout"])
            outputs.append(np.load(run.path / HELDOUT_FILE))
            targets = np.asarray(result["heldout_targets"])
        folds.append(info)
    metric = "acc" if task == "classification" else "mse"
    val = [f["validation"].get(metric, math.nan) for f in folds if "validation" in f]
    single = [f["heldout"][metric] for f in folds if "heldout" in f]
    summary: dict[str, Any] = {"metric": metric, "folds": folds}
    summary["validation_mean"], summary["validation_std"] = mean_std(val)
    summary["heldout_single_mean"], summary["heldout_single_std"] = mean_std(single)
    if outputs and targets is not None:
        ens = score(ensemble_outputs(outputs), targets, task)
        summary["ensemble"] = ens
        sign = 1 if metric == "acc" else -1  # a gain is better: higher acc, lower mse
        summary["ensemble_gain_over_mean"] = sign * (ens[metric] - float(np.mean(single)))
        best_single = max(single) if metric == "acc" else min(single)
        summary["ensemble_gain_over_best"] = sign * (ens[metric] - best_single)
        summary["members"] = len(outputs)
    return summary
