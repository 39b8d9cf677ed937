"""Torch helpers shared by the sanity checks (imported inside ``Check.run`` only).

- :func:`zeroed_output`: a context manager that makes a module (the embedding) output zeros.
- :func:`balanced_indices` / :func:`subset_split` / :func:`tiny_split`: small class-balanced
  samples of a split, as split objects the trainer accepts (short runs:
  ``CheckContext.short_train``).
- :func:`sample_outputs` / :func:`loss_of`: a model's eval-mode outputs on a sample of the
  training split and their loss (the loss at initialisation).
- :func:`expected_init_losses`: the closed-form losses of a constant predictor.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from tuirecipe.train.batches import SplitTensors, compute_loss, predict

INIT_SAMPLE = 1024  # examples the init-loss measurements use (the whole split when smaller)


@contextlib.contextmanager
def zeroed_output(module: nn.Module) -> Iterator[None]:
    """While active, ``module``'s output (or its first element, for a tuple) is zeros."""

    def hook(_module: nn.Module, _inputs: Any, output: Any) -> Any:
        if isinstance(output, torch.Tensor):
            return torch.zeros_like(output)
        if isinstance(output, tuple) and output and isinstance(output[0], torch.Tensor):
            return (torch.zeros_like(output[0]), *output[1:])
        raise TypeError(f"cannot zero an output of type {type(output).__name__}")

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def balanced_indices(targets: Any, n: int, *, task: str, seed: int = 0) -> np.ndarray:
    """``n`` row indices (sorted); classification takes the classes in turn (round robin)."""
    targets = np.asarray(targets)
    rng = np.random.default_rng(seed)
    n = min(int(n), len(targets))
    if task != "classification":
        return np.sort(rng.choice(len(targets), size=n, replace=False))
    pools = [rng.permutation(np.flatnonzero(targets == c)) for c in np.unique(targets)]
    picked: list[int] = []
    depth = 0
    while len(picked) < n:
        for pool in pools:
            if depth < len(pool) and len(picked) < n:
                picked.append(int(pool[depth]))
        depth += 1
    return np.sort(np.asarray(picked, dtype=np.int64))


def subset_split(split: Any, index: Any) -> Any:
    """A copy of ``split`` holding only rows ``index`` (ids, lengths, targets, texts, rows).

    Other fields (``truncated``, ``unk_rate``) are kept from the whole split.
    """
    index = np.asarray(index, dtype=np.int64)
    changes: dict[str, Any] = {
        "ids": np.asarray(split.ids)[index],
        "lengths": np.asarray(split.lengths)[index],
        "targets": np.asarray(split.targets)[index],
        "texts": [split.texts[i] for i in index.tolist()],
    }
    if getattr(split, "rows", None) is not None:
        changes["rows"] = np.asarray(split.rows)[index]
    if dataclasses.is_dataclass(split) and not isinstance(split, type):
        return dataclasses.replace(split, **changes)
    out = copy.copy(split)
    for key, value in changes.items():
        setattr(out, key, value)
    return out


def tiny_split(data: Any, n: int, seed: int = 0) -> Any:
    """A class-balanced sample of ``n`` training examples."""
    return subset_split(
        data.train, balanced_indices(data.train.targets, n, task=data.task, seed=seed)
    )


