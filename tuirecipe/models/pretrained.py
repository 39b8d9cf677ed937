"""The pretrained rung: a local encoder folder with a classification or regression head.

``model.name = "pretrained"`` with ``model.encoder = "/path/to/folder"`` builds
:class:`PretrainedEncoderModel`: the folder's network (``transformers.AutoModel``, read
offline), its pooling (a sentence-transformers folder's own, else mean over the attention
mask), dropout (``model.dropout``) and a linear ``head``. It keeps the ladder's interface,
``forward(input_ids, attention_mask) -> [B, C]``, so the trainer, the checks, curves, runs
and tuning treat it like any other model; the ids come from the encoder's own tokenizer
(:mod:`tuirecipe.data.encoder_vocab`).

``model.freeze_encoder = true`` trains the head only (a linear probe). The frozen network
then stays in eval mode (no dropout inside it), so a row's features never change: they are
computed the first time a row is seen and reused, and every later epoch costs only the
head. Whenever a hook watches a module of the network (the embedding-level checks perturb
its embedding output, adversarial training too), features are computed afresh, so those
see the real network.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from tuirecipe.data.encoders import (
    EncoderFolder,
    encoder_states,
    inspect_folder,
    load_backbone,
    pool,
)

# One loaded copy of each encoder per process (keyed by folder and fingerprint): the checks
# build many fresh models, and each is a deep copy instead of another read from disk.
_LOADED: dict[tuple[str, str], nn.Module] = {}


def _backbone(folder: EncoderFolder) -> nn.Module:
    key = (str(folder.path), folder.fingerprint)
    if key not in _LOADED:
        _LOADED.clear()  # keep one: a second encoder in one process is rare and large
        backbone = load_backbone(folder, key="model.encoder")
        if isinstance(getattr(backbone, "pooler", None), nn.Module):
            # BERT's pooler (a dense layer on [CLS]) is left out: the head reads the
            # folder's own pooling, and a layer that never gets a gradient would be
            # reported as not training.
            backbone.pooler = None
        _LOADED[key] = backbone
    return copy.deepcopy(_LOADED[key])


class PretrainedEncoderModel(nn.Module):
    """Encoder → pooling → dropout → linear head (``[B, num_outputs]``)."""

    def __init__(self, spec: Any) -> None:
        super().__init__()
        options = spec.options
        self.folder = inspect_folder(str(options["encoder"]), key="model.encoder")
        self.encoder = _backbone(self.folder)
        self.pooling = self.folder.pooling
        self.frozen = bool(options.get("freeze_encoder", False))
        self.dropout = nn.Dropout(float(options.get("dropout", 0.1)))
        self.head = nn.Linear(self.folder.hidden_size, spec.num_outputs)
        # Small output weights (as BERT initialises its heads): the first logits are then
        # close to the bias, which init_output_bias sets to the prior.
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)
        # What the checks need to know: these weights were loaded, not initialised, and
        # (frozen) were frozen on purpose.
        self.pretrained_parameters = ("encoder.",)
        self.frozen_by_config: tuple[str, ...] = ()
        if self.frozen:
            self.encoder.requires_grad_(False)
            self.encoder.eval()
            self.frozen_by_config = ("encoder.",)
        self._features: dict[bytes, torch.Tensor] = {}

    def train(self, mode: bool = True) -> PretrainedEncoderModel:
        super().train(mode)
        if self.frozen:
            self.encoder.eval()  # frozen features: no dropout inside the network
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.to(torch.bool)
        if self.frozen and not self._watched():
            features = self._remembered(input_ids, mask)
        else:
            features = self._pooled(input_ids, mask)
        return self.head(self.dropout(features))

    def _pooled(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The folder's pooling of the token states. A sentence-transformers folder's
        final L2 normalisation is left out: it serves cosine similarity, and on unit
        vectors a head started small needed many more steps at a fine-tuning rate
        (MiniLM on trec, lr 5e-5: train loss still 1.45 at batch accuracy 0.9 after
        110 steps)."""
        return pool(encoder_states(self.encoder, input_ids, mask), mask, self.pooling)

    def _watched(self) -> bool:
        """Whether any hook would see (or change) what the network computes."""
        if nn.modules.module._global_forward_hooks or nn.modules.module._global_forward_pre_hooks:
            return True
        return any(m._forward_hooks or m._forward_pre_hooks for m in self.encoder.modules())

    def _remembered(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pooled features of the frozen network, computed once per distinct row."""
        ids_cpu, mask_cpu = input_ids.detach().cpu().numpy(), mask.cpu().numpy()
        keys = [row[real].tobytes() for row, real in zip(ids_cpu, mask_cpu)]
        missing = sorted({i for i, k in enumerate(keys) if k not in self._features})
        if missing:
            rows = torch.tensor(missing, device=input_ids.device)
            with torch.no_grad():
                part = self._pooled(input_ids[rows], mask[rows])
            for i, vector in zip(missing, part):
                self._features[keys[i]] = vector.detach()
        device = input_ids.device
        return torch.stack([self._features[k].to(device) for k in keys])
