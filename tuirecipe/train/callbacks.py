"""Named callbacks: everything a run does besides the loop itself.

A callback is any object with one or more methods named after the trainer's hook points
(``on_batch_end``, ``on_eval_end``, ``on_epoch_end``, ``on_train_end``), each receiving the
trainer; ``Trainer.add_callback`` registers the ones it has. Only hook points a callback
uses cost anything per step.

- :class:`PredictionSamples`: a few fixed dev examples' predictions at each evaluation
  (the ``predictions`` event the console shows).
- :class:`DevPredictionsFile`: every dev example's prediction and loss, written to
  ``dev_predictions.json`` at each evaluation (the bad-cases view).
- :class:`EarlyStopping`: ends the run when the dev loss stops improving.
- :class:`Checkpoint`: the model's weights to ``model.pt`` when training ends.
- :class:`LrRange`: raises the learning rate step by step; stops once the loss diverges.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import torch

from tuirecipe.config import TrainConfig
from tuirecipe.events import PredictionsSnapshot
from tuirecipe.fileio import atomic_write, atomic_write_bytes
from tuirecipe.train.batches import SplitTensors, predict
from tuirecipe.train.optim import set_lr

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.train.trainer import Trainer

SAMPLE_TEXT_CHARS = 200  # the predictions event: a few rows, shown in a table
DEV_TEXT_CHARS = 300  # dev_predictions.json: every row, read in the bad-cases view


def standard_callbacks(cfg: TrainConfig, seed: int, sample: int = 8) -> list[Any]:
    """What every training run gets from its config: prediction samples, early stopping."""
    callbacks: list[Any] = [PredictionSamples(sample, seed)] if sample > 0 else []
    if cfg.early_stopping_patience > 0:
        callbacks.append(EarlyStopping(cfg.early_stopping_patience))
    return callbacks


def clip_text(text: Any, chars: int) -> str:
    text = str(text)
    return text if len(text) <= chars else text[: chars - 1] + "…"


def label_of(names: Sequence[Any], cls: int) -> str:
    """A class id's label name (the id itself when there is no name for it)."""
    return str(names[cls]) if 0 <= cls < len(names) else str(cls)


def _source_row(split: Any, i: int) -> int:
    rows = getattr(split, "rows", None)
    return int(rows[i]) if rows is not None and len(rows) > i else i


class PredictionSamples:
    """``sample`` dev examples, drawn once from ``seed``, predicted at each evaluation."""

    def __init__(self, sample: int = 8, seed: int = 0) -> None:
        self.sample, self.seed = sample, seed
        self.index: np.ndarray | None = None

    def on_eval_end(self, trainer: Trainer) -> None:
        if self.index is None:
            rng = np.random.default_rng(self.seed)
            n = len(trainer.dev_tensors)
            self.index = np.sort(rng.choice(n, size=min(self.sample, n), replace=False))
        if len(self.index):
            trainer.emit(PredictionsSnapshot(step=trainer.step, rows=self.rows(trainer)))

    def rows(self, trainer: Trainer) -> list[dict[str, Any]]:
        assert self.index is not None
        dev, tensors, names = trainer.data.dev, trainer.dev_tensors, trainer.data.label_names
        on_device = torch.as_tensor(self.index, device=tensors.ids.device)
        sample = SplitTensors(
            tensors.ids[on_device],
            tensors.targets[on_device],
            tensors.extent[torch.as_tensor(self.index)],
            tensors.pad_id,
        )
        out = predict(trainer.model, sample, batch_size=len(self.index))
        targets = sample.targets.cpu().tolist()
        rows = []
        for j, i in enumerate(self.index.tolist()):
            row: dict[str, Any] = {
                "index": _source_row(dev, i),
                "text": clip_text(dev.texts[i], SAMPLE_TEXT_CHARS),
            }
            if trainer.task == "classification":
                probs = torch.softmax(out[j], 0)
                pred = int(probs.argmax())
                row.update(
                    label=label_of(names, int(targets[j])),
                    pred=label_of(names, pred),
                    prob=round(float(probs[pred]), 4),
                    correct=pred == int(targets[j]),
                )
            else:
                row.update(label=float(targets[j]), pred=float(out[j].reshape(-1)[0]), prob=None)
            rows.append(row)
        return rows


