"""Named callbacks: everything a run does besides the loop itself.

A callback is any object with one or more methods named after the trainer's hook points
(``on_batch_end``, ``on_eval_end``, ``on_epoch_end``, ``on_train_end``), each receiving the
trainer; ``Trainer.add_callback`` registers the ones it has. Only hook points a callback
uses cost anything per step.

- :class:`PredictionSamples`: a few fixed dev examples' predictions at each evaluation
  (the ``predictions`` event the console shows).
- :class:`DevPredictionsFile`: every dev example's prediction and loss, written to
  ``dev_predictions.json`` at each evaluation (the bad-cases view).
- :class:`EarlyStopping`: ends the run when the monitored dev metric stops improving.
- :class:`Checkpoints`: ``best.pt`` at each improvement of the monitored metric,
  ``last.pt`` at the end, the kept one (``train.keep``) restored into the model and copied
  to ``model.pt``.
- :class:`Checkpoint`: the model's weights to one file when training ends.
- :class:`LrRange`: raises the learning rate step by step; stops once the loss diverges.

A callback with state that a resumed run must get back has ``state_dict()`` and
``load_state_dict(state)`` (:mod:`tuirecipe.train.resume` saves and restores them).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tuirecipe.config import TrainConfig
from tuirecipe.events import PredictionsSnapshot
from tuirecipe.fileio import atomic_write_bytes
from tuirecipe.monitor import CHECKPOINT_FILES, Monitor
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
        callbacks.append(EarlyStopping(cfg.early_stopping_patience))  # the trainer's monitor
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


def dev_predictions(
    trainer: Trainer, text_chars: int = DEV_TEXT_CHARS, step: int | None = None
) -> dict[str, Any]:
    """Every dev example's prediction and loss at this step (for the bad-cases view).

    One extra forward pass over the dev split. ``rows``: ``{"row", "text", "gold", "pred",
    "prob", "loss"}`` where ``row`` is the source file's row number, ``prob`` the predicted
    class's probability and ``loss`` the example's cross-entropy (squared error for
    regression). ``step``: the step the model's weights are from (default: the current).
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
        "step": trainer.step if step is None else step,
        "task": trainer.task,
        "labels": [str(n) for n in names],
        "rows": rows,
    }


class DevPredictionsFile:
    """``dev_predictions(trainer)`` written atomically to ``path`` at each evaluation, and
    once more at the end when the run keeps weights other than the last evaluated ones
    (register it after :class:`Checkpoints`), so the bad-cases view shows the kept model."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.written_step: int | None = None

    def on_eval_end(self, trainer: Trainer) -> None:
        self._write(trainer, trainer.step)

    def on_train_end(self, trainer: Trainer) -> None:
        step = trainer.kept_eval.get("step")
        if step is not None and step != self.written_step and len(trainer.dev_tensors):
            self._write(trainer, int(step))

    def _write(self, trainer: Trainer, step: int) -> None:
        record = dev_predictions(trainer, step=step)
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        atomic_write_bytes(self.path, (text + "\n").encode("utf-8"))
        self.written_step = step


class EarlyStopping:
    """Stop after ``patience`` evaluations in a row without a better monitored figure.

    The figure is the trainer's ``train.monitor`` (dev loss by default), unless a
    ``monitor`` is given here. The run still ends as "finished" (the trainer's
    ``stop_early``): stopping here is part of the recipe, not an interruption. The best
    weights are brought back by :class:`Checkpoints` (``train.keep = "best"``).
    """

    def __init__(self, patience: int, min_delta: float = 0.0, monitor: Monitor | None = None):
        self.patience = patience
        self.min_delta = min_delta
        self.monitor = monitor
        self.best: float | None = None
        self.bad_evals = 0

    def state_dict(self) -> dict[str, Any]:  # a resume checkpoint's share
        return {"best": self.best, "bad_evals": self.bad_evals}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_evals = state["best"], state["bad_evals"]

    def on_eval_end(self, trainer: Trainer) -> None:
        monitor = self.monitor or getattr(trainer, "monitor", None) or Monitor()
        value = monitor.value(trainer.last_eval)
        if value is None:
            return
        if monitor.improves(value, self.best, self.min_delta):
            self.best, self.bad_evals = value, 0
            return
        self.bad_evals += 1
        if self.bad_evals >= self.patience:
            trainer.stop_early(
                f"early stopping: {monitor.split} {monitor.metric} has not improved on "
                f"{self.best:.4g} for {self.bad_evals} evaluations"
            )


def state_bytes(state: dict[str, torch.Tensor]) -> bytes:
    """A state_dict serialised by ``torch.save``, every tensor on the CPU (so a
    checkpoint written on a GPU loads anywhere)."""
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in state.items()}, buffer)
    return buffer.getvalue()


class Checkpoint:
    """The model's ``state_dict`` saved to ``path`` when training ends (finished or stopped;
    a run that failed saves nothing)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_train_end(self, trainer: Trainer) -> None:
        atomic_write_bytes(self.path, state_bytes(trainer.model.state_dict()))


