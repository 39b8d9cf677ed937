"""A well-behaved user model: embedding → mean → linear; reads its own `width` option."""

from torch import nn


class Tiny(nn.Module):
    def __init__(self, spec):
        super().__init__()
        width = int(spec.options.get("width", 8))
        self.tok = nn.Embedding(spec.vocab_size, width, padding_idx=spec.pad_id)
        self.out = nn.Linear(width, spec.num_outputs)

    def forward(self, input_ids, attention_mask):
        m = attention_mask.unsqueeze(-1).float()
        return self.out((self.tok(input_ids) * m).sum(1) / m.sum(1).clamp(min=1.0))


def build(spec):
    return Tiny(spec)


def not_a_function(spec):  # referenced by a test that names a missing attribute instead
    return Tiny(spec)
