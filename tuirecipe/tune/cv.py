"""Stratified k-fold cross-validation, and the ensemble of the fold models.

The data's dev split (``data.dev_path`` or ``data.dev_fraction``) is held out; the
training split is cut into ``k`` stratified folds, each copy of a text (as
``data.split_groups`` defines copies) in one fold. Fold ``i`` is an ordinary worker run
(job ``cv_fold``, its own run directory with every event): it trains on the other folds,
evaluates on fold ``i`` (its "dev" curve), and writes its probabilities on the held-out
split with the checkpoint it kept (``train.keep``: the best validation evaluation by
``train.monitor`` unless set to last). The parent "cv" run then reports per-fold metrics
(those of each fold's kept checkpoint), their mean ± std, each fold model on the held-out
split, and the ensemble (the mean of the members' probabilities; the mean prediction for
regression) with its gain over the single models and a 95 % interval for that gain.

Each fold builds its vocabulary from its own training part only (:func:`fold_data`), as a
run builds it from its training split: a word seen only in the validation fold is
``<unk>`` to that fold's model, so validation figures are not flattered. The held-out
split is encoded with each fold's own vocabulary. The label set is the whole training
split's, so every member has the same outputs. Augmentation (``[augment]``) is applied to
each fold's training part only, never to its validation fold.

The gain's interval is a paired bootstrap over the held-out rows: each row's score (correct
or not, its log loss or squared error) for the ensemble minus the mean of the members'
scores on that row (or the best member's), resampled with ``scipy.stats.bootstrap``
(percentile method, 2000 resamples, seeded). The same rows are drawn for the ensemble and
the members, so the noise they share cancels.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np

from tuirecipe.config import Config
from tuirecipe.monitor import METRIC_MODES
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
# the fold model's probabilities on its own validation fold (classification): every
# training row gets one from the model that did not train on it (the label-noise estimate's
# out-of-fold source, :mod:`tuirecipe.tune.cv_noise`)
VALIDATION_FILE = "validation_outputs.npy"
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


def encode_with(split: Any, vocab: Any, max_len: int) -> Any:
    """``split`` with its texts encoded by ``vocab`` (ids, lengths and counts replaced)."""
    from tuirecipe.data.tokenize import encode_texts

    encoded = encode_texts(vocab, list(split.texts), max_len)
    return dataclasses.replace(
        split,
        ids=encoded.ids,
        lengths=encoded.lengths,
        truncated=encoded.truncated,
        unk_rate=encoded.unk_rate,
    )


def fold_data(config: Config, data: Any, fold: int, k: int) -> tuple[Any, Any]:
    """Fold ``fold`` of ``k`` of prepared ``data`` (loaded without augmentation):
    ``(training data, held-out split)``. The training data's ``train`` is the other folds
    (augmented when ``[augment]`` is on), its ``dev`` the validation fold, its ``vocab``
    built from the training part alone; the held-out split is ``data.dev`` encoded with
    that vocabulary."""
    from tuirecipe.data.augment import augment_split
    from tuirecipe.data.splits import split_group_codes, stratified_kfold
    from tuirecipe.data.tokenize import Vocab

    cfg = config.data
    groups = split_group_codes(data.train.texts, cfg.split_groups)
    folds = stratified_kfold(data.train.targets, k, config.seed, data.task, groups=groups)
    train_idx, val_idx = folds[fold]
    train_part = subset(data.train, train_idx)
    # A pretrained encoder's tokenizer is fixed: nothing of the fold is in it.
    vocab = (
        Vocab.build(
            train_part.texts,
            lowercase=cfg.lowercase,
            min_freq=cfg.min_freq,
            max_size=cfg.max_vocab,
        )
        if isinstance(data.vocab, Vocab)
        else data.vocab
    )
    fold_train = augment_split(
        encode_with(train_part, vocab, cfg.max_len), vocab, config.augment, config.seed, cfg.max_len
    )
    counts = (
        np.bincount(data.train.targets[train_idx], minlength=len(data.label_names)).tolist()
        if data.task == "classification"
        else []
    )
    training = dataclasses.replace(
        data,
        train=fold_train,
        dev=encode_with(subset(data.train, val_idx), vocab, cfg.max_len),
        vocab=vocab,
        class_counts=counts,
    )
    return training, encode_with(data.dev, vocab, cfg.max_len)


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


def row_scores(outputs: np.ndarray, targets: np.ndarray, task: str, metric: str) -> np.ndarray:
    """Each row's share of :func:`score`'s ``metric``: their mean is that metric."""
    targets = np.asarray(targets)
    if task == "classification":
        if metric == "acc":
            return (outputs.argmax(1) == targets).astype(np.float64)
        p = np.clip(outputs[np.arange(len(targets)), targets], 1e-12, 1.0)
        return -np.log(p)
    err = outputs.reshape(-1) - targets.astype(float)
    return np.abs(err) if metric == "mae" else err**2


def gain_interval(
    member_outputs: list[np.ndarray],
    targets: np.ndarray,
    task: str,
    metric: str,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """The ensemble's gain in ``metric`` (positive = better) over the mean member and over
    the best member (chosen on all rows), each with a paired-bootstrap interval over the
    held-out rows (module doc). ``{"over_mean": g, "over_mean_ci": [lo, hi], "over_best",
    "over_best_ci", "method"}``; intervals are NaN with fewer than two rows."""
    from scipy.stats import bootstrap

    sign = 1.0 if METRIC_MODES.get(metric, "min") == "max" else -1.0
    ens = row_scores(ensemble_outputs(member_outputs), targets, task, metric)
    singles = np.stack([row_scores(m, targets, task, metric) for m in member_outputs])
    means = singles.mean(1)
    best = int(np.argmax(sign * means))
    out: dict[str, Any] = {
        "method": f"paired bootstrap over {len(ens)} held-out rows "
        f"(scipy.stats.bootstrap, percentile, {resamples} resamples)"
    }
    for name, diff in (
        ("over_mean", sign * (ens - singles.mean(0))),
        ("over_best", sign * (ens - singles[best])),
    ):
        out[name] = float(diff.mean())
        if len(diff) < 2 or np.all(diff == diff[0]):
            ci = [out[name], out[name]] if len(diff) >= 2 else [math.nan, math.nan]
        else:
            res = bootstrap(
                (diff,),
                np.mean,
                confidence_level=confidence,
                n_resamples=resamples,
                method="percentile",
                random_state=np.random.default_rng(seed),
            )
            ci = [float(res.confidence_interval.low), float(res.confidence_interval.high)]
        out[f"{name}_ci"] = ci
    return out


# ---------------------------------------------------------------------------------------
# the fold job (runs in a worker)


def run_fold_job(ctx: Any) -> str:
    """Worker job ``cv_fold``: train on k-1 folds, validate on one, predict held-out."""
    import torch

    from tuirecipe.events import EvalMetrics
    from tuirecipe.train.batches import SplitTensors, predict
    from tuirecipe.train.job import load_data, prepare_training, run_training

    config: Config = ctx.config
    fold, k = int(ctx.args["fold"]), int(ctx.args["k"])
    data = load_data(ctx, augment=False, message=f"loading data (fold {fold + 1} of {k})")
    fold_train_data, heldout = fold_data(config, data, fold, k)
    fold_train, val = fold_train_data.train, fold_train_data.dev
    trainer = prepare_training(
        ctx,
        fold_train_data,
        describe=f"fold {fold + 1}/{k}: {len(fold_train):,} train / {len(val):,} "
        f"validation / {len(heldout):,} held-out rows",
        sizes={"heldout": len(heldout)},
        fold={"index": fold, "k": k},
    )
    result = run_training(trainer, config)  # the model now holds the kept checkpoint
    model, device = trainer.model, trainer.device
    out = predict(
        model,
        SplitTensors.from_split(heldout, data.task, device, int(fold_train_data.vocab.pad_id)),
        batch_size=config.train.batch_size,
    )
    outputs = (
        (torch.softmax(out, 1) if data.task == "classification" else out.reshape(-1))
        .numpy()
        .astype(np.float64)
    )
    np.save(ctx.run.path / HELDOUT_FILE, outputs)
    if data.task == "classification" and len(val.rows):
        pad = int(fold_train_data.vocab.pad_id)
        on_val = predict(
            model,
            SplitTensors.from_split(val, data.task, device, pad),
            batch_size=config.train.batch_size,
        )
        np.save(ctx.run.path / VALIDATION_FILE, torch.softmax(on_val, 1).numpy().astype(np.float64))
    held = score(outputs, heldout.targets, data.task)
    # At the run's last step (the worker's status takes its step from events); the weights
    # are the kept checkpoint's, whose step fold_result.json records.
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
                "validation_kept": {k_: v for k_, v in result.kept_eval.items() if k_ != "ci"},
                "validation_best": {k_: v for k_, v in result.best_eval.items() if k_ != "ci"},
                "validation_final": {k_: v for k_, v in result.final_eval.items() if k_ != "ci"},
                "checkpoint": result.kept,
                "vocab": len(fold_train_data.vocab),
                "heldout": held,
                "heldout_targets": np.asarray(heldout.targets).tolist(),
                "heldout_rows": np.asarray(heldout.rows).tolist(),
                "validation_rows": np.asarray(val.rows).tolist(),
                "label_names": [str(name) for name in data.label_names],
            }
        )
        + "\n",
    )
    return result.state


# ---------------------------------------------------------------------------------------
# orchestration (the CLI side)


def run_cv(
    config: Config,
    k: int,
    *,
    parallel: int | None = None,
    motivation: str = "",
    per_gpu: int = 1,
) -> dict[str, Any]:
    """Run ``k`` fold runs and aggregate them in a parent "cv" run."""
    pool = make_pool(parallel, config.train.device, per_gpu)
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
            kept = result.get("validation_kept", result.get("validation_best", {}))
            info.update(validation=kept, heldout=result["heldout"])
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
        gain = gain_interval(outputs, targets, task, metric)
        summary["ensemble_gain_over_mean_ci"] = gain["over_mean_ci"]
        summary["ensemble_gain_over_best_ci"] = gain["over_best_ci"]
        summary["ensemble_gain_method"] = gain["method"]
    return summary
