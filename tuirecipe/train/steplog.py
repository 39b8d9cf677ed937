"""Per-step metrics of a training run, read without stalling an accelerator.

Reading a loss on the CPU is free; on CUDA it waits for the device. So on the CPU each
step is read and emitted at once, and elsewhere the step's tensors are kept and read in
blocks of ``log_every`` steps (one synchronisation per block). Either way every step gets
its ``StepMetrics`` event, and a NaN or infinite loss stops the run naming its step.

Each event also carries the non-padding tokens trained on so far (the attention masks'
sums, kept on the device like the losses), from which :mod:`tuirecipe.throughput` gives
tokens/s and TFLOP/s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from tuirecipe.errors import UserError
from tuirecipe.events import Event, StepMetrics


class NumericsError(UserError):
    """The loss became NaN or infinite (``loss``) at step ``step``."""

    def __init__(self, loss: float, step: int) -> None:
        self.loss, self.step = loss, step
        super().__init__(
            f"loss became {loss} at step {step}; try a lower learning rate, "
            "gradient clipping, or check the inputs"
        )


AUTO_LOG_EVERY = {"cpu": 1}  # train.log_every = 0 (auto) per device type ...
ACCELERATOR_LOG_EVERY = 50  # ... and on any other: one sync per 50 steps


def resolve_log_every(log_every: int, device_type: str) -> int:
    """``train.log_every``, with 0 (auto) chosen for the device: every step on the CPU,
    where reading costs nothing, blocks of :data:`ACCELERATOR_LOG_EVERY` elsewhere."""
    if log_every > 0:
        return log_every
    return AUTO_LOG_EVERY.get(device_type, ACCELERATOR_LOG_EVERY)


class StepLog:
    def __init__(
        self,
        emit: Callable[[Event], None],
        steps_per_epoch: int,
        block: int,
        read_every_step: bool,
        classify: bool,
    ) -> None:
        self.emit, self.steps_per_epoch, self.block = emit, steps_per_epoch, block
        self.read_every_step, self.classify = read_every_step, classify
        self.examples = self.tokens = 0
        self._pending: list[tuple[int, torch.Tensor, Any, Any, int, int, float, float]] = []

    def record(
        self,
        step: int,
        loss: torch.Tensor,
        out: torch.Tensor,
        y: torch.Tensor,
        elapsed: float,
        lr: float,
        mask: torch.Tensor | None = None,
    ) -> None:
        """Step ``step`` trained on targets ``y`` with outputs ``out`` at rate ``lr``;
        ``mask``: the batch's attention mask (its sum is the step's tokens)."""
        self.examples += len(y)
        if self.read_every_step:  # numpy is cheaper than torch ops on this path
            correct = (
                int(np.count_nonzero(out.detach().argmax(1).numpy() == y.numpy()))
                if self.classify
                else None
            )
            if mask is not None:
                self.tokens += int(np.count_nonzero(mask.numpy()))
            self._emit(step, loss.item(), correct, len(y), self.examples, self.tokens, elapsed, lr)
            return
        hits = (out.detach().argmax(1) == y).sum() if self.classify else None
        tokens = mask.sum() if mask is not None else None
        self._pending.append(
            (step, loss.detach(), hits, tokens, len(y), self.examples, elapsed, lr)
        )
        if len(self._pending) >= self.block:
            self.flush()

    def flush(self) -> None:
        """Read the pending losses (one sync) and emit their events."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        losses = torch.stack([p[1] for p in pending]).tolist()  # the one wait
        corrects = self._read([p[2] for p in pending])
        tokens = self._read([p[3] for p in pending])
        for (step, _, _, _, size, examples, elapsed, lr), loss, correct, count in zip(
            pending, losses, corrects, tokens
        ):
            if count is not None:
                self.tokens += int(count)
            self._emit(step, loss, correct, size, examples, self.tokens, elapsed, lr)

    @staticmethod
    def _read(values: list[Any]) -> list[Any]:
        """Device scalars as numbers (None stays None: no mask, or regression)."""
        if values[0] is None:
            return [None] * len(values)
        return torch.stack(values).tolist()

    def _emit(
        self,
        step: int,
        loss: float,
        correct: int | None,
        size: int,
        examples: int,
        tokens: int,
        elapsed: float,
        lr: float,
    ) -> None:
        self.emit(
            StepMetrics(
                step=step,
                epoch=step / self.steps_per_epoch,
                loss=loss,
                lr=lr,
                acc=None if correct is None else correct / size,
                examples=examples,
                tokens=tokens,
                elapsed=elapsed,
            )
        )
        if not math.isfinite(loss):
            raise NumericsError(loss, step)
