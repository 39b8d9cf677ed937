"""The training loop: small, generic, and as fast as a bare PyTorch loop.

The trainer knows nothing about the model beyond ``forward(input_ids, attention_mask)``.
It pre-converts each split to tensors on the device once; a step slices a shuffled index
batch, trims it to its longest row (dynamic padding), and does forward / backward / the
optimizer (``make_optimizer``: AdamW unless the caller passes another). Per step it adds
only a batch-accuracy reduction, reading the loss, and one ``StepMetrics`` event; on CUDA
the losses are read in blocks of ``log_every`` steps so the GPU is not synchronised every
step. An optimizer step takes ``train.grad_accum_steps`` batches (:func:`iter_steps`,
:func:`forward_backward`); steps, step events and hooks count optimizer steps.
``train.precision`` and ``train.compile`` are applied by
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
from collections.abc import Callable, Iterable, Iterator
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

# on_step_end: after an optimizer step and the evaluation due at it, if any (checkpoints)
HOOK_POINTS = ("on_batch_end", "on_eval_end", "on_step_end", "on_epoch_end", "on_train_end")
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
    """``callbacks=None``: the config's own (``standard_callbacks``); pass a list, maybe
    empty, to choose them. ``scheduler``: anything with ``step()``, stepped per step."""

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
        distributed: Any = None,
    ) -> None:
        self.cfg, self.data, self.task, self.emit = train_cfg, data, data.task, emit
        self.control, self.scheduler = control, scheduler
        self.device = torch.device(device if device is not None else "cpu")
        self.generator = torch.Generator().manual_seed(seed)  # data order only
        self.model = model.to(self.device)
        # One of several data-parallel processes (tuirecipe.train.distributed): this one
        # trains through the DDP wrapper on its shard; self.model stays the plain module.
        self.shard = distributed.shard if distributed is not None else None
        self.train_model = distributed.wrap(self.model) if distributed is not None else self.model
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
        rows = len(self.train_tensors)
        rows = -(-rows // self.shard[1]) if self.shard is not None else rows
        self.steps_per_epoch = steps_per_epoch(rows, train_cfg)
        # Batches done this epoch, data-order RNG at its shuffle; resumed: (s, examples, tokens)
        self.position, self.epoch_rng, self.resumed = 0, self.generator.get_state(), (0.0, 0, 0)
        self.log_every = resolve_log_every(train_cfg.log_every, self.device.type)
        # train.precision and train.compile, on the model steps train through (maybe DDP's)
        self.execution = Execution(self.train_model, self.device, train_cfg, self.adversary, emit)
        self.loss: torch.Tensor | None = None
        self.last_eval, self.best_eval = {}, {}  # type: dict[str, Any], dict[str, Any]
        self.kept_eval: dict[str, Any] = {}  # these two set at train end by Checkpoints
        self.kept, self.improved = "last", False
        self.monitor, self.monitor_note = resolve_monitor(
            train_cfg.monitor, self.task, list(data.class_counts)
        )
        self.early_stop_reason, self._stop, self._t0, self._last_eval_step = "", False, 0.0, -1
        self.end_state, self.callbacks = "", []  # type: str, list[Any]
        for callback in standard_callbacks(train_cfg, seed) if callbacks is None else callbacks:
            self.add_callback(callback)

    def add_hook(self, point: str, fn: Callable[[Trainer], None]) -> None:
        if point not in self.hooks:
            raise ValueError(f"unknown hook point '{point}'; use one of {', '.join(HOOK_POINTS)}")
        self.hooks[point].append(fn)

    def add_callback(self, callback: Any) -> None:
        """Register each of ``callback``'s methods that is named after a hook point."""
        self.callbacks.append(callback)
        for point in HOOK_POINTS:
            if callable(getattr(callback, point, None)):
                self.hooks[point].append(getattr(callback, point))

    def request_stop(self) -> None:
        """Stop after the current step (for hooks); the run ends as "stopped"."""
        self._stop = True

    @property
    def stopping(self) -> bool:
        """Whether a hook or early stopping asked to stop after this step."""
        return self._stop

    def stop_early(self, reason: str) -> None:
        """Stop after the current step and end as "finished" (early stopping)."""
        self.early_stop_reason, self._stop = reason, True
        self.emit(Log(message=reason))

    def elapsed(self) -> float:
        paused = self.control.paused_seconds if self.control is not None else 0.0
        return time.perf_counter() - self._t0 - paused + self.resumed[0]

    def run(self) -> TrainResult:
        cfg, model, opt, control = self.cfg, self.train_model, self.optimizer, self.control
        params = [p for p in model.parameters() if p.requires_grad]
        classify, batch_end = self.task == "classification", self.hooks["on_batch_end"]
        self.log = log = StepLog(
            self.emit, self.steps_per_epoch, self.log_every, self.read_every_step, classify
        )
        self._t0, state = time.perf_counter(), "finished"
        log.examples, log.tokens = self.resumed[1:]
        if self.monitor_note:
            self.emit(Log(message=self.monitor_note))
        ex = self.execution
        model.train()
        first_epoch = self.epoch  # 0 unless resumed
        for self.epoch in range(first_epoch, cfg.epochs):
            if self.epoch != first_epoch:  # a new epoch: its shuffle is drawn from here
                self.epoch_rng, self.position = self.generator.get_state(), 0
            self.generator.set_state(self.epoch_rng)  # a resumed epoch draws it again
            for group in iter_steps(
                self.train_tensors,
                cfg,
                generator=self.generator,
                start=self.position,
                shard=self.shard,
            ):
                if (control is not None and control.checkpoint()) or self._stop:
                    state = "finished" if self.early_stop_reason else "stopped"
                    break
                opt.zero_grad(set_to_none=True)
                loss, out, y, mask = forward_backward(self, group)
                self.position += len(group)
                lr = opt.param_groups[0]["lr"]  # the rate this step uses
                ex.step(opt, params, cfg.grad_clip)
                if self.scheduler is not None:
                    self.scheduler.step()
                self.step += 1
                self.loss = loss
                log.record(self.step, loss, out, y, self.elapsed(), lr, mask)
                for hook in batch_end:
                    hook(self)
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    evaluate_dev(self)
                self._call("on_step_end")
                if cfg.max_steps and self.step >= cfg.max_steps:
                    break
            else:  # the epoch ran to its end
                if self._last_eval_step != self.step:
                    evaluate_dev(self)
                self._call("on_epoch_end")
                if not self._stop:
                    continue
                state = "finished" if self.early_stop_reason else "stopped"
            break  # stopped, or max_steps reached
        log.flush()
        if state == "finished" and self._last_eval_step != self.step:
            evaluate_dev(self)  # max_steps ended the run mid-epoch
        self.end_state = state
        self._call("on_train_end")
        epochs = self.step / self.steps_per_epoch
        kept = self.kept_eval or (self.last_eval if self.last_eval.get("step") == self.step else {})
        best, last = self.best_eval, self.last_eval
        return TrainResult(self.step, epochs, last, best, state, self.elapsed(), self.kept, kept)

    def _call(self, point: str) -> None:
        with self.execution.autocast():  # a hook's predictions come in the run's precision
            for hook in self.hooks[point]:
                hook(self)


