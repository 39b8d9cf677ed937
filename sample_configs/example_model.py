"""An example user model for sample_configs/user_model.toml: mean-pooled embeddings + MLP."""

import torch
from torch import nn


class MeanPoolMLP(nn.Module):
    def __init__(self, vocab_size: int, pad_id: int, num_outputs: int, hidden: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, 64, padding_idx=pad_id)
        self.mlp = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, num_outputs))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.unsqueeze(-1).float()
        # Mean over real tokens only; clamp so an all-padding row divides by 1, not 0.
        pooled = (self.embedding(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.mlp(pooled)


def build(spec):
    return MeanPoolMLP(
        spec.vocab_size, spec.pad_id, spec.num_outputs, int(spec.options.get("hidden", 64))
    )
