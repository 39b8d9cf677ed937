"""Data setups and models built to fail (or, for the length model, to pass) the verdict
checks: loss_decreases, input_independent, overfit_batch, simple_baseline, lr_range.

Data (each takes a ``tiny_data.Data`` and returns a changed copy):

- ``shuffled_labels``: the label column shuffled against the texts in both splits (the
  class counts stay): no check may see a signal; learning the prior alone must fail.
- ``shifted_labels``: every label moved down one row (row i gets row i-1's label), as an
  off-by-one when the label column was joined.
- ``leaked_labels``: each text carries its label as a word; the model's ids are unchanged,
  so only the TF-IDF baseline reads it (near-perfect: "suspiciously easy").
- ``dev_is_train``: the dev split is the training split (data.dev_path = data.path).
- ``length_labelled``: random tokens; the label says whether the text is long. Only the
  length carries signal: a model reading only the mask uses its input and must pass
  input_independent (zeroing the embedding alone would have called it input-free).

Models (``build(spec)`` like a user's):

- ``build_length_only``: reads only the attention mask (the text's length).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn


def _with_targets(data, train_targets, dev_targets):
    out = copy.deepcopy(data)
    out.train.targets = np.asarray(train_targets).astype(data.train.targets.dtype)
    out.dev.targets = np.asarray(dev_targets).astype(data.dev.targets.dtype)
    if data.task == "classification":
        out.class_counts = np.bincount(out.train.targets, minlength=len(data.label_names)).tolist()
    return out


def shuffled_labels(data, seed: int = 0):
    rng = np.random.default_rng(seed)
    return _with_targets(
        data, rng.permutation(data.train.targets), rng.permutation(data.dev.targets)
    )


def shifted_labels(data):
    both = np.concatenate([data.train.targets, data.dev.targets])
    shifted = np.roll(both, 1)
    n = len(data.train.targets)
    return _with_targets(data, shifted[:n], shifted[n:])


def leaked_labels(data):
    out = copy.deepcopy(data)
    for split in (out.train, out.dev):
        split.texts = [f"{t} label{int(y)}" for t, y in zip(split.texts, split.targets)]
    return out


def dev_is_train(data):
    out = copy.deepcopy(data)
    out.dev = copy.deepcopy(out.train)
    return out


def length_labelled(data, seed: int = 0):
    """``data`` (built with ``min_len`` well below ``max_len``) relabelled: class 1 when
    the row is longer than the training median, tokens left random."""
    out = copy.deepcopy(data)
    rng = np.random.default_rng(seed)
    cut = float(np.median(data.train.lengths))
    for split in (out.train, out.dev):
        for r, length in enumerate(split.lengths):
            split.ids[r, :length] = rng.integers(2, len(data.vocab), size=int(length))
        split.targets = (split.lengths > cut).astype(np.int64)
    out.class_counts = np.bincount(out.train.targets, minlength=2).tolist()
    return out


class LengthOnly(nn.Module):
    def __init__(self, spec) -> None:
        super().__init__()
        self.embedding = nn.Embedding(spec.vocab_size, 8, padding_idx=spec.pad_id)
        self.hidden = nn.Linear(1, 16)
        self.head = nn.Linear(16, spec.num_outputs)
        self.scale = float(max(1, spec.max_len))

    def forward(self, input_ids, attention_mask):
        length = attention_mask.float().sum(1, keepdim=True) / self.scale
        return self.head(torch.tanh(self.hidden(length * 4.0 - 2.0)))


def build_length_only(spec) -> nn.Module:
    return LengthOnly(spec)
