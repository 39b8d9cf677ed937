"""Batches and evaluation: a split as device tensors, dynamic padding, loss, metrics.

Shared by the trainer and by the sanity checks, so both see exactly the same batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tuirecipe.errors import ModelError
from tuirecipe.train.metrics import (
    classification_metrics,
    mean_interval,
    regression_metrics,
    wilson_interval,
)


@dataclass
class SplitTensors:
    """A split converted to tensors once: ids and targets on the device."""

    ids: torch.Tensor  # [N, L] int64, on the device
    targets: torch.Tensor  # [N] int64 (classification) or float32 (regression), on the device
    extent: torch.Tensor  # [N] int64 on the CPU: last non-pad position + 1
    pad_id: int = 0

    @classmethod
    def from_split(
        cls, split: Any, task: str, device: torch.device | str = "cpu", pad_id: int = 0
    ) -> SplitTensors:
        ids = torch.tensor(np.asarray(split.ids), dtype=torch.int64)  # a copy: never aliases
        if ids.ndim != 2 or ids.shape[1] == 0:
            ids = ids.reshape(len(ids), -1)
            if ids.shape[1] == 0:  # every row empty: keep one padding column
                ids = torch.full((len(ids), 1), pad_id, dtype=torch.int64)
        # Width from the ids themselves (not split.lengths): a batch is never trimmed past
        # its last real token.
        positions = torch.arange(1, ids.shape[1] + 1)
        extent = (
            ((ids != pad_id) * positions).amax(1) if len(ids) else torch.zeros(0, dtype=torch.int64)
        )
        dtype = torch.int64 if task == "classification" else torch.float32
        targets = torch.tensor(np.asarray(split.targets), dtype=dtype)
        return cls(ids.to(device), targets.to(device), extent, pad_id)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def batch(
        self, index: torch.Tensor, width: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rows ``index`` trimmed to ``width`` columns: ``(input_ids, attention_mask, targets)``."""
        ids = self.ids[index, :width]
        return ids, ids != self.pad_id, self.targets[index]


def iter_batches(
    tensors: SplitTensors,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    shard: tuple[int, int] | None = None,
    start: int = 0,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``(input_ids, attention_mask, targets)`` batches; shuffled when given a generator.

    ``shard = (rank, world)``: only that rank's share of the (same) permutation, for
    data-parallel training (:func:`tuirecipe.train.distributed.shard_order`).

    Batch widths are computed on the CPU for the whole epoch at once, so trimming costs no
    device synchronisation. ``start`` skips the epoch's first batches (the order is drawn
    all the same: a resumed run continues its epoch where the checkpoint left it).
    """
    n = len(tensors)
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    if shard is not None and shard[1] > 1:
        from tuirecipe.train.distributed import shard_order

        order = shard_order(order, *shard)
        n = len(order)
    pad = (-n) % batch_size
    extents = torch.cat([tensors.extent[order], torch.zeros(pad, dtype=torch.int64)])
    widths = extents.view(-1, batch_size).amax(1).clamp(min=1).tolist()
    order = order.to(tensors.ids.device)
    for i in range(start, len(widths)):
        yield tensors.batch(order[i * batch_size : (i + 1) * batch_size], widths[i])


def compute_loss(
    output: torch.Tensor, targets: torch.Tensor, task: str, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy on logits, or MSE on a ``[B, 1]`` / ``[B]`` regression output."""
    if task == "classification":
        return F.cross_entropy(output, targets, weight=weight)
    return F.mse_loss(output.reshape(-1), targets)


def check_output_shape(output: Any, batch: int, task: str, num_classes: int) -> None:
    """A one-line ModelError when the model's output does not fit the task."""
    expected = [[batch, num_classes]] if task == "classification" else [[batch, 1], [batch]]
    shape = list(output.shape) if isinstance(output, torch.Tensor) else None
    if shape is None:
        raise ModelError(
            f"the model's forward returned {type(output).__name__}, not a tensor of logits",
            key="model.name",
        )
    if shape not in expected:
        raise ModelError(
            f"the model's output has shape {shape}; expected "
            f"{' or '.join(str(e) for e in expected)} for {task}",
            key="model.name",
        )
    if not output.is_floating_point():
        raise ModelError(
            f"the model's output has dtype {output.dtype}; expected floats", key="model.name"
        )


@torch.no_grad()
def predict(model: nn.Module, tensors: SplitTensors, *, batch_size: int) -> torch.Tensor:
    """The model's outputs for every row, in order, on the CPU (float32)."""
    was_training = model.training
    model.eval()
    try:
        outs = [
            model(ids, mask).float().cpu() for ids, mask, _ in iter_batches(tensors, batch_size)
        ]
    finally:
        model.train(was_training)
    return torch.cat(outs) if outs else torch.zeros(0)


def evaluate(
    model: nn.Module,
    split: Any,
    *,
    task: str,
    batch_size: int,
    device: torch.device | str = "cpu",
    pad_id: int = 0,
) -> dict[str, Any]:
    """Metrics on a whole split with 95 % intervals.

    Classification: ``{"loss", "acc", "macro_f1", "n", "ci": {"loss", "acc", "macro_f1"},
    "per_class": {class id: {precision, recall, f1, support, ci}}}`` (Wilson for accuracy;
    the loss is unweighted cross-entropy; :func:`classification_metrics`). Regression:
    ``{"loss", "mse", "mae", "rmse", "spearman", "n", "ci": {…}}`` in the targets' units
    (``spearman`` only where defined). ``split`` is a data split or a
    :class:`SplitTensors`.
    """
    tensors = (
        split
        if isinstance(split, SplitTensors)
        else SplitTensors.from_split(split, task, device, pad_id)
    )
    n = len(tensors)
    if n == 0:
        return {"n": 0, "ci": {}}
    out = predict(model, tensors, batch_size=batch_size)
    targets = tensors.targets.cpu()
    if task == "classification":
        losses = F.cross_entropy(out, targets, reduction="none").double().numpy()
        predicted = out.argmax(1)
        correct = int((predicted == targets).sum())
        lo, hi = wilson_interval(correct, n)
        report = classification_metrics(targets.numpy(), predicted.numpy())
        return {
            "loss": float(losses.mean()),
            "acc": correct / n,
            "macro_f1": report["macro_f1"],
            "n": n,
            "ci": {"loss": list(mean_interval(losses)), "acc": [lo, hi], **report["ci"]},
            "per_class": report["per_class"],
        }
    values = out.reshape(-1).double().numpy()
    err = values - targets.double().numpy()
    sq, ab = err * err, np.abs(err)
    mse_ci = list(mean_interval(sq))
    extra = regression_metrics(values, targets.double().numpy(), mse_ci)
    return {
        "loss": float(sq.mean()),
        "mse": float(sq.mean()),
        "mae": float(ab.mean()),
        **{k: v for k, v in extra.items() if k != "ci"},
        "n": n,
        "ci": {"loss": mse_ci, "mse": mse_ci, "mae": list(mean_interval(ab)), **extra["ci"]},
    }


def class_weights(class_counts: list[int]) -> torch.Tensor:
    """Inverse class frequency, normalised to mean 1 over the classes that occur."""
    counts = torch.tensor([float(c) for c in class_counts])
    present = counts > 0
    weights = torch.where(present, 1.0 / counts.clamp(min=1.0), torch.zeros_like(counts))
    return weights / weights[present].mean()
