"""The built-in models: the "start simple" ladder from bag of words to a small Transformer.

Each class here is registered once, with its defaults, in :mod:`tuirecipe.models.catalog`;
build them through that registry (``BUILTIN_MODELS[name].build(spec)``). Every model has
the same interface::

    forward(input_ids: LongTensor[B, L], attention_mask: Bool/LongTensor[B, L]) -> [B, C]

with ``C = spec.num_outputs`` (1 for regression: the output is ``[B, 1]`` and the trainer
squeezes it). Each model's first ``nn.Embedding`` is its token embedding (the
embedding-level checks perturb its output), and its last registered module is the
``nn.Linear`` output layer called ``head`` (``init_output_bias`` sets its bias).

Two properties the sanity checks rely on hold for every model here:

- a row's output depends only on that row: no BatchNorm, and padding is masked out of
  every pooling step, so dynamic padding (a batch is only as wide as its longest row)
  never changes a row's output;
- a row that is all padding (length 0) gives finite outputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.models.registry import ModelSpec


def _opt(spec: ModelSpec, key: str) -> Any:
    """An option of the ``[model]`` table; the registry's ``build`` has filled in every
    default (:mod:`tuirecipe.models.catalog`), so a missing key is a caller's bug."""
    return spec.options[key]


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x[B, L, D]`` over the positions where ``mask[B, L]`` is true (0 if none)."""
    m = mask.unsqueeze(-1).to(x.dtype)
    # clamp: an all-padding row divides 0 by 1 instead of by 0
    return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


class _TextModel(nn.Module):
    """Shared embedding handling: token ids → embeddings with padding positions zeroed."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.pad_id = spec.pad_id
        self.embedding = nn.Embedding(
            spec.vocab_size, int(_opt(spec, "embed_dim")), padding_idx=spec.pad_id
        )

    def embed(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # Zero padded positions explicitly, so a perturbation of the embedding output (as the
        # checks do) can never leak into a row through its padding.
        return self.embedding(input_ids) * mask.unsqueeze(-1).to(self.embedding.weight.dtype)


class BowMLP(_TextModel):
    """Bag of words: mean of the token embeddings, then an MLP (``num_layers`` hidden)."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        dim, hidden = int(_opt(spec, "embed_dim")), int(_opt(spec, "hidden_dim"))
        layers: list[nn.Module] = []
        for _ in range(int(_opt(spec, "num_layers"))):
            layers += [nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(float(_opt(spec, "dropout")))]
            dim = hidden
        self.mlp = nn.Sequential(*layers)
        self.head = nn.Linear(dim, spec.num_outputs)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.to(torch.bool)
        return self.head(self.mlp(_masked_mean(self.embed(input_ids, mask), mask)))


class FastText(_TextModel):
    """fastText-style: averaged embeddings straight into a linear classifier."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        self.dropout = nn.Dropout(float(_opt(spec, "dropout")))
        self.head = nn.Linear(int(_opt(spec, "embed_dim")), spec.num_outputs)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.to(torch.bool)
        return self.head(self.dropout(_masked_mean(self.embed(input_ids, mask), mask)))


class TextCNN(_TextModel):
    """Kim (2014): parallel 1-D convolutions of several widths, max-pooled over time."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        dim, filters = int(_opt(spec, "embed_dim")), int(_opt(spec, "num_filters"))
        self.kernel_sizes = [int(k) for k in _opt(spec, "kernel_sizes")]
        self.convs = nn.ModuleList(nn.Conv1d(dim, filters, k) for k in self.kernel_sizes)
        self.dropout = nn.Dropout(float(_opt(spec, "dropout")))
        self.head = nn.Linear(filters * len(self.kernel_sizes), spec.num_outputs)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.to(torch.bool)
        x = self.embed(input_ids, mask).transpose(1, 2)  # [B, D, L]
        short = max(self.kernel_sizes) - x.shape[2]
        if short > 0:  # rows shorter than the widest kernel: pad with zeros (= padding)
            x = F.pad(x, (0, short))
        lengths = mask.sum(1, keepdim=True)  # [B, 1]
        pooled = []
        for k, conv in zip(self.kernel_sizes, self.convs):
            h = F.relu(conv(x))  # [B, F, T]
            # Only windows that start on a real token count (at least the first one, so a
            # short or empty row still has a window); windows over the batch's extra
            # padding would make a row's output depend on its batch-mates' lengths.
            valid = torch.arange(h.shape[2], device=h.device) < (lengths - k + 1).clamp(min=1)
            pooled.append(h.masked_fill(~valid.unsqueeze(1), float("-inf")).amax(2))
        return self.head(self.dropout(torch.cat(pooled, 1)))


class GRUClassifier(_TextModel):
    """A small (optionally bidirectional) GRU over packed sequences; final states → head.

    ``bidirectional`` (default true) can be set in the ``[model]`` table's options.
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        layers = int(_opt(spec, "num_layers"))
        bidirectional = bool(_opt(spec, "bidirectional"))
        hidden = int(_opt(spec, "hidden_dim"))
        dropout = float(_opt(spec, "dropout"))
        self.gru = nn.GRU(
            int(_opt(spec, "embed_dim")),
            hidden,
            num_layers=layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), spec.num_outputs)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.to(torch.bool)
        x = self.embed(input_ids, mask)
        # Packing keeps the backward direction from reading the padding first. An empty row
        # is given length 1: it reads one (zeroed) padding embedding. (Packing wants the
        # lengths on the CPU: one small device-to-host copy per batch on CUDA.)
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            x, lengths, batch_first=True, enforce_sorted=False
        )
        _, h_n = self.gru(packed)  # [layers * dirs, B, H], in the caller's row order
        dirs = 2 if self.gru.bidirectional else 1
        last = h_n[-dirs:].transpose(0, 1).reshape(x.shape[0], -1)
        return self.head(self.dropout(last))


class TransformerClassifier(_TextModel):
    """A small pre-norm Transformer encoder, learned positions, masked mean pooling."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        dim = int(_opt(spec, "embed_dim"))
        self.max_len = int(spec.max_len)
        self.positions = nn.Embedding(self.max_len, dim)
        layer = nn.TransformerEncoderLayer(
            dim,
            int(_opt(spec, "num_heads")),
            dim_feedforward=int(_opt(spec, "hidden_dim")),
            dropout=float(_opt(spec, "dropout")),
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, int(_opt(spec, "num_layers")), enable_nested_tensor=False
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, spec.num_outputs)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.to(torch.bool)
        length = input_ids.shape[1]
        if length > self.max_len:
            raise ValueError(
                f"sequence of length {length} is longer than max_len "
                f"{self.max_len} the model was built for"
            )
        pos = torch.arange(length, device=input_ids.device)
        x = self.embed(input_ids, mask) + self.positions(pos).unsqueeze(0)
        # A row whose keys are all masked would softmax over nothing (NaN); let such a row
        # attend to its first position. Its pooled output is masked to zero anyway.
        key_padding = ~mask
        key_padding[:, 0] &= mask.any(1)
        h = self.encoder(x, src_key_padding_mask=key_padding)
        return self.head(self.norm(_masked_mean(h, mask)))
