"""Training objectives: cross-entropy, focal loss, and the pick from ``train.loss``.

Focal loss (Lin et al., 2017) scales each example's cross-entropy by ``(1 - p_t)^gamma``,
so confidently right examples count less and the long tail of hard (often rare-class)
examples counts more. With ``gamma = 0`` it is cross-entropy exactly; class weights
(``train.class_weights``) multiply in the same way as in ``F.cross_entropy`` — the
weighted mean divides by the summed weights of the batch's targets.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from tuirecipe.config import TrainConfig
from tuirecipe.train.batches import compute_loss

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma: float = 2.0,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean focal loss of ``logits [B, C]`` against class ids ``targets [B]``.

    Computed as ``nll_loss`` of modulated log-probabilities, so with ``gamma = 0`` it is
    the very same computation as ``F.cross_entropy`` (bit for bit, weights included).
    """
    logp = F.log_softmax(logits, dim=1)
    if gamma > 0:  # (1 - p)^0 must be exactly 1 (0^0 included): skip it at gamma 0
        logp = (1.0 - logp.exp()).clamp(min=0.0) ** gamma * logp
    return F.nll_loss(logp, targets, weight=weight)


def make_loss_fn(cfg: TrainConfig, task: str, weight: torch.Tensor | None = None) -> LossFn:
    """``loss(output, targets)`` for ``train.loss``; regression always uses MSE.

    ``train.label_smoothing`` (classification, cross-entropy) trains against targets mixed
    with the uniform distribution, so the training loss it reports is the smoothed one (its
    floor is above 0). Only training batches use it: the dev loss stays plain cross-entropy
    (:func:`~tuirecipe.train.batches.evaluate`), comparable across runs whatever they set.
    """
    if task == "classification" and cfg.loss == "focal":
        gamma = cfg.focal_gamma
        return lambda out, y: focal_loss(out, y, gamma, weight)
    if task == "classification" and cfg.label_smoothing > 0:
        smoothing = float(cfg.label_smoothing)
        return lambda out, y: F.cross_entropy(out, y, weight=weight, label_smoothing=smoothing)
    return lambda out, y: compute_loss(out, y, task, weight)
