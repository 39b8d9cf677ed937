"""User models that fail in specific ways, for ``test_faults.py`` and ``test_bad_inputs.py``.

Loaded the way a user's ``model.name = "fault_models:<function>"`` is (this folder on
``model.python_path``). Each fault fires on a chosen training step, read from the
``[model]`` table (``fail_step``, default 3), so a test knows exactly which steps must be
recorded before the failure.
"""

from __future__ import annotations

import os
import signal

import torch
from torch import nn


class _Counting(nn.Module):
    """A small averaged-embedding classifier that counts its training forward passes."""

    def __init__(self, spec) -> None:
        super().__init__()
        self.emb = nn.Embedding(spec.vocab_size, 8, padding_idx=spec.pad_id)
        self.out = nn.Linear(8, spec.num_outputs)
        self.fail_step = int(spec.options.get("fail_step", 3))
        self.calls = 0

    def logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.emb(input_ids).mean(1))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.calls += 1
            if self.calls == self.fail_step:
                return self.fault(input_ids)
        return self.logits(input_ids)

    def fault(self, input_ids: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class _ShapeMismatchInForward(_Counting):
    def fault(self, input_ids: torch.Tensor) -> torch.Tensor:
        # A positional table off by one against the batch's length: the classic bug.
        positions = torch.zeros(input_ids.shape[1] + 1, 8)
        return self.out(self.emb(input_ids) + positions).mean(1)


class _NanInForward(_Counting):
    def fault(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.logits(input_ids) * float("nan")


class _OomInForward(_Counting):
    def fault(self, input_ids: torch.Tensor) -> torch.Tensor:
        raise torch.OutOfMemoryError(
            "CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.15 GiB total "
            "capacity; 70.02 GiB already allocated)"
        )


class _WrongShape(_Counting):
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.logits(input_ids)[:, :1].repeat(1, self.out.out_features + 3)


def build_raises(spec) -> nn.Module:
    """Build fails with a shape mismatch (a weight tied to the wrong-sized layer)."""
    emb = nn.Embedding(spec.vocab_size, 16)
    head = nn.Linear(32, spec.num_outputs)
    head.weight.data.copy_(emb.weight.data[: spec.num_outputs])  # 16 vs 32 columns
    return nn.Sequential(emb, head)


def forward_raises(spec) -> nn.Module:
    return _ShapeMismatchInForward(spec)


def nan_at_step(spec) -> nn.Module:
    return _NanInForward(spec)


def oom_at_step(spec) -> nn.Module:
    return _OomInForward(spec)


def wrong_shape(spec) -> nn.Module:
    return _WrongShape(spec)


class _KilledOnce(nn.Module):
    """An averaged-embedding classifier with dropout (so resuming must bring back the random
    state) that kills its own process with SIGKILL on training forward pass ``fail_step``
    while the file ``kill_marker`` exists, deleting it first: the run dies once, mid-step,
    without a word, and the same model resumed from a checkpoint trains on."""

    def __init__(self, spec) -> None:
        super().__init__()
        self.emb = nn.Embedding(spec.vocab_size, 8, padding_idx=spec.pad_id)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(8, spec.num_outputs)
        self.fail_step = int(spec.options.get("fail_step", 3))
        self.marker = str(spec.options.get("kill_marker", ""))
        self.calls = 0

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.calls += 1
            if self.calls == self.fail_step and self.marker and os.path.exists(self.marker):
                os.unlink(self.marker)
                os.kill(os.getpid(), signal.SIGKILL)
        return self.out(self.drop(self.emb(input_ids).mean(1)))


def killed_once(spec) -> nn.Module:
    return _KilledOnce(spec)
