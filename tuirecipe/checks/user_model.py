"""The model-level sanity checks on a model and batches of your own, without tuirecipe's
data pipeline or trainer config: usable from pytest in your own CI.

::

    from tuirecipe.checks import run_model_checks

    def test_my_model_is_sound():
        results = run_model_checks(build_model(), batches, loss_fn="cross_entropy")
        assert all(r.status in ("pass", "warn") for r in results), [r.summary for r in results]

``batches`` are a few batches of token ids and targets: ``(input_ids, targets)``,
``(input_ids, attention_mask, targets)``, or mappings with ``input_ids``, ``labels`` (or
``targets``/``label``) and optionally ``attention_mask``; tensors, arrays or lists. The
model is called as tuirecipe calls models, ``model(input_ids, attention_mask)`` (a model
whose ``forward`` takes the ids only is called without the mask), with the mask meaning
``input_ids != pad_id``.

The checks are the console's own (:data:`MODEL_CHECKS`, run by
:func:`tuirecipe.checks.runner.run_one`), on a context (:class:`UserModelContext`) whose
data are your batches and whose "fresh model" is a copy of the model as you passed it
(so pass it untrained: its initial weights are what init_loss judges). Short training runs
use tuirecipe's trainer with ``lr`` and the loss of ``loss_fn``; the results are the
:class:`~tuirecipe.events.CheckResult` events the console shows.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from tuirecipe.checks.context import CheckContext
from tuirecipe.config import config_from_dict
from tuirecipe.errors import UserError
from tuirecipe.events import CheckResult

# The checks that need a model and batches only (no text, no data file).
MODEL_CHECKS = (
    "init_loss",
    "batch_independence",
    "forward_independence",
    "padding_invariance",
    "gradient_flow",
    "overfit_batch",
)
_LOSSES = {"cross_entropy": "classification", "mse": "regression"}
_TARGET_KEYS = ("labels", "targets", "label", "target", "y")


class _Vocab:
    """The padding id, and ids shown as themselves (``<17>``) where a check shows tokens."""

    unk_id = -1

    def __init__(self, pad_id: int, size: int) -> None:
        self.pad_id = int(pad_id)
        self.size = int(size)

    def __len__(self) -> int:
        return self.size

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(f"<{int(i)}>" for i in ids if int(i) != self.pad_id)


@dataclass
class _Split:
    ids: np.ndarray
    lengths: np.ndarray
    targets: np.ndarray
    texts: list[str]
    rows: np.ndarray
    truncated: int = 0
    unk_rate: float = 0.0

    def __len__(self) -> int:
        return len(self.targets)


@dataclass
class UserData:
    """Your batches in the shape of tuirecipe's prepared data (the checks read this)."""

    task: str
    train: _Split
    dev: _Split
    vocab: _Vocab
    label_names: list[str]
    class_counts: list[int]
    target_mean: float
    target_std: float
    max_len: int
    split_groups: str = field(default="none")

    @property
    def num_outputs(self) -> int:
        return len(self.label_names) if self.task == "classification" else 1