class Checkpoints:
    """The run's checkpoints in ``folder``, all plain ``state_dict`` files written atomically.

    - ``best.pt``: whenever an evaluation improves the trainer's monitored metric (the
      weights are copied to the CPU then, and only then, so a run pays nothing between
      improvements);
    - ``last.pt``: the weights at the end of training;
    - ``model.pt``: a copy of the kept one. With ``keep = "best"`` the best weights are also
      loaded back into the model before anything else runs at train end, so what is
      evaluated after training (dev predictions, a fold's held-out outputs) is the kept
      model; ``keep = "last"``, or a run without an evaluation, keeps the last weights.

    ``record(info)`` is called once at the end with what was kept: ``{"keep", "file",
    "step", "monitor", "value", "metrics", "best": {"file", "step"}, "last": {"file",
    "step"}}`` (the job writes it to ``meta.json`` and ``status.json``).
    """

    def __init__(
        self,
        folder: Path,
        keep: str = "best",
        record: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.folder, self.keep, self.record = Path(folder), keep, record
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_eval: dict[str, Any] = {}

    def state_dict(self) -> dict[str, Any]:
        """A resume checkpoint's share: the best weights so far and their evaluation."""
        return {"best_state": self.best_state, "best_eval": self.best_eval}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Back to a resume checkpoint's moment; ``best.pt`` is rewritten to match it (the
        interrupted worker may have saved a better one after the checkpoint)."""
        self.best_state, self.best_eval = state["best_state"], state["best_eval"]
        best = self.folder / CHECKPOINT_FILES["best"]
        if self.best_state is None:
            best.unlink(missing_ok=True)
        else:
            atomic_write_bytes(best, state_bytes(self.best_state))

    def on_eval_end(self, trainer: Trainer) -> None:
        if not trainer.improved:
            return
        state = trainer.model.state_dict()
        self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in state.items()}
        self.best_eval = trainer.last_eval
        atomic_write_bytes(self.folder / CHECKPOINT_FILES["best"], state_bytes(self.best_state))

    def on_train_end(self, trainer: Trainer) -> None:
        last = state_bytes(trainer.model.state_dict())
        atomic_write_bytes(self.folder / CHECKPOINT_FILES["last"], last)
        last_eval = trainer.last_eval if trainer.last_eval.get("step") == trainer.step else {}
        if self.keep == "best" and self.best_state is not None:
            kept, kept_eval = "best", self.best_eval
            if self.best_eval.get("step") != trainer.step:
                trainer.model.load_state_dict(self.best_state)
            data = (self.folder / CHECKPOINT_FILES["best"]).read_bytes()
        else:
            kept, kept_eval, data = "last", last_eval, last
        atomic_write_bytes(self.folder / "model.pt", data)
        trainer.kept, trainer.kept_eval = kept, kept_eval
        monitor = trainer.monitor
        info: dict[str, Any] = {
            "keep": self.keep,
            "file": CHECKPOINT_FILES[kept],
            "step": kept_eval.get("step", trainer.step),
            "monitor": monitor.name,
            "mode": monitor.mode,
            "value": monitor.value(kept_eval) if kept_eval else None,
            "metrics": {k: v for k, v in kept_eval.items() if k not in ("step", "ci", "per_class")},
            "last": {"file": CHECKPOINT_FILES["last"], "step": trainer.step},
        }
        if self.best_state is not None:
            info["best"] = {"file": CHECKPOINT_FILES["best"], "step": self.best_eval["step"]}
        if self.record is not None:
            self.record(info)


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
