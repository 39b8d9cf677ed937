"""A user model whose output turns NaN on its third training forward pass."""

from torch import nn


class NanAtThree(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.emb = nn.Embedding(spec.vocab_size, 8, padding_idx=spec.pad_id)
        self.out = nn.Linear(8, spec.num_outputs)
        self.calls = 0

    def forward(self, input_ids, attention_mask):
        if self.training:
            self.calls += 1
        logits = self.out(self.emb(input_ids).mean(1))
        if self.calls == 3:
            logits = logits * float("nan")
        return logits


def build(spec):
    return NanAtThree(spec)
