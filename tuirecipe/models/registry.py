"""Building a model from the config: a built-in by name, or a user's ``"pkg.module:build"``.

A user's mistake (module not found, no such function, ``build`` raising, ``build``
returning something that is not an ``nn.Module``) becomes a one-line
:class:`~tuirecipe.errors.ModelError` naming the model string, never a raw traceback.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tuirecipe.config import Config
from tuirecipe.errors import ModelError, UserError
from tuirecipe.models.catalog import (
    BUILTIN_MODELS,
    PRETRAINED,
    PRETRAINED_BUILDER,
    unknown_model_message,
)


@dataclass
class ModelSpec:
    """What a model builder gets: sizes from the data and the ``[model]`` table."""

    vocab_size: int
    pad_id: int
    num_outputs: int  # number of classes, or 1 for regression
    max_len: int
    task: str  # "classification" | "regression"
    # The [model] table as a plain dict: the built-in keys (embed_dim, hidden_dim, …) and a
    # user model's own extra keys, all at the top level.
    options: dict[str, Any] = field(default_factory=dict)


def spec_for(config: Config, data: Any) -> ModelSpec:
    """The spec for ``config.model`` on prepared ``data`` (duck-typed ``PreparedData``)."""
    table = {f.name: getattr(config.model, f.name) for f in dataclasses.fields(config.model)}
    extra = table.pop("options")
    options = {k: (list(v) if isinstance(v, list) else v) for k, v in table.items()}
    options.update(extra)
    if data.task == "classification":
        num_outputs = len(data.label_names) or len(data.class_counts)
    else:
        num_outputs = 1
    return ModelSpec(
        vocab_size=len(data.vocab),
        pad_id=int(data.vocab.pad_id),
        num_outputs=int(num_outputs),
        max_len=int(data.max_len),
        task=data.task,
        options=options,
    )


def build_model(config: Config, spec: ModelSpec) -> nn.Module:
    """A built-in by ``config.model.name``, or the user's ``build(spec)``.

    Seed the global RNGs first (``tuirecipe.train.seed_everything``) for a reproducible
    initialisation.
    """
    name = config.model.name
    if name == PRETRAINED:
        return _build_pretrained(config, spec)
    if name in BUILTIN_MODELS:
        try:
            return BUILTIN_MODELS[name].build(spec)
        except (MemoryError, RuntimeError) as exc:
            if not _out_of_memory(exc):
                raise
            raise ModelError(
                f"model '{name}' does not fit in memory ({_describe(exc)}): lower "
                "model.embed_dim / model.hidden_dim or data.max_vocab",
                source=config.source,
                key="model.name",
            ) from None
    if ":" not in name:
        raise ModelError(unknown_model_message(name), source=config.source, key="model.name")
    folders = [config.resolve_path(p).resolve() for p in config.model.python_path]
    base = Path(config.base_dir).resolve()
    if base not in folders:  # a run's resolved config already lists it
        folders.append(base)
    return load_user_model(name, spec, folders, source=config.source)


def _build_pretrained(config: Config, spec: ModelSpec) -> nn.Module:
    """The pretrained rung (:mod:`tuirecipe.models.pretrained`) on ``model.encoder``,
    resolved against the config's folder."""
    module, _, attribute = PRETRAINED_BUILDER.partition(":")
    folder = str(config.resolve_path(config.model.encoder))
    options = {**spec.options, "encoder": folder}
    try:
        builder = getattr(importlib.import_module(module), attribute)
        return builder(dataclasses.replace(spec, options=options))
    except ModelError:
        raise
    except UserError as exc:  # a bad folder or a missing extra: one line, as it is
        exc.source = exc.source or config.source
        raise
    except (MemoryError, RuntimeError) as exc:
        if not _out_of_memory(exc):
            raise
        raise ModelError(
            f"the encoder in '{folder}' does not fit in memory ({_describe(exc)})",
            source=config.source,
            key="model.encoder",
        ) from None