def sample_outputs(
    ctx: Any, model: nn.Module, split: Any = None, max_examples: int = INIT_SAMPLE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode outputs and targets (CPU) on ``split`` (default: a seeded training sample).

    The whole split is used when it has at most ``max_examples`` rows.
    """
    data = ctx.data
    if split is None:
        split = data.train
        if len(split.targets) > max_examples:
            rng = np.random.default_rng(ctx.config.seed)
            index = np.sort(rng.choice(len(split.targets), size=max_examples, replace=False))
            split = subset_split(split, index)
    tensors = SplitTensors.from_split(split, data.task, ctx.device, int(data.vocab.pad_id))
    out = predict(model, tensors, batch_size=256)
    return out, tensors.targets.cpu()


def loss_of(out: torch.Tensor, targets: torch.Tensor, task: str) -> float:
    """The training loss (cross-entropy or MSE) of ``out``, as a float."""
    return float(compute_loss(out.float(), targets, task))


def expected_init_losses(data: Any) -> dict[str, float]:
    """Closed-form losses of constant predictors on the training split.

    Classification: ``uniform`` = log C (equal logits), ``prior`` = the class prior's
    entropy (logit bias = log prior). Regression: ``zero`` = mean(y²) (output 0),
    ``mean`` = var(y) (output at the training mean).
    """
    if data.task == "classification":
        counts = [int(c) for c in data.class_counts]
        total = float(sum(counts))
        prior = -sum((c / total) * math.log(c / total) for c in counts if c > 0)
        return {"uniform": math.log(len(counts)), "prior": prior}
    y = np.asarray(data.train.targets, dtype=np.float64)
    return {"zero": float(np.mean(y * y)), "mean": float(np.var(y))}


def output_scale(out: torch.Tensor, task: str) -> float:
    """How spread the outputs are: RMS of logits about each row's mean (classification),
    or the outputs' standard deviation (regression)."""
    out = out.float()
    if task == "classification":
        centred = out - out.mean(1, keepdim=True)
        return float(centred.pow(2).mean().sqrt())
    return float(out.reshape(-1).std()) if out.numel() > 1 else 0.0


def label_name(data: Any, cls: int) -> str:
    names = getattr(data, "label_names", None) or []
    return str(names[cls]) if 0 <= cls < len(names) else str(cls)


def short_text(text: str, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the prior-entropy floor and paired comparisons on the dev split ---------------------


def per_example_losses(out: torch.Tensor, targets: torch.Tensor, task: str) -> np.ndarray:
    """Unweighted cross-entropy (classification) or squared error (regression) per row."""
    out = out.float()
    if task == "classification":
        losses = torch.nn.functional.cross_entropy(out, targets.long(), reduction="none")
    else:
        losses = (out.reshape(-1) - targets.float().reshape(-1)) ** 2
    return losses.detach().cpu().double().numpy()


def floor_losses(data: Any, split: Any) -> np.ndarray:
    """Per-row losses on ``split`` of the best model that ignores its input: the training
    split's class prior (its entropy is the floor, ``expected_init_losses()["prior"]``) or,
    for regression, the training mean (the floor is then the target variance).

    A class absent from training gets half an example, so an unseen dev label costs a
    large but finite loss.
    """
    y = np.asarray(split.targets)
    if data.task == "classification":
        counts = np.maximum(np.asarray(data.class_counts, dtype=np.float64), 0.5)
        log_prior = np.log(counts / counts.sum())
        return -log_prior[y.astype(np.int64)]
    mean = float(np.mean(np.asarray(data.train.targets, dtype=np.float64)))
    return (y.astype(np.float64) - mean) ** 2


def paired_gap(losses: np.ndarray, reference: np.ndarray, z: float = 1.96) -> dict[str, float]:
    """Mean of ``losses - reference`` over the same rows, its standard error and 95 %
    interval: ``hi < 0`` means the first is lower by more than noise explains."""
    diff = np.asarray(losses, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    n = len(diff)
    mean = float(diff.mean()) if n else float("nan")
    se = float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else float("inf")
    return {
        "loss": float(np.mean(losses)) if n else float("nan"),
        "reference": float(np.mean(reference)) if n else float("nan"),
        "diff": mean,
        "se": se,
        "lo": mean - z * se,
        "hi": mean + z * se,
        "n": n,
    }


def split_losses(ctx: Any, model: nn.Module, split: Any) -> np.ndarray:
    """Per-row eval-mode losses of ``model`` on the whole of ``split``."""
    out, targets = sample_outputs(ctx, model, split)
    return per_example_losses(out, targets, ctx.data.task)


def constant_input_split(split: Any, template: Any) -> Any:
    """``split`` with every row's input replaced by one fixed row (the first non-empty row
    of ``template``): the same token ids, the same attention mask, the same length. The
    targets stay. A model trained on it can learn the label prior and nothing else: no
    word, length or position carries signal."""
    ids = np.asarray(template.ids)
    lengths = np.asarray(template.lengths)
    nonempty = np.flatnonzero(lengths > 0)
    row = ids[int(nonempty[0]) if len(nonempty) else 0]
    n = len(split.targets)
    changes: dict[str, Any] = {
        "ids": np.repeat(row[None, :], n, axis=0),
        "lengths": np.full(n, int(lengths[nonempty[0]]) if len(nonempty) else 0),
    }
    if dataclasses.is_dataclass(split) and not isinstance(split, type):
        return dataclasses.replace(split, **changes)
    out = copy.copy(split)
    for key, value in changes.items():
        setattr(out, key, value)
    return out


def train_in_rounds(
    ctx: Any,
    model: nn.Module,
    rounds: int,
    *,
    train_split: Any = None,
    judge: Any = None,
) -> tuple[list[float], int]:
    """Train ``model`` for up to ``rounds`` × ``checks.steps`` steps with the real trainer;
    after each round ``judge()`` may return True to stop (the verdict is certain).

    Round ``r`` is a short run seeded ``seed + r`` (a fresh batch order; the optimizer
    restarts). Returns the training losses and the rounds made. Two models trained with
    the same ``rounds`` see the same batches.
    """
    losses: list[float] = []
    made = 0
    for r in range(rounds):
        run = ctx.short_train(
            model, seed=ctx.config.seed + r, train_split=train_split, evaluate_dev=False
        )
        losses += run.losses
        made += 1
        if ctx.cancelled() or not run.losses or not all(map(math.isfinite, run.losses)):
            break
        if judge is not None and judge():
            break
    return losses, made


def cached(ctx: Any, key: str, compute: Any) -> Any:
    """``compute()`` once per check context: checks of one job share a costly measurement
    (the same fresh model, seed and data give the same result)."""
    store = vars(ctx).setdefault("_shared_measurements", {})
    uses = vars(ctx).get("_model_uses")  # the running check's count of fresh models
    if key not in store:
        before = len(uses) if uses is not None else 0
        value = compute()
        store[key] = (value, uses is not None and len(uses) > before)
    value, built_a_model = store[key]
    if built_a_model and uses is not None:
        # A check that reads a measurement made on a fresh model used that model: the
        # runner's forward diagnosis (NaN rows, shapes) applies to it as if it built it.
        uses.append(1)
    return value


def majority_correct(data: Any, split: Any) -> np.ndarray:
    """Per row of ``split``: 1.0 where its label is the training split's majority class
    (the accuracy of the best model that ignores its input), else 0.0."""
    majority = int(np.argmax(np.asarray(data.class_counts)))
    return (np.asarray(split.targets) == majority).astype(np.float64)


def accuracy_gap(correct: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """:func:`paired_gap` of accuracies, signed like a loss: ``hi < 0`` means ``correct``
    is the more accurate by more than noise explains; ``loss``/``reference`` are the two
    accuracies."""
    gap = paired_gap(-np.asarray(correct, np.float64), -np.asarray(reference, np.float64))
    gap["loss"], gap["reference"] = -gap["loss"], -gap["reference"]
    return gap


def beats(loss_gap: dict[str, float], acc_gap: dict[str, float] | None, margin: float) -> bool:
    """Certainly better than the reference (95 % interval) and by ``margin``: a relative
    dev-loss reduction, or an absolute accuracy gain."""
    ref = loss_gap["reference"]
    loss_gain = -loss_gap["diff"] / ref if ref > 0 else 0.0
    if loss_gap["hi"] < 0 and loss_gain >= margin:
        return True
    return acc_gap is not None and acc_gap["hi"] < 0 and -acc_gap["diff"] >= margin