class _IdsOnly(nn.Module):
    """Calls a model whose ``forward`` takes the token ids alone."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids)


class UserModelContext(CheckContext):
    """A check context over :class:`UserData`: each fresh model is a copy of ``model``
    as given (its initial weights)."""

    def __init__(self, config: Any, model: nn.Module, data: UserData, device: torch.device):
        super().__init__(config, data=data, device=device)
        self._template = copy.deepcopy(model).cpu()

    def fresh_model(self, seed: int | None = None) -> nn.Module:
        from tuirecipe.train.seed import seed_everything

        seed_everything(self.config.seed if seed is None else seed)  # dropout draws
        return copy.deepcopy(self._template).to(self.device)


def _as_array(value: Any, what: str, n: int) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        out = np.asarray(value)
    except (TypeError, ValueError):
        raise UserError(f"batch {n}: {what} is not an array of numbers") from None
    if out.dtype == object:
        raise UserError(f"batch {n}: {what} is not an array of numbers (ragged rows?)")
    return out


def _unpack(batch: Any, n: int) -> tuple[Any, Any, Any]:
    """``(input_ids, attention_mask or None, targets)`` of one batch."""
    if isinstance(batch, Mapping):
        if "input_ids" not in batch:
            raise UserError(f"batch {n}: a mapping batch needs 'input_ids'")
        key = next((k for k in _TARGET_KEYS if k in batch), None)
        if key is None:
            raise UserError(f"batch {n}: no targets (one of {', '.join(_TARGET_KEYS)})")
        return batch["input_ids"], batch.get("attention_mask"), batch[key]
    if isinstance(batch, (tuple, list)) and len(batch) in (2, 3):
        if len(batch) == 2:
            return batch[0], None, batch[1]
        return batch[0], batch[1], batch[2]
    raise UserError(
        f"batch {n}: expected (input_ids, targets), (input_ids, attention_mask, targets) "
        "or a mapping with input_ids and labels"
    )


def _split_of(batches: Iterable[Any], pad_id: int, task: str, start: int = 0) -> _Split:
    ids_parts, target_parts = [], []
    for n, batch in enumerate(batches, 1):
        ids, mask, targets = _unpack(batch, n)
        ids = _as_array(ids, "input_ids", n)
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise UserError(f"batch {n}: input_ids must be whole numbers shaped [batch, length]")
        if mask is not None:
            mask = _as_array(mask, "attention_mask", n).astype(bool)
            if mask.shape != ids.shape or not np.array_equal(mask, ids != pad_id):
                raise UserError(
                    f"batch {n}: the attention mask is not input_ids != pad_id (pad_id "
                    f"{pad_id}); tuirecipe's checks pad with pad_id and mask exactly the "
                    "padding: pass the right pad_id"
                )
        targets = _as_array(targets, "targets", n).reshape(-1)
        if len(targets) != len(ids):
            raise UserError(f"batch {n}: {len(ids)} rows of input_ids but {len(targets)} targets")
        ids_parts.append(ids.astype(np.int64))
        target_parts.append(targets)
    if not ids_parts:
        raise UserError("no batches: the checks need a few batches of examples")
    width = max(1, max(p.shape[1] for p in ids_parts))
    ids = np.concatenate(
        [np.pad(p, ((0, 0), (0, width - p.shape[1])), constant_values=pad_id) for p in ids_parts]
    )
    targets = np.concatenate(target_parts)
    if task == "classification":
        if not np.issubdtype(targets.dtype, np.integer) and not np.all(
            targets == np.round(targets)
        ):
            raise UserError("cross-entropy needs class ids as targets (whole numbers from 0)")
        targets = targets.astype(np.int64)
    else:
        targets = targets.astype(np.float32)
    positions = np.arange(1, width + 1)
    lengths = ((ids != pad_id) * positions).max(axis=1).astype(np.int64)
    texts = [" ".join(f"<{int(t)}>" for t in row[:length]) for row, length in zip(ids, lengths)]
    rows = np.arange(start + 1, start + 1 + len(ids))  # examples counted from 1
    return _Split(ids, lengths, targets, texts, rows)


def _task_of(loss_fn: Any) -> str:
    if isinstance(loss_fn, str) and loss_fn in _LOSSES:
        return _LOSSES[loss_fn]
    if isinstance(loss_fn, nn.CrossEntropyLoss):
        return "classification"
    if isinstance(loss_fn, nn.MSELoss):
        return "regression"
    raise UserError(
        f"loss_fn {loss_fn!r}: the checks train and judge with tuirecipe's losses, "
        "'cross_entropy' (classification) or 'mse' (regression)",
        key="loss_fn",
    )


def user_data(
    batches: Iterable[Any],
    *,
    task: str,
    pad_id: int = 0,
    num_classes: int | None = None,
    dev_batches: Iterable[Any] | None = None,
) -> UserData:
    """Your batches as the checks' data (the dev split: ``dev_batches``, else the same)."""
    train = _split_of(batches, pad_id, task)
    dev = _split_of(dev_batches, pad_id, task, len(train)) if dev_batches is not None else train
    vocab = _Vocab(pad_id, int(max(train.ids.max(), dev.ids.max(), pad_id)) + 1)
    if task == "classification":
        seen = int(max(train.targets.max(), dev.targets.max())) + 1
        if min(train.targets.min(), dev.targets.min()) < 0:
            raise UserError("class ids must be 0 or more")
        classes = int(num_classes) if num_classes is not None else seen
        if classes < seen:
            raise UserError(f"num_classes is {classes} but a target is {seen - 1}")
        counts = np.bincount(train.targets, minlength=classes).tolist()
        names = [str(c) for c in range(classes)]
        mean = std = 0.0
    else:
        counts, names = [], []
        mean, std = float(train.targets.mean()), float(train.targets.std())
    return UserData(
        task=task,
        train=train,
        dev=dev,
        vocab=vocab,
        label_names=names,
        class_counts=[int(c) for c in counts],
        target_mean=mean,
        target_std=std,
        max_len=int(train.ids.shape[1]),
    )


