"""Models: the built-in ladder and loading a user's ``"package.module:build"``."""

from tuirecipe.models.builtin import BUILTINS
from tuirecipe.models.registry import (
    ModelSpec,
    build_model,
    find_embedding,
    init_output_bias,
    load_user_model,
    output_layer,
    spec_for,
)

__all__ = [
    "BUILTINS",
    "ModelSpec",
    "build_model",
    "find_embedding",
    "init_output_bias",
    "load_user_model",
    "output_layer",
    "spec_for",
]