def _where(exc: BaseException) -> str:
    """``" (at model.py:12)"``: the innermost frame of the traceback, for the one-liner."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {Path(last.filename).name}:{last.lineno})"


def _describe(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__


def load_user_model(
    name: str, spec: ModelSpec, folders: list[Path] | None = None, *, source: str | None = None
) -> nn.Module:
    """Import ``"pkg.module:function"`` (with ``folders`` on ``sys.path``) and build it."""
    module_name, _, func_name = name.partition(":")

    def fail(message: str) -> ModelError:
        return ModelError(f"model '{name}': {message}", source=source, key="model.name")

    # Appended, not put first: a file in the config's folder named like a standard or
    # installed module (getpass.py, json.py) must not replace it in the worker.
    for folder in folders or []:
        text = str(Path(folder).resolve())
        if text not in sys.path:
            sys.path.append(text)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            searched = ", ".join(str(f) for f in folders or []) or "sys.path"
            raise fail(
                f"module '{missing}' not found (searched {searched}; add its folder "
                "to model.python_path)"
            ) from None
        raise fail(f"importing '{module_name}' failed: {_describe(exc)}{_where(exc)}") from None
    except (Exception, SystemExit) as exc:  # the user's module raised (or exited) importing
        raise fail(f"importing '{module_name}' failed: {_describe(exc)}{_where(exc)}") from None
    build = getattr(module, func_name, None)
    if build is None:
        raise fail(f"module '{module_name}' has no attribute '{func_name}'")
    if not callable(build):
        raise fail(f"'{func_name}' in '{module_name}' is a {type(build).__name__}, not a function")
    try:
        model = build(spec)
    except (Exception, SystemExit) as exc:
        if _out_of_memory(exc):
            raise fail(f"{func_name}(spec) ran out of memory: {_describe(exc)}") from None
        raise fail(f"{func_name}(spec) raised {_describe(exc)}{_where(exc)}") from None
    if not isinstance(model, nn.Module):
        raise fail(f"{func_name}(spec) returned {type(model).__name__}, not a torch.nn.Module")
    if not any(p.requires_grad for p in model.parameters()):
        raise fail(f"{func_name}(spec) returned a model with no trainable parameters")
    return model


def _out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and "allocate" in str(exc)
    )


def find_embedding(model: nn.Module, name: str = "") -> nn.Module:
    """The module named ``name``, or the model's first ``nn.Embedding``."""
    if name:
        modules = dict(model.named_modules())
        if name not in modules:
            some = ", ".join(n for n in list(modules)[1:9] if n)
            raise ModelError(
                f"the model has no module named '{name}' (it has: {some}, …)",
                key="model.embedding_module",
            )
        return modules[name]
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            return module
    raise ModelError(
        "the model has no nn.Embedding; set model.embedding_module to the module "
        "whose output the embedding checks should use",
        key="model.embedding_module",
    )


def output_layer(model: nn.Module, num_outputs: int) -> nn.Linear | None:
    """The last registered ``nn.Linear`` with ``num_outputs`` outputs and a bias."""
    found = None
    for module in model.modules():
        if (
            isinstance(module, nn.Linear)
            and module.out_features == num_outputs
            and module.bias is not None
        ):
            found = module
    return found


@torch.no_grad()
def init_output_bias(model: nn.Module, data: Any) -> bool:
    """Start the output where a constant predictor is best (Karpathy's "init well").

    Classification: bias = log(class prior), so the initial loss is the prior's entropy
    rather than log(C) plus noise. Regression: bias = target mean (the model predicts in
    the targets' own units). Returns False when no output layer could be found.
    """
    if data.task == "classification":
        counts = [float(c) for c in data.class_counts]
        layer = output_layer(model, len(counts))
        if layer is None or not counts:
            return False
        total = sum(counts)
        # a class never seen in training gets the prior of half an example, not log(0)
        prior = [max(c, 0.5) / total for c in counts]
        layer.bias.copy_(torch.tensor([math.log(p) for p in prior], dtype=layer.bias.dtype))
        return True
    layer = output_layer(model, 1)
    if layer is None:
        return False
    layer.bias.fill_(float(data.target_mean))
    return True