def dev_predictions(trainer: Trainer, text_chars: int = DEV_TEXT_CHARS) -> dict[str, Any]:
    """Every dev example's prediction and loss at this step (for the bad-cases view).

    One extra forward pass over the dev split. ``rows``: ``{"row", "text", "gold", "pred",
    "prob", "loss"}`` where ``row`` is the source file's row number, ``prob`` the predicted
    class's probability and ``loss`` the example's cross-entropy (squared error for
    regression).
    """
    dev, names = trainer.data.dev, trainer.data.label_names
    out = predict(trainer.model, trainer.dev_tensors, batch_size=trainer.cfg.batch_size)
    targets = trainer.dev_tensors.targets.cpu()
    golds: list[Any]
    preds: list[Any]
    probs: list[Any]
    if trainer.task == "classification":
        logp = torch.log_softmax(out, 1)
        best = logp.argmax(1)
        probs = logp.gather(1, best[:, None]).exp().reshape(-1).tolist()
        losses = (-logp.gather(1, targets[:, None])).reshape(-1).tolist()
        golds = [label_of(names, int(t)) for t in targets.tolist()]
        preds = [label_of(names, int(p)) for p in best.tolist()]
    else:
        flat = out.reshape(-1)
        losses = ((flat - targets.float()) ** 2).tolist()
        golds, preds, probs = targets.tolist(), flat.tolist(), [None] * len(losses)
    rows = [
        {
            "row": _source_row(dev, i),
            "text": clip_text(dev.texts[i], text_chars),
            "gold": golds[i],
            "pred": preds[i],
            "prob": None if probs[i] is None else round(float(probs[i]), 4),
            "loss": round(float(losses[i]), 5),
        }
        for i in range(len(losses))
    ]
    return {
        "step": trainer.step,
        "task": trainer.task,
        "labels": [str(n) for n in names],
        "rows": rows,
    }


class DevPredictionsFile:
    """``dev_predictions(trainer)`` written atomically to ``path`` at each evaluation."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_eval_end(self, trainer: Trainer) -> None:
        text = json.dumps(dev_predictions(trainer), ensure_ascii=False, separators=(",", ":"))
        atomic_write_bytes(self.path, (text + "\n").encode("utf-8"))


class EarlyStopping:
    """Stop after ``patience`` evaluations in a row without a lower dev loss.

    The run still ends as "finished" (the trainer's ``stop_early``): stopping here is
    part of the recipe, not an interruption.
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best = math.inf
        self.bad_evals = 0

    def on_eval_end(self, trainer: Trainer) -> None:
        loss = trainer.last_eval.get("loss")
        if loss is None:
            return
        if loss < self.best - self.min_delta:
            self.best, self.bad_evals = loss, 0
            return
        self.bad_evals += 1
        if self.bad_evals >= self.patience:
            trainer.stop_early(
                f"early stopping: dev loss has not improved on {self.best:.4g} "
                f"for {self.bad_evals} evaluations"
            )


class Checkpoint:
    """The model's ``state_dict`` saved to ``path`` when training ends (finished or stopped;
    a run that failed saves nothing)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_train_end(self, trainer: Trainer) -> None:
        # Atomic, so a full disk leaves no half checkpoint that would load as garbage.
        state = trainer.model.state_dict()

        def fill(handle: BinaryIO) -> None:
            recorded = _WriteErrors(handle)
            try:
                torch.save(state, recorded)
            except RuntimeError:
                # torch's zip writer turns a failed write into "unexpected pos …": the
                # error of the write itself (a full disk) is the one to report
                if recorded.error is not None:
                    raise recorded.error from None
                raise

        atomic_write(self.path, fill)


class _WriteErrors:
    """A binary file that keeps the ``OSError`` its writes raised, for callers whose
    library hides it behind an error of its own."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.handle.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)


class LrRange:
    """The learning-rate range test as a callback: step ``k`` trains at ``lrs[k]``.

    The trainer's optimizer must start at ``lrs[0]`` (its config's ``lr``). After each step
    the rate used and the loss are recorded (reading the loss waits for the device: the
    test needs every value); the run stops when ``diverged(losses)`` says so, or after the
    last rate. ``progress(k, lr, loss)`` is called after each step when given.
    """

    def __init__(
        self,
        lrs: Sequence[float],
        diverged: Callable[[list[float]], bool],
        progress: Callable[[int, float, float], None] | None = None,
    ) -> None:
        self.lrs, self.diverged, self.progress = list(lrs), diverged, progress
        self.used: list[float] = []
        self.losses: list[float] = []
        self.stopped_on_divergence = False

    def on_batch_end(self, trainer: Trainer) -> None:
        assert trainer.loss is not None
        k = len(self.losses)
        self.used.append(float(trainer.optimizer.param_groups[0]["lr"]))
        self.losses.append(float(trainer.loss.detach()))
        if self.progress is not None:
            self.progress(k, self.used[-1], self.losses[-1])
        if self.diverged(self.losses):
            self.stopped_on_divergence = True
            trainer.request_stop()
        elif k + 1 < len(self.lrs):
            set_lr(trainer.optimizer, self.lrs[k + 1])
        else:
            trainer.request_stop()
