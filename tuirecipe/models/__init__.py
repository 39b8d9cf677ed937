"""Models: the built-in ladder and loading a user's ``"package.module:build"``.

Importing this package loads nothing heavy: :mod:`tuirecipe.models.catalog` (the registry of
built-ins) is torch-free because config validation reads it, and the torch-side names below
are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from tuirecipe.models.catalog import BUILTIN_MODELS, BuiltinModel
    from tuirecipe.models.registry import (
        ModelSpec,
        build_model,
        find_embedding,
        init_output_bias,
        load_user_model,
        output_layer,
        spec_for,
    )

_WHERE = {
    "BUILTIN_MODELS": "catalog",
    "BuiltinModel": "catalog",
    "ModelSpec": "registry",
    "build_model": "registry",
    "find_embedding": "registry",
    "init_output_bias": "registry",
    "load_user_model": "registry",
    "output_layer": "registry",
    "spec_for": "registry",
}

__all__ = [
    "BUILTIN_MODELS",
    "BuiltinModel",
    "ModelSpec",
    "build_model",
    "find_embedding",
    "init_output_bias",
    "load_user_model",
    "output_layer",
    "spec_for",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'tuirecipe.models' has no attribute '{name}'")
    return getattr(importlib.import_module(f"tuirecipe.models.{_WHERE[name]}"), name)
