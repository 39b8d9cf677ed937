"""Models built to fail one sanity check each, loaded as user models in the check tests.

Every builder takes a ``ModelSpec`` like a user's ``build(spec)``; each model has an
``nn.Embedding`` (the checks hook it) and an ``nn.Linear`` output layer called ``head``.

- ``build_unseeded_noise``: dropout-like noise from numpy's unseeded ``default_rng()``
  (fixed_seed must fail).
- ``build_huge_logits``: the output layer's weights scaled up 300×: confident, wrong
  initial logits (init_loss and initialisation must fail).
- ``build_zero_output``: the output layer's weights and bias start at zero, so the
  initial outputs are exactly zero (closed forms: log C; the prior's entropy once
  ``init_output_bias`` sets the bias).
- ``build_input_ignoring``: outputs a learned bias only; the embedding is never used
  (input_independent and overfit_batch must fail).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class _Averaged(nn.Module):
    """fastText-like: mean of the token embeddings → linear head."""

    def __init__(self, spec) -> None:
        super().__init__()
        dim = int(spec.options.get("embed_dim", 16))
        self.embedding = nn.Embedding(spec.vocab_size, dim, padding_idx=spec.pad_id)
        self.head = nn.Linear(dim, spec.num_outputs)

    def features(self, input_ids, attention_mask):
        m = attention_mask.unsqueeze(-1).float()
        return (self.embedding(input_ids) * m).sum(1) / m.sum(1).clamp(min=1.0)

    def forward(self, input_ids, attention_mask):
        return self.head(self.features(input_ids, attention_mask))


class UnseededNoise(_Averaged):
    def __init__(self, spec) -> None:
        super().__init__(spec)
        self.rng = np.random.default_rng()  # fresh OS entropy: no seed reaches it

    def forward(self, input_ids, attention_mask):
        h = self.features(input_ids, attention_mask)
        if self.training:
            keep = torch.from_numpy(self.rng.random(tuple(h.shape)) > 0.3).to(h.dtype)
            h = h * keep / 0.7
        return self.head(h)


class InputIgnoring(nn.Module):
    def __init__(self, spec) -> None:
        super().__init__()
        self.embedding = nn.Embedding(spec.vocab_size, 8, padding_idx=spec.pad_id)
        self.bias = nn.Parameter(torch.zeros(spec.num_outputs))

    def forward(self, input_ids, attention_mask):
        return self.bias.expand(input_ids.shape[0], -1)


def build_unseeded_noise(spec) -> nn.Module:
    return UnseededNoise(spec)


def build_huge_logits(spec) -> nn.Module:
    model = _Averaged(spec)
    with torch.no_grad():
        model.head.weight.mul_(300.0)
    return model


def build_zero_output(spec) -> nn.Module:
    model = _Averaged(spec)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    return model


def build_input_ignoring(spec) -> nn.Module:
    return InputIgnoring(spec)