def evaluate_dev(trainer: Trainer) -> None:
    """Evaluate on the dev split now (in the run's precision), note whether the monitored
    figure improved, emit the evaluation and call the ``on_eval_end`` hooks."""
    trainer.log.flush()
    trainer._last_eval_step = trainer.step
    if len(trainer.dev_tensors) == 0:
        return
    with trainer.execution.autocast():  # evaluated in the precision it trains in
        result = evaluate(
            trainer.model, trainer.dev_tensors, task=trainer.task, batch_size=trainer.cfg.batch_size
        )
    trainer.last_eval = {"step": trainer.step, **result}
    monitor = trainer.monitor
    value, best = monitor.value(result), monitor.value(trainer.best_eval)
    trainer.improved = value is not None and monitor.improves(value, best)
    if trainer.improved:
        trainer.best_eval = trainer.last_eval
    trainer.emit(eval_event(result, trainer.step, trainer.step / trainer.steps_per_epoch))
    trainer._call("on_eval_end")


def steps_per_epoch(rows: int, cfg: TrainConfig) -> int:
    """Optimizer steps in one epoch of ``rows`` training rows: a step takes
    ``train.grad_accum_steps`` batches, the epoch's last one what is left."""
    batches = max(1, math.ceil(rows / cfg.batch_size))
    return max(1, math.ceil(batches / max(1, cfg.grad_accum_steps)))


Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def iter_steps(
    tensors: SplitTensors,
    cfg: TrainConfig,
    *,
    generator: torch.Generator,
    start: int = 0,
    shard: tuple[int, int] | None = None,
) -> Iterator[list[Batch]]:
    """One epoch as optimizer steps: each a list of ``train.grad_accum_steps`` batches of
    ``train.batch_size`` (the epoch's last step takes what is left), from batch ``start``."""
    accum, group = max(1, cfg.grad_accum_steps), []  # type: int, list[Batch]
    batches = iter_batches(tensors, cfg.batch_size, generator=generator, start=start, shard=shard)
    for batch in batches:
        group.append(batch)
        if len(group) == accum:
            yield group
            group = []
    if group:
        yield group


def forward_backward(
    trainer: Trainer, group: list[Batch]
) -> tuple[torch.Tensor, Any, Any, torch.Tensor]:
    """Forward and backward passes over one optimizer step's batches, in the run's precision
    (:class:`~tuirecipe.train.execution.Execution`); the step's mean loss (the clean loss,
    when adversarial training adds its own), outputs, targets and attention mask (flattened
    when several batches of different widths make the step: only its non-zeros count).

    With several batches each batch's mean loss is weighted by its share of the step's
    rows, so N batches of B rows give the gradient of one batch of N x B rows.
    """
    ex, loss_fn, adversary = trainer.execution, trainer.loss_fn, trainer.adversary
    rows = sum(len(y) for _, _, y in group) if len(group) > 1 else 0
    parts: list[Batch] = []  # (weighted loss, outputs, targets) of each batch
    for ids, mask, y in group:
        first = trainer.step == 0 and not parts
        with ex.autocast():
            out = (ex.first_forward if first else ex.forward)(ids, mask)
            if first:
                check_output_shape(out, len(y), trainer.task, trainer.num_classes)
            loss = total = loss_fn(out, y)
            if adversary is not None:  # clean + adversarial; the clean loss is reported
                total = loss + adversary.loss(ids, mask, y, loss)
        if len(group) == 1:
            ex.backward(total)
            return loss, out, y, mask
        share = len(y) / rows
        ex.backward(total * share)
        parts.append((loss.detach() * share, out.detach(), y))
    loss = torch.stack([p[0] for p in parts]).sum()
    masks = torch.cat([m.reshape(-1) for _, m, _ in group])
    return loss, torch.cat([p[1] for p in parts]), torch.cat([p[2] for p in parts]), masks


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
