"""Adversarial training on the embedding output: FGM and PGD.

Token ids are discrete, so the perturbation goes on the output of the embedding module
(``find_embedding(model, model.embedding_module)``) through a forward hook — the weights
themselves are never touched by it. Per example, ``r`` has an L2 norm of at most
``epsilon`` over all of that example's embedding values:

- FGM (Miyato et al., 2017): one step, ``r = epsilon * g / ||g||`` with ``g`` the
  gradient of the clean loss with respect to the embedding output.
- PGD (Madry et al., 2018): ``steps`` steps of size ``alpha`` along the normalised
  gradient of the perturbed loss, each projected back onto the epsilon ball.

The adversarial loss (the loss on the perturbed input) is added to the clean loss. The
inner PGD steps use ``torch.autograd.grad`` with respect to ``r`` only, so no parameter
gradient is accumulated by them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from tuirecipe.models.registry import find_embedding

_TINY = 1e-12


def per_example_norm(x: torch.Tensor) -> torch.Tensor:
    """L2 norm over every dimension but the first, shaped to broadcast against ``x``."""
    norms = x.detach().reshape(len(x), -1).norm(dim=1)
    return norms.reshape(-1, *([1] * (x.dim() - 1)))


def _unit(g: torch.Tensor) -> torch.Tensor:
    return g / (per_example_norm(g) + _TINY)


def project(r: torch.Tensor, epsilon: float) -> torch.Tensor:
    """``r`` scaled down, example by example, onto the L2 ball of radius ``epsilon``."""
    norm = per_example_norm(r)
    return r * torch.clamp(epsilon / (norm + _TINY), max=1.0)


class EmbeddingAdversary:
    """Adds an adversarial loss computed by perturbing the embedding output.

    While training with gradients enabled, the hook adds a zero tensor that requires
    grad to the embedding output on the clean forward pass, so the gradient with respect
    to the embedding output is available even when the embedding is frozen.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        *,
        method: str = "fgm",
        epsilon: float = 1.0,
        alpha: float = 0.3,
        steps: int = 3,
        embedding_module: str = "",
    ) -> None:
        if method not in ("fgm", "pgd"):
            raise ValueError(f"unknown adversarial method '{method}'")
        self.model = model
        self.loss_fn = loss_fn
        self.method, self.epsilon, self.alpha, self.steps = method, epsilon, alpha, steps
        self.module = find_embedding(model, embedding_module)
        self._delta: torch.Tensor | None = None  # added to the next forward's output
        self._probe: torch.Tensor | None = None  # zero tensor of the last clean forward
        self.last_r: torch.Tensor | None = None  # the perturbation of the last call
        self._handle = self.module.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor | None:
        if not isinstance(output, torch.Tensor) or not torch.is_grad_enabled():
            return None
        if self._delta is not None:
            return output + self._delta
        if module.training:
            self._probe = torch.zeros_like(output, requires_grad=True)
            return output + self._probe
        return None

    def remove(self) -> None:
        self._handle.remove()

    def _forward_with(self, r: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self._delta = r
        try:
            return self.model(ids, mask)
        finally:
            self._delta = None

    def loss(
        self, ids: torch.Tensor, mask: torch.Tensor, targets: torch.Tensor, clean_loss: torch.Tensor
    ) -> torch.Tensor:
        """The adversarial loss for the batch whose clean forward gave ``clean_loss``."""
        probe, self._probe = self._probe, None
        if probe is None:
            raise RuntimeError(
                "the clean forward pass did not go through the embedding module in training mode"
            )
        (g,) = torch.autograd.grad(clean_loss, probe, retain_graph=True)
        if self.method == "fgm":
            r = self.epsilon * _unit(g)
        else:
            # Start from the FGM direction at step size alpha, then climb and project.
            r = project(self.alpha * _unit(g), self.epsilon)
            for _ in range(self.steps - 1):
                r = r.detach().requires_grad_(True)
                inner = self.loss_fn(self._forward_with(r, ids, mask), targets)
                (g,) = torch.autograd.grad(inner, r)
                r = project(r.detach() + self.alpha * _unit(g), self.epsilon)
        r = r.detach()
        self.last_r = r
        return self.loss_fn(self._forward_with(r, ids, mask), targets)


def make_adversary(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    cfg: Any,
    embedding_module: str = "",
) -> EmbeddingAdversary | None:
    """The adversary ``train.adversarial`` asks for (``cfg`` is the ``[train]`` table), or
    None when it is ``"none"``."""
    if cfg.adversarial == "none":
        return None
    return EmbeddingAdversary(
        model,
        loss_fn,
        method=cfg.adversarial,
        epsilon=cfg.adv_epsilon,
        alpha=cfg.adv_alpha,
        steps=cfg.adv_steps,
        embedding_module=embedding_module,
    )
