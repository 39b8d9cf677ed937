"""Per-step metrics of a training run, read without stalling an accelerator.

Reading a loss on the CPU is free; on CUDA it waits for the device. So on the CPU each
step is read and emitted at once, and elsewhere the step's tensors are kept and read in
blocks of ``log_every`` steps (one synchronisation per block). Either way every step gets
its ``StepMetrics`` event, and a NaN or infinite loss stops the run naming its step.
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
        self.examples = 0
        self._pending: list[tuple[int, torch.Tensor, Any, int, int, float, float]] = []

    def record(
        self,
        step: int,
        loss: torch.Tensor,
        out: torch.Tensor,
        y: torch.Tensor,
        elapsed: float,
        lr: float,
    ) -> None:
        """Step ``step`` trained on targets ``y`` with outputs ``out`` at rate ``lr``."""
        self.examples += len(y)
        if self.read_every_step:  # numpy is cheaper than torch ops on this path
            correct = (
                int(np.count_nonzero(out.detach().argmax(1).numpy() == y.numpy()))
                if self.classify
                else None
            )
            self._emit(step, loss.item(), correct, len(y), self.examples, elapsed, lr)
            return
        hits = (out.detach().argmax(1) == y).sum() if self.classify else None
        self._pending.append((step, loss.detach(), hits, len(y), self.examples, elapsed, lr))
        if len(self._pending) >= self.block:
            self.flush()

    def flush(self) -> None:
        """Read the pending losses (one sync) and emit their events."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        losses = torch.stack([p[1] for p in pending]).tolist()
        corrects = (
            torch.stack([p[2] for p in pending]).tolist()
            if pending[0][2] is not None
            else [None] * len(pending)
        )
        for (step, _, _, size, examples, elapsed, lr), loss, correct in zip(
            pending, losses, corrects
        ):
            self._emit(step, loss, correct, size, examples, elapsed, lr)

    def _emit(
        self,
        step: int,
        loss: float,
        correct: int | None,
        size: int,
        examples: int,
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
                elapsed=elapsed,
            )
        )
        if not math.isfinite(loss):
            raise NumericsError(loss, step)