def _takes_mask(model: nn.Module) -> bool:
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


def run_model_checks(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    loss_fn: str | nn.Module = "cross_entropy",
    num_classes: int | None = None,
    pad_id: int = 0,
    checks: Sequence[str] = MODEL_CHECKS,
    dev_batches: Iterable[Any] | None = None,
    lr: float = 1e-3,
    batch_size: int = 32,
    embedding_module: str = "",
    seed: int = 0,
    device: str | torch.device = "cpu",
    settings: Mapping[str, Any] | None = None,
) -> list[CheckResult]:
    """Run the model-level checks on ``model`` (untrained, as built) and ``batches``.

    ``loss_fn``: ``"cross_entropy"`` (or an ``nn.CrossEntropyLoss``) for classification,
    ``"mse"`` (``nn.MSELoss``) for regression. ``num_classes``: the model's outputs
    (default: the largest class id in the batches + 1). ``checks``: names from
    :data:`MODEL_CHECKS`. ``lr`` and ``batch_size``: the short training runs' (the
    optimizer is tuirecipe's, as in ``[train]``). ``embedding_module``: the module whose
    output the embedding checks use, by its name in ``model.named_modules()`` (default:
    the first ``nn.Embedding``; an ``nn.EmbeddingBag`` must be named). ``settings``:
    ``[checks]`` keys (``{"overfit_steps": 500}``).

    Returns one :class:`~tuirecipe.events.CheckResult` per check, in order: ``status``
    (pass / warn / fail / error), ``summary``, ``numbers`` and ``evidence`` as the
    console shows them. A bad argument raises :class:`~tuirecipe.errors.UserError`.
    """
    from tuirecipe.checks.base import get_check
    from tuirecipe.checks.runner import run_one

    unknown = [name for name in checks if name not in MODEL_CHECKS]
    if unknown:
        raise UserError(
            f"not a model check: {', '.join(unknown)} (the model checks: "
            f"{', '.join(MODEL_CHECKS)})",
            key="checks",
        )
    if not isinstance(model, nn.Module):
        raise UserError(f"model must be a torch.nn.Module, not {type(model).__name__}")
    task = _task_of(loss_fn)
    data = user_data(
        batches, task=task, pad_id=pad_id, num_classes=num_classes, dev_batches=dev_batches
    )
    table = {
        "name": "user-model",
        "seed": seed,
        "model": {"embedding_module": embedding_module},
        "data": {"task": task},
        "train": {"lr": lr, "batch_size": batch_size, "device": str(device)},
        "checks": dict(settings or {}),
    }
    wrapped = model if _takes_mask(model) else _IdsOnly(model)
    if wrapped is not model and embedding_module:
        table["model"] = {"embedding_module": f"model.{embedding_module}"}  # inside the wrapper
    config = config_from_dict(table, source="run_model_checks")
    ctx = UserModelContext(config, wrapped, data, torch.device(device))
    return [run_one(get_check(name), ctx) for name in checks]
