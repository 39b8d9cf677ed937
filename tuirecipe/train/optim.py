"""The optimizer a run trains with, built from ``[train]``.

The trainer takes any ``torch.optim.Optimizer`` (and optionally an LR scheduler, stepped
once per optimizer step); this factory is what a job uses when it passes none. The config
has no learning-rate schedule key yet, so a run's rate is constant unless a caller (a
check's LR range callback, a test) changes it.
"""

from __future__ import annotations

import torch
from torch import nn

from tuirecipe.config import TrainConfig


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over every parameter at ``train.lr`` and ``train.weight_decay``.

    Frozen parameters are included on purpose: they get no gradient, so AdamW skips them,
    and a caller that unfreezes one later does not need a new optimizer.
    """
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """The same learning rate for every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr
