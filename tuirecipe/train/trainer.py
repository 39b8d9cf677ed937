"""The training loop: small, generic, and as fast as a bare PyTorch loop.

The trainer knows nothing about the model beyond ``forward(input_ids, attention_mask)``.
It pre-converts each split to tensors on the device once; a step slices a shuffled index
batch, trims it to its longest row (dynamic padding), and does forward / backward / the
optimizer (``make_optimizer``: AdamW unless the caller passes another). Per step it adds
only a batch-accuracy reduction, reading the loss, and one ``StepMetrics`` event; on CUDA
the losses are read in blocks of ``log_every`` steps so the GPU is not synchronised every
step. ``train.precision`` and ``train.compile`` are applied by
:class:`~tuirecipe.train.execution.Execution` (autocast around forward passes, in training,
evaluation and the end-of-evaluation hooks alike; fp16's gradient scaler).

Seeding is the caller's: ``seed`` here fixes the data order only (a generator of its own,
no global state touched). A job seeds the global generators before building the model and
again before training (``seed_everything``), so initial weights and dropout are
reproducible (:mod:`tuirecipe.train.job`).

Regression models predict in the targets' own units and train on plain MSE, so train
loss, dev loss and the reported MSE/MAE share one scale. The objective comes from
``train.loss`` (:mod:`tuirecipe.train.losses`); ``train.adversarial`` adds an FGM/PGD loss
on the embedding output (:mod:`tuirecipe.train.adversarial`).

Everything besides the loop is a callback (:mod:`tuirecipe.train.callbacks`) or a hook:
callables receiving the trainer at ``HOOK_POINTS``. A hook can read ``trainer.step``,
``trainer.loss`` (a tensor: reading it costs a sync on CUDA), ``trainer.last_eval``, change
``trainer.optimizer``'s learning rate, or call ``request_stop()`` (ends "stopped") or
``stop_early(reason)`` (ends "finished").

"Best" is judged by ``train.monitor`` (:mod:`tuirecipe.monitor`, dev loss by default):
after each evaluation ``trainer.improved`` says whether it is the best so far, and
``trainer.best_eval`` is that evaluation. Which weights the run ends with is the
:class:`~tuirecipe.train.callbacks.Checkpoints` callback's business (``train.keep``); it
sets ``trainer.kept`` / ``trainer.kept_eval``, and without it the run keeps its last
weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from tuirecipe.config import TrainConfig
from tuirecipe.events import EvalMetrics, Event, Log, RunStatus
from tuirecipe.monitor import resolve_monitor
from tuirecipe.train.adversarial import make_adversary
from tuirecipe.train.batches import (
    SplitTensors,
    check_output_shape,
    class_weights,
    evaluate,
    iter_batches,
)
from tuirecipe.train.callbacks import standard_callbacks
from tuirecipe.train.control import Control
from tuirecipe.train.execution import Execution
from tuirecipe.train.losses import make_loss_fn
from tuirecipe.train.optim import make_optimizer
from tuirecipe.train.prepared import TrainingData
from tuirecipe.train.steplog import NumericsError, StepLog, resolve_log_every

HOOK_POINTS = ("on_batch_end", "on_eval_end", "on_epoch_end", "on_train_end")
__all__ = ["HOOK_POINTS", "NumericsError", "TrainResult", "Trainer"]


@dataclass
class TrainResult:
    steps: int
    epochs: float  # fractional: steps / steps per epoch
    final_eval: dict[str, Any]  # the last dev evaluation ({} when there was none)
    best_eval: dict[str, Any]  # the evaluation with the best monitored figure
    state: str  # "finished" | "stopped"
    elapsed: float = 0.0  # seconds, pauses excluded
    kept: str = "last"  # whose weights the model ends with: "best" | "last"
    kept_eval: dict[str, Any] = field(default_factory=dict)  # that checkpoint's evaluation


class Trainer:
    """``callbacks=None`` means the config's own (``standard_callbacks``); pass a list,
    possibly empty, to choose them. ``scheduler``: anything with ``step()``, called after
    each optimizer step."""

    def __init__(
        self,
        model: nn.Module,
        data: TrainingData,
        train_cfg: TrainConfig,
        *,
        seed: int,
        emit: Callable[[Event], None],
        control: Control | None = None,
        device: torch.device | str | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        scheduler: Any = None,
        callbacks: Iterable[Any] | None = None,
        embedding_module: str = "",
    ) -> None:
        self.cfg, self.data, self.task, self.emit = train_cfg, data, data.task, emit
        self.control, self.scheduler = control, scheduler
        self.device = torch.device(device if device is not None else "cpu")
        self.generator = torch.Generator().manual_seed(seed)  # data order only
        self.model = model.to(self.device)
        self.optimizer = optimizer or make_optimizer(self.model, train_cfg)
        self.hooks: dict[str, list[Callable[[Trainer], None]]] = {p: [] for p in HOOK_POINTS}
        pad_id = int(data.vocab.pad_id)
        self.train_tensors = SplitTensors.from_split(data.train, self.task, self.device, pad_id)
        self.dev_tensors = SplitTensors.from_split(data.dev, self.task, self.device, pad_id)
        self.num_classes = len(data.label_names) or len(data.class_counts)
        weighted = train_cfg.class_weights and self.task == "classification"
        weight = class_weights(list(data.class_counts)).to(self.device) if weighted else None
        self.loss_fn = make_loss_fn(train_cfg, self.task, weight)
        self.adversary = make_adversary(self.model, self.loss_fn, train_cfg, embedding_module)
        self.step, self.epoch = 0, 0
        if control is not None and control.on_state is None:
            control.on_state = lambda state: emit(RunStatus(state=state, step=self.step))
        self.read_every_step = self.device.type == "cpu"  # else in blocks: see StepLog
        self.log_every = resolve_log_every(train_cfg.log_every, self.device.type)
        # train.precision (autocast, fp16's scaler, TF32) and train.compile
        self.execution = Execution(self.model, self.device, train_cfg, self.adversary, emit)
        self.steps_per_epoch = max(1, math.ceil(len(self.train_tensors) / train_cfg.batch_size))
        self.loss: torch.Tensor | None = None
        self.last_eval, self.best_eval = {}, {}  # type: dict[str, Any], dict[str, Any]
        self.kept_eval: dict[str, Any] = {}  # these two set at train end by Checkpoints
        self.kept, self.improved = "last", False
        self.monitor, self.monitor_note = resolve_monitor(
            train_cfg.monitor, self.task, list(data.class_counts)
        )
        self.early_stop_reason, self._stop, self._t0, self._last_eval_step = "", False, 0.0, -1
        for callback in standard_callbacks(train_cfg, seed) if callbacks is None else callbacks:
            self.add_callback(callback)

    def add_hook(self, point: str, fn: Callable[[Trainer], None]) -> None:
        if point not in self.hooks:
            raise ValueError(f"unknown hook point '{point}'; use one of {', '.join(HOOK_POINTS)}")
        self.hooks[point].append(fn)

    def add_callback(self, callback: Any) -> None:
        """Register each of ``callback``'s methods that is named after a hook point."""
        for point in HOOK_POINTS:
            if callable(getattr(callback, point, None)):
                self.hooks[point].append(getattr(callback, point))

    def request_stop(self) -> None:
        """Stop after the current step (for hooks); the run ends as "stopped"."""
        self._stop = True

    def stop_early(self, reason: str) -> None:
        """Stop after the current step and end as "finished" (early stopping)."""
        self.early_stop_reason, self._stop = reason, True
        self.emit(Log(message=reason))

    def elapsed(self) -> float:
        paused = self.control.paused_seconds if self.control is not None else 0.0
        return time.perf_counter() - self._t0 - paused

    def run(self) -> TrainResult:
        cfg, model, opt, control = self.cfg, self.model, self.optimizer, self.control
        params = [p for p in model.parameters() if p.requires_grad]
        task, loss_fn, adversary = self.task, self.loss_fn, self.adversary
        classify, batch_end = task == "classification", self.hooks["on_batch_end"]
        self.log = log = StepLog(
            self.emit, self.steps_per_epoch, self.log_every, self.read_every_step, classify
        )
        self._t0, state = time.perf_counter(), "finished"
        if self.monitor_note:
            self.emit(Log(message=self.monitor_note))
        ex = self.execution
        model.train()
        for self.epoch in range(cfg.epochs):
            for ids, mask, y in iter_batches(
                self.train_tensors, cfg.batch_size, generator=self.generator
            ):
                if (control is not None and control.checkpoint()) or self._stop:
                    state = "finished" if self.early_stop_reason else "stopped"
                    break
                with ex.autocast():
                    out = (ex.forward if self.step else ex.first_forward)(ids, mask)
                    if self.step == 0:
                        check_output_shape(out, len(y), task, self.num_classes)
                    loss = total = loss_fn(out, y)
                    if adversary is not None:  # clean + adversarial; the clean loss is reported
                        total = loss + adversary.loss(ids, mask, y, loss)
                opt.zero_grad(set_to_none=True)
                lr = opt.param_groups[0]["lr"]  # the rate this step uses
                ex.backward(total)
                ex.step(opt, params, cfg.grad_clip)
                if self.scheduler is not None:
                    self.scheduler.step()
                self.step += 1
                self.loss = loss
                log.record(self.step, loss, out, y, self.elapsed(), lr, mask)
                for hook in batch_end:
                    hook(self)
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    self._evaluate()
                if cfg.max_steps and self.step >= cfg.max_steps:
                    break
            else:  # the epoch ran to its end
                if self._last_eval_step != self.step:
                    self._evaluate()
                self._call("on_epoch_end")
                if not self._stop:
                    continue
                state = "finished" if self.early_stop_reason else "stopped"
            break  # stopped, or max_steps reached
        log.flush()
        if state == "finished" and self._last_eval_step != self.step:
            self._evaluate()  # max_steps ended the run mid-epoch
        self._call("on_train_end")
        epochs = self.step / self.steps_per_epoch
        kept = self.kept_eval or (self.last_eval if self.last_eval.get("step") == self.step else {})
        best, last = self.best_eval, self.last_eval
        return TrainResult(self.step, epochs, last, best, state, self.elapsed(), self.kept, kept)

    def _call(self, point: str) -> None:
        with self.execution.autocast():  # a hook's predictions come in the run's precision
            for hook in self.hooks[point]:
                hook(self)

    def _evaluate(self) -> None:
        self.log.flush()
        self._last_eval_step = self.step
        if len(self.dev_tensors) == 0:
            return
        with self.execution.autocast():  # evaluated in the precision it trains in
            result = evaluate(
                self.model, self.dev_tensors, task=self.task, batch_size=self.cfg.batch_size
            )
        self.last_eval = {"step": self.step, **result}
        value, best = self.monitor.value(result), self.monitor.value(self.best_eval)
        self.improved = value is not None and self.monitor.improves(value, best)
        if self.improved:
            self.best_eval = self.last_eval
        self.emit(eval_event(result, self.step, self.step / self.steps_per_epoch))
        self._call("on_eval_end")


def eval_event(result: dict[str, Any], step: int, epoch: float, split: str = "dev") -> EvalMetrics:
    """The event for an :func:`~tuirecipe.train.batches.evaluate` result: its figures as
    ``metrics``, the intervals, the row count and the per-class figures apart."""
    metrics = {k: v for k, v in result.items() if k not in ("ci", "n", "per_class")}
    return EvalMetrics(
        step=step,
        epoch=epoch,
        split=split,
        metrics=metrics,
        ci=result["ci"],
        n=result["n"],
        per_class=result.get("per_class", {}),
    )
