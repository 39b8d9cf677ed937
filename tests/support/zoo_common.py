"""More broken models for the bug zoo (bug_zoo.py, this folder): common mistakes that the
models of failing_models.py, zoo_newchecks.py and zoo_verdicts.py do not cover.

Each builder takes a ``ModelSpec`` like a user's ``build(spec)``; each model pools the
masked token embeddings (``nn.Embedding`` called ``embedding``) into an ``nn.Linear``
``head``, and differs from that sound model by one bug.

- ``build_probabilities_out``: returns ``softmax(logits)`` — probabilities where the loss
  expects logits (the loss applies softmax a second time): the loss cannot go far below
  ``log C`` and one batch cannot be learnt (overfit_batch must fail).
- ``build_detached_embedding``: the pooled embedding goes through ``.detach()`` before the
  head: the embedding never receives a gradient (gradient_flow must fail).
- ``build_frozen_embedding``: ``embedding.weight.requires_grad = False`` left over from an
  experiment: the random embedding never trains (gradient_flow must warn and list it).
- ``build_bias_far_off``: the output bias starts at +8 for class 0, so every initial
  prediction is confidently class 0 (init_loss must fail).
- ``build_backprop_mixing``: adds ``roll(h) - roll(h).detach()``: zero in the forward pass,
  yet it sends each row's gradient to its neighbour (batch_independence must fail while
  forward_independence passes).
"""

from __future__ import annotations

import torch
from torch import nn


class _Pooled(nn.Module):
    def __init__(self, spec) -> None:
        super().__init__()
        dim = int(spec.options.get("embed_dim", 16))
        self.embedding = nn.Embedding(spec.vocab_size, dim, padding_idx=spec.pad_id)
        self.head = nn.Linear(dim, spec.num_outputs)

    def pooled(self, ids, mask):
        m = mask.unsqueeze(-1).float()
        return (self.embedding(ids) * m).sum(1) / m.sum(1).clamp(min=1.0)

    def forward(self, ids, mask):
        return self.head(self.pooled(ids, mask))


class ProbabilitiesOut(_Pooled):
    def forward(self, ids, mask):
        return torch.softmax(self.head(self.pooled(ids, mask)), dim=-1)


class DetachedEmbedding(_Pooled):
    def forward(self, ids, mask):
        return self.head(self.pooled(ids, mask).detach())


class BackpropMixing(_Pooled):
    def forward(self, ids, mask):
        h = self.pooled(ids, mask)
        mate = torch.roll(h, 1, 0)
        return self.head(h + (mate - mate.detach()))


def build_probabilities_out(spec) -> nn.Module:
    return ProbabilitiesOut(spec)


def build_detached_embedding(spec) -> nn.Module:
    return DetachedEmbedding(spec)


def build_frozen_embedding(spec) -> nn.Module:
    model = _Pooled(spec)
    model.embedding.weight.requires_grad_(False)
    return model


def build_bias_far_off(spec) -> nn.Module:
    model = _Pooled(spec)
    with torch.no_grad():
        model.head.bias.zero_()
        model.head.bias[0] = 8.0
    return model


def build_backprop_mixing(spec) -> nn.Module:
    return BackpropMixing(spec)
