"""The registry of built-in models: each one declared once, with its builder and defaults.

Config validation, the model builder, the README test and the console all read
:data:`BUILTIN_MODELS`. This module is torch-free (the console validates configs without
loading torch): a builder is named as ``"module:Class"`` and imported only when a model is
built.

Defaults: the hyperparameters every built-in shares (``embed_dim``, ``hidden_dim``, …) have
their defaults in one place, :class:`tuirecipe.config.ModelConfig`; a model's own extra
options (the GRU's ``bidirectional``) have theirs in its entry here.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# ModelConfig fields that describe where the model comes from, not how it is sized.
_NOT_HYPERPARAMETERS = (
    "name",
    "embedding_module",
    "python_path",
    "options",
    "encoder",
    "freeze_encoder",
)
# The pretrained rung: a local encoder folder (model.encoder) with a head on top
# (tuirecipe.models.pretrained). Not in BUILTIN_MODELS: it cannot be built without a folder.
PRETRAINED = "pretrained"
PRETRAINED_BUILDER = "tuirecipe.models.pretrained:PretrainedEncoderModel"


@dataclass(frozen=True)
class BuiltinModel:
    """One built-in: ``build(spec)`` gives a fresh ``nn.Module`` for a ``ModelSpec``."""

    name: str
    builder: str  # "module:attribute", imported on first build
    summary: str  # one line, for listings
    own_defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def defaults(self) -> dict[str, Any]:
        """Every option this model reads when the ``[model]`` table does not set it."""
        return {**shared_defaults(), **self.own_defaults}

    def builder_class(self) -> Any:
        module, _, attribute = self.builder.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def build(self, spec: Any) -> Any:
        """The model for ``spec`` (a ``tuirecipe.models.ModelSpec``); unset options take
        this model's defaults."""
        options = {**self.defaults(), **spec.options}
        return self.builder_class()(dataclasses.replace(spec, options=options))


def shared_defaults() -> dict[str, Any]:
    """The ``[model]`` hyperparameters and their defaults, as ``ModelConfig`` declares them."""
    from tuirecipe.config import ModelConfig  # the config imports this module

    model = ModelConfig()
    return {
        f.name: getattr(model, f.name)
        for f in dataclasses.fields(ModelConfig)
        if f.name not in _NOT_HYPERPARAMETERS
    }


_BUILDERS = "tuirecipe.models.builtin"
BUILTIN_MODELS: dict[str, BuiltinModel] = {
    model.name: model
    for model in (
        BuiltinModel("bow_mlp", f"{_BUILDERS}:BowMLP", "bag of words: mean embedding, then an MLP"),
        BuiltinModel("fasttext", f"{_BUILDERS}:FastText", "mean embedding, then a linear layer"),
        BuiltinModel("textcnn", f"{_BUILDERS}:TextCNN", "1-D convolutions, max-pooled (Kim 2014)"),
        BuiltinModel(
            "gru",
            f"{_BUILDERS}:GRUClassifier",
            "a (bidirectional) GRU over packed sequences",
            MappingProxyType({"bidirectional": True}),
        ),
        BuiltinModel(
            "transformer",
            f"{_BUILDERS}:TransformerClassifier",
            "a small pre-norm Transformer encoder, mean-pooled",
        ),
    )
}


def unknown_model_message(name: str) -> str:
    """The one line shown for a model name that is neither built in nor ``pkg.mod:fn``."""
    return (
        f"unknown model '{name}'; use one of {', '.join(BUILTIN_MODELS)} "
        "or 'package.module:function', or 'pretrained' with model.encoder"
    )
