"""The optimizer and the learning-rate schedule a run trains with, built from ``[train]``.

The trainer takes any ``torch.optim.Optimizer`` (and optionally an LR scheduler, stepped
once per optimizer step); :func:`make_optimizer` is what it uses when it is given none, and
a training job passes :func:`make_scheduler`'s schedule. The checks' short runs keep the
configured rate constant: a warm-up or decay squeezed into a few dozen steps would measure
the schedule, not the model.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tuirecipe.config import TrainConfig


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over every parameter at ``train.lr`` and ``train.weight_decay``.

    Frozen parameters are included on purpose: they get no gradient, so AdamW skips them,
    and a caller that unfreezes one later does not need a new optimizer.

    On CUDA the fused implementation (one kernel for every parameter's update): on an
    H200 it turned a bf16 512d×6 transformer from 20.6 into 69.7 steps/s (issue 16), the
    per-parameter kernels of the plain AdamW being most of a small step.
    """
    params = list(model.parameters())
    fused = bool(params) and all(p.device.type == "cuda" for p in params)
    if fused:
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """The same learning rate for every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def schedule_factor(step: int, total: int, schedule: str, warmup: int) -> float:
    """The multiple of ``train.lr`` used by optimizer step ``step + 1`` of ``total``.

    A linear warm-up over ``warmup`` steps (the first step at ``1 / warmup``), then
    ``constant`` 1, or a ``linear`` / ``cosine`` decay that reaches 0 just after the last
    step, so every step still moves.
    """
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    span = max(1, total - warmup)
    done = min(1.0, (step - warmup) / span)
    if schedule == "linear":
        return 1.0 - done
    return 0.5 * (1.0 + math.cos(math.pi * done))  # cosine


def make_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR | None:
    """``train.schedule`` with ``train.warmup_steps`` over ``total_steps`` optimizer steps;
    None for a constant rate without warm-up (nothing to step)."""
    if cfg.schedule == "constant" and cfg.warmup_steps == 0:
        return None
    schedule, warmup, total = cfg.schedule, int(cfg.warmup_steps), int(total_steps)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: schedule_factor(step, total, schedule, warmup)
    )
