"""The training loop: small, generic, and as fast as a bare PyTorch loop.

The trainer knows nothing about the model beyond ``forward(input_ids, attention_mask)``.
It pre-converts each split to tensors on the device once; a step slices a shuffled index
batch, trims it to its longest row (dynamic padding), and does forward / backward /
AdamW. Per step it adds only a batch-accuracy reduction, reading the loss, and one
``StepMetrics`` event; on CUDA the losses are read in blocks of ``log_every`` steps so
the GPU is not synchronised every step.

Regression models predict in the targets' own units and train on plain MSE, so train
loss, dev loss and the reported MSE/MAE share one scale (and ``init_output_bias`` can
start the output at the target mean).

Hook points (callables receiving the trainer): ``on_batch_end``, ``on_eval_end``,
``on_epoch_end``. A hook can read ``trainer.step``, ``trainer.loss`` (a tensor: reading it
costs a sync on CUDA), ``trainer.last_eval``, change ``trainer.optimizer``'s learning
rate, or call ``trainer.request_stop()`` (ends "stopped") or ``trainer.stop_early(reason)``
(ends "finished"; used by ``train.early_stopping_patience``). The objective comes from
``train.loss`` (:mod:`tuirecipe.train.losses`); ``train.adversarial`` adds an FGM/PGD loss
on the embedding output (:mod:`tuirecipe.train.adversarial`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from tuirecipe.config import TrainConfig
from tuirecipe.errors import UserError
from tuirecipe.events import EvalMetrics, Event, Log, PredictionsSnapshot, RunStatus, StepMetrics
from tuirecipe.train.batches import (
    SplitTensors,
    check_output_shape,
    class_weights,
    evaluate,
    iter_batches,
    predict,
)
from tuirecipe.train.control import Control
from tuirecipe.train.losses import make_loss_fn
from tuirecipe.train.seed import seed_everything

HOOK_POINTS = ("on_batch_end", "on_eval_end", "on_epoch_end")
_TEXT_CHARS = 200


class NumericsError(UserError):
    """The loss became NaN or infinite."""


@dataclass
class TrainResult:
    steps: int
    epochs: float  # fractional: steps / steps per epoch
    final_eval: dict[str, Any]  # the last dev evaluation ({} when there was none)
    best_eval: dict[str, Any]  # the evaluation with the lowest dev loss
    state: str  # "finished" | "stopped"
    elapsed: float = 0.0  # seconds, pauses excluded


# ---------------------------------------------------------------------------------------
# the trainer


class Trainer:
    def __init__(
        self,
        model: nn.Module,
        data: Any,
        train_cfg: TrainConfig,
        *,
        seed: int,
        emit: Callable[[Event], None],
        control: Control | None = None,
        device: torch.device | None = None,
        predictions_sample: int = 8,
        embedding_module: str = "",
    ) -> None:
        self.cfg = train_cfg
        self.data = data
        self.task = data.task
        self.emit = emit
        self.control = control
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.generator = seed_everything(seed)  # data order has its own generator
        self.model = model.to(self.device)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=train_cfg.lr, weight_decay=train_cfg.weight_decay
        )
        self.hooks: dict[str, list[Callable[[Trainer], None]]] = {p: [] for p in HOOK_POINTS}
        pad_id = int(data.vocab.pad_id)
        self.train_tensors = SplitTensors.from_split(data.train, self.task, self.device, pad_id)
        self.dev_tensors = SplitTensors.from_split(data.dev, self.task, self.device, pad_id)
        self.num_classes = len(data.label_names) or len(data.class_counts)
        self.weight = None
        if train_cfg.class_weights and self.task == "classification":
            self.weight = class_weights(list(data.class_counts)).to(self.device)
        # train.loss, train.adversarial and train.early_stopping_patience (issue 7).
        self.loss_fn = make_loss_fn(train_cfg, self.task, self.weight)
        self.adversary = None
        if train_cfg.adversarial != "none":
            from tuirecipe.train.adversarial import EmbeddingAdversary

            self.adversary = EmbeddingAdversary(
                self.model,
                self.loss_fn,
                method=train_cfg.adversarial,
                epsilon=train_cfg.adv_epsilon,
                alpha=train_cfg.adv_alpha,
                steps=train_cfg.adv_steps,
                embedding_module=embedding_module,
            )
        self.early_stop_reason = ""
        rng = np.random.default_rng(seed)
        k = min(predictions_sample, len(self.dev_tensors))
        self.sample_index = np.sort(rng.choice(len(self.dev_tensors), size=k, replace=False))
        if control is not None and control.on_state is None:
            control.on_state = lambda state: emit(RunStatus(state=state, step=self.step))
        # Reading a loss on the CPU is free; on an accelerator it waits for the device, so
        # there the losses are read every log_every steps (each step is still emitted).
        self.read_every_step = self.device.type == "cpu"
        self._block = train_cfg.log_every
        self._pending: list[tuple[int, torch.Tensor, torch.Tensor | None, int, float]] = []
        self.steps_per_epoch = max(1, math.ceil(len(self.train_tensors) / train_cfg.batch_size))
        self.step = 0
        self.epoch = 0
        self.examples = 0
        self.loss: torch.Tensor | None = None
        self.last_eval: dict[str, Any] = {}
        self.best_eval: dict[str, Any] = {}
        self._last_eval_step = -1
        self._stop = False
        self._t0 = 0.0
        if train_cfg.early_stopping_patience > 0:
            from tuirecipe.train.early_stopping import EarlyStopping

            self.add_hook("on_eval_end", EarlyStopping(train_cfg.early_stopping_patience))

    def add_hook(self, point: str, fn: Callable[[Trainer], None]) -> None:
        if point not in self.hooks:
            raise ValueError(f"unknown hook point '{point}'; use one of {', '.join(HOOK_POINTS)}")
        self.hooks[point].append(fn)

    def request_stop(self) -> None:
        """Stop after the current step (for hooks); the run ends as "stopped"."""
        self._stop = True

    def stop_early(self, reason: str) -> None:
        """Stop after the current step and end as "finished" (early stopping)."""
        self.early_stop_reason = reason
        self._stop = True
        self.emit(Log(message=reason))

    def elapsed(self) -> float:
        paused = self.control.paused_seconds if self.control is not None else 0.0
        return time.perf_counter() - self._t0 - paused

    # -- the loop ----------------------------------------------------------------------
    def run(self) -> TrainResult:
        cfg, model, opt = self.cfg, self.model, self.optimizer
        params = [p for p in model.parameters() if p.requires_grad]
        control, task, loss_fn, adversary = self.control, self.task, self.loss_fn, self.adversary
        batch_end = self.hooks["on_batch_end"]
        classify = task == "classification"
        read_now = self.read_every_step
        self._t0 = time.perf_counter()
        state = "finished"
        model.train()
        for self.epoch in range(cfg.epochs):
            for ids, mask, y in iter_batches(
                self.train_tensors, cfg.batch_size, generator=self.generator
            ):
                if (control is not None and control.checkpoint()) or self._stop:
                    state = "finished" if self.early_stop_reason else "stopped"
                    break
                out = model(ids, mask)
                if self.step == 0:
                    check_output_shape(out, len(y), task, self.num_classes)
                loss = loss_fn(out, y)
                opt.zero_grad(set_to_none=True)
                if adversary is not None:  # clean + adversarial; the clean loss is reported
                    (loss + adversary.loss(ids, mask, y, loss)).backward()
                else:
                    loss.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                opt.step()
                self.step += 1
                self.examples += len(y)
                self.loss = loss
                if read_now:  # CPU: reading is free; numpy is cheaper than torch ops here
                    correct = (
                        int(np.count_nonzero(out.detach().argmax(1).numpy() == y.numpy()))
                        if classify
                        else None
                    )
                    self._emit_step(
                        self.step, loss.item(), correct, len(y), self.examples, self.elapsed()
                    )
                else:  # CUDA: keep the tensors, read a block at a time (one sync)
                    correct = (out.detach().argmax(1) == y).sum() if classify else None
                    self._pending.append(
                        (self.step, loss.detach(), correct, len(y), self.elapsed())
                    )
                    if len(self._pending) >= self._block:
                        self._flush()
                for hook in batch_end:
                    hook(self)
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    self._evaluate()
                if cfg.max_steps and self.step >= cfg.max_steps:
                    break
            else:  # the epoch ran to its end
                if self._last_eval_step != self.step:
                    self._evaluate()
                for hook in self.hooks["on_epoch_end"]:
                    hook(self)
                if self._stop:
                    state = "finished" if self.early_stop_reason else "stopped"
                    break
                continue
            break  # stopped, or max_steps reached
        self._flush()
        if state == "finished" and self._last_eval_step != self.step:
            self._evaluate()  # max_steps ended the run mid-epoch
        return TrainResult(
            steps=self.step,
            epochs=self.step / self.steps_per_epoch,
            final_eval=self.last_eval,
            best_eval=self.best_eval,
            state=state,
            elapsed=self.elapsed(),
        )

    def _flush(self) -> None:
        """Read the pending losses (one sync), emit their StepMetrics, stop on NaN/Inf."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        losses = torch.stack([p[1] for p in pending]).tolist()
        corrects = (
            torch.stack([p[2] for p in pending]).tolist()
            if pending[0][2] is not None
            else [None] * len(pending)
        )
        examples = self.examples - sum(p[3] for p in pending)
        for (step, _, _, size, elapsed), loss, correct in zip(pending, losses, corrects):
            examples += size
            self._emit_step(step, loss, correct, size, examples, elapsed)

    def _emit_step(
        self, step: int, loss: float, correct: int | None, size: int, examples: int, elapsed: float
    ) -> None:
        self.emit(
            StepMetrics(
                step=step,
                epoch=step / self.steps_per_epoch,
                loss=loss,
                lr=self.optimizer.param_groups[0]["lr"],
                acc=None if correct is None else correct / size,
                examples=examples,
                elapsed=elapsed,
            )
        )
        if not math.isfinite(loss):
            raise NumericsError(
                f"loss became {loss} at step {step}; try a lower learning "
                "rate, gradient clipping, or check the inputs"
            )

    def _evaluate(self) -> None:
        self._flush()
        self._last_eval_step = self.step
        if len(self.dev_tensors) == 0:
            return
        result = evaluate(
            self.model, self.dev_tensors, task=self.task, batch_size=self.cfg.batch_size
        )
        self.last_eval = {"step": self.step, **result}
        if not self.best_eval or result["loss"] < self.best_eval["loss"]:
            self.best_eval = self.last_eval
        metrics = {k: v for k, v in result.items() if k not in ("ci", "n")}
        self.emit(
            EvalMetrics(
                step=self.step,
                epoch=self.step / self.steps_per_epoch,
                split="dev",
                metrics=metrics,
                ci=result["ci"],
                n=result["n"],
            )
        )
        if len(self.sample_index):
            self.emit(PredictionsSnapshot(step=self.step, rows=self._prediction_rows()))
        for hook in self.hooks["on_eval_end"]:
            hook(self)

    def _prediction_rows(self) -> list[dict[str, Any]]:
        dev, index = self.data.dev, self.sample_index
        sample = SplitTensors(
            self.dev_tensors.ids[torch.as_tensor(index, device=self.device)],
            self.dev_tensors.targets[torch.as_tensor(index, device=self.device)],
            self.dev_tensors.extent[torch.as_tensor(index)],
            self.dev_tensors.pad_id,
        )
        out = predict(self.model, sample, batch_size=len(index))
        targets = sample.targets.cpu().tolist()
        rows_of = getattr(dev, "rows", None)
        rows = []
        for j, i in enumerate(index.tolist()):
            text = str(dev.texts[i])
            row: dict[str, Any] = {
                "index": int(rows_of[i]) if rows_of is not None and len(rows_of) > i else i,
                "text": text if len(text) <= _TEXT_CHARS else text[: _TEXT_CHARS - 1] + "…",
            }
            if self.task == "classification":
                probs = torch.softmax(out[j], 0)
                pred = int(probs.argmax())
                row.update(
                    label=self._label(int(targets[j])),
                    pred=self._label(pred),
                    prob=round(float(probs[pred]), 4),
                    correct=pred == int(targets[j]),
                )
            else:
                row.update(label=float(targets[j]), pred=float(out[j].reshape(-1)[0]), prob=None)
            rows.append(row)
        return rows

    def dev_predictions(self, text_chars: int = 300) -> dict[str, Any]:
        """Every dev example's prediction and loss at this step (for the bad-cases view).

        One extra forward pass over the dev split; call it at evaluation time only.
        ``rows``: ``{"row", "text", "gold", "pred", "prob", "loss"}`` where ``row`` is the
        source file's row number, ``prob`` the predicted class's probability and ``loss``
        the example's cross-entropy (squared error for regression).
        """
        dev = self.data.dev
        out = predict(self.model, self.dev_tensors, batch_size=self.cfg.batch_size)
        targets = self.dev_tensors.targets.cpu()
        rows_of = getattr(dev, "rows", None)
        if self.task == "classification":
            logp = torch.log_softmax(out, 1)
            preds = logp.argmax(1)
            probs = logp.gather(1, preds[:, None]).exp().reshape(-1).tolist()
            losses = (-logp.gather(1, targets[:, None])).reshape(-1).tolist()
            golds = [self._label(int(t)) for t in targets.tolist()]
            preds = [self._label(int(p)) for p in preds.tolist()]
        else:
            flat = out.reshape(-1)
            losses = ((flat - targets.float()) ** 2).tolist()
            golds, preds, probs = targets.tolist(), flat.tolist(), [None] * len(losses)
        rows = []
        for i in range(len(losses)):
            text = str(dev.texts[i])
            rows.append(
                {
                    "row": int(rows_of[i]) if rows_of is not None and len(rows_of) > i else i,
                    "text": text if len(text) <= text_chars else text[: text_chars - 1] + "…",
                    "gold": golds[i],
                    "pred": preds[i],
                    "prob": None if probs[i] is None else round(float(probs[i]), 4),
                    "loss": round(float(losses[i]), 5),
                }
            )
        return {
            "step": self.step,
            "task": self.task,
            "labels": [str(n) for n in self.data.label_names],
            "rows": rows,
        }

    def _label(self, cls: int) -> str:
        names = self.data.label_names
        return str(names[cls]) if 0 <= cls < len(names) else str(cls)
