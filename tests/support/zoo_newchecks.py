"""Models built to fail the forward-pass checks and the forward diagnosis (issue 11).

Each builder takes a ``ModelSpec`` like a user's ``build(spec)`` and loads as a user model
("zoo_newchecks:build_…"); each has an ``nn.Embedding`` and an ``nn.Linear`` ``head``.

- ``build_padded_length_mean``: mean pooling that divides by the padded length
  (padding_invariance must fail).
- ``build_mask_ignoring``: averages every position, padding included, with a pad token
  that has a real embedding: the attention mask is never used (padding_invariance).
- ``build_batch_centred``: subtracts the batch mean of the features, computed under
  ``no_grad`` — no gradient crosses rows, yet outputs do (forward_independence must fail
  where the backprop batch_independence passes).
- ``build_row_mixing``: adds half of the next row's features (forward_independence).
- ``build_eval_dropout``: ``F.dropout(training=True)`` — dropout stays on at eval
  (eval_determinism must fail).
- ``build_sticky_batchnorm``: an overridden ``train()`` keeps its BatchNorm training, so
  evaluating updates the running statistics (eval_determinism must fail).
- ``build_nan_on_one_token``: averages by ``length - 1``: NaN exactly on one-token rows
  (every check must name those rows first).
- ``build_extra_dim``: logits of shape ``[B, C, 1]`` (every check gives the one shape
  message).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class _Pooled(nn.Module):
    def __init__(self, spec, padding_idx: int | None = 0) -> None:
        super().__init__()
        dim = int(spec.options.get("embed_dim", 16))
        pad = spec.pad_id if padding_idx is not None else None
        self.embedding = nn.Embedding(spec.vocab_size, dim, padding_idx=pad)
        self.head = nn.Linear(dim, spec.num_outputs)

    def pooled(self, ids, mask):
        m = mask.unsqueeze(-1).float()
        return (self.embedding(ids) * m).sum(1) / m.sum(1).clamp(min=1.0)

    def forward(self, ids, mask):
        return self.head(self.pooled(ids, mask))


class PaddedLengthMean(_Pooled):
    def pooled(self, ids, mask):
        m = mask.unsqueeze(-1).float()
        return (self.embedding(ids) * m).sum(1) / ids.shape[1]


class MaskIgnoring(_Pooled):
    def __init__(self, spec) -> None:
        super().__init__(spec, padding_idx=None)

    def pooled(self, ids, mask):
        return self.embedding(ids).mean(1)


class BatchCentred(_Pooled):
    def forward(self, ids, mask):
        h = self.pooled(ids, mask)
        with torch.no_grad():
            centre = h.mean(0, keepdim=True)
        return self.head(h - centre)


class RowMixing(_Pooled):
    def forward(self, ids, mask):
        h = self.pooled(ids, mask)
        return self.head(h + 0.5 * torch.roll(h, 1, 0))


class EvalDropout(_Pooled):
    def forward(self, ids, mask):
        return self.head(F.dropout(self.pooled(ids, mask), 0.3, training=True))


class StickyBatchNorm(_Pooled):
    def __init__(self, spec) -> None:
        super().__init__(spec)
        self.norm = nn.BatchNorm1d(self.head.in_features)

    def train(self, mode: bool = True):
        super().train(mode)
        self.norm.train(True)  # "keep the statistics fresh": the bug
        return self

    def forward(self, ids, mask):
        return self.head(self.norm(self.pooled(ids, mask)))


class NanOnOneToken(_Pooled):
    def pooled(self, ids, mask):
        m = mask.unsqueeze(-1).float()
        return (self.embedding(ids) * m).sum(1) * 0.0 / (m.sum(1) - 1.0) + (
            self.embedding(ids) * m
        ).sum(1) / m.sum(1).clamp(min=1.0)


class ExtraDim(_Pooled):
    def forward(self, ids, mask):
        return self.head(self.pooled(ids, mask)).unsqueeze(-1)


def build_padded_length_mean(spec) -> nn.Module:
    return PaddedLengthMean(spec)


def build_mask_ignoring(spec) -> nn.Module:
    return MaskIgnoring(spec)


def build_batch_centred(spec) -> nn.Module:
    return BatchCentred(spec)


def build_row_mixing(spec) -> nn.Module:
    return RowMixing(spec)


def build_eval_dropout(spec) -> nn.Module:
    return EvalDropout(spec)


def build_sticky_batchnorm(spec) -> nn.Module:
    return StickyBatchNorm(spec)


def build_nan_on_one_token(spec) -> nn.Module:
    return NanOnOneToken(spec)


def build_extra_dim(spec) -> nn.Module:
    return ExtraDim(spec)
