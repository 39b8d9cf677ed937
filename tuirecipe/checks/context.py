"""What a check gets to work with: the config, the prepared data, fresh seeded models,
short training runs with the real trainer, progress and cancellation.

Imported only inside a worker process (it needs torch).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from tuirecipe.checks.torchutil import subset_split
from tuirecipe.config import Config, TrainConfig
from tuirecipe.events import Event, StepMetrics


@dataclass
class ShortRun:
    losses: list[float]  # training loss per step
    dev: dict[str, Any]  # evaluate() on the dev split after training
    model: torch.nn.Module


class CheckContext:
    """Shared by every check of one job; data is prepared once, models built fresh."""

    def __init__(
        self,
        config: Config,
        *,
        emit: Callable[[Event], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        data: Any = None,
        device: torch.device | None = None,
    ) -> None:
        self.config = config
        self._emit = emit or (lambda event: None)
        self._should_stop = should_stop or (lambda: False)
        self._data = data
        self._device = device
        self.current_check = ""

    # -- data, device, models -----------------------------------------------------------
    @property
    def data(self) -> Any:
        if self._data is None:
            from tuirecipe.data.prepare import prepare_data

            self._data = prepare_data(self.config)
        return self._data

    @property
    def device(self) -> torch.device:
        if self._device is None:
            from tuirecipe.train.device import pick_device

            self._device = pick_device(self.config.train.device)
        return self._device

    @cached_property
    def spec(self) -> Any:
        from tuirecipe.models import spec_for

        return spec_for(self.config, self.data)

    def fresh_model(self, seed: int | None = None) -> torch.nn.Module:
        """A newly built model with weights drawn from ``seed`` (the config seed by default)."""
        from tuirecipe.models import build_model
        from tuirecipe.train.seed import seed_everything

        seed_everything(self.config.seed if seed is None else seed)
        return build_model(self.config, self.spec).to(self.device)

    @cached_property
    def precision(self) -> Any:
        """The run's resolved ``train.precision`` (:mod:`tuirecipe.train.precision`) for
        this device and model; TF32 set as a training run would set it."""
        from tuirecipe.models import build_model
        from tuirecipe.train.precision import (
            apply_tf32,
            device_facts,
            non_embedding_params,
            resolve_precision,
        )

        requested, device = self.config.train.precision, self.device
        params = 0  # the model's size matters to "auto" on CUDA only
        if requested == "auto" and device.type == "cuda":
            with torch.random.fork_rng(devices=[]):  # only its size is needed: no draws spent
                params = non_embedding_params(build_model(self.config, self.spec))
        precision = resolve_precision(requested, device.type, params=params, **device_facts(device))
        apply_tf32(precision)
        return precision

    def precision_of(self, which: str) -> str:
        """The precision a check of ``Check.precision == which`` runs in."""
        return "fp32" if which == "fp32" else str(self.precision.name)

    def autocast(self, which: str = "training") -> Any:
        """The autocast context for a check's forward passes (nothing for fp32); short
        runs train in the run's precision whatever this says (the trainer's own)."""
        from contextlib import nullcontext

        if self.precision_of(which) == "fp32":
            return nullcontext()
        return self.precision.autocast()

    def embedding_module(self, model: torch.nn.Module) -> torch.nn.Module:
        from tuirecipe.models import find_embedding

        return find_embedding(model, self.config.model.embedding_module)

    # -- progress and cancellation --------------------------------------------------------
    def progress(self, fraction: float, message: str = "") -> None:
        from tuirecipe.events import CheckProgress

        self._emit(
            CheckProgress(name=self.current_check, fraction=float(fraction), message=message)
        )

    def cancelled(self) -> bool:
        return self._should_stop()

    # -- short training runs -------------------------------------------------------------
    def short_train(
        self,
        model: torch.nn.Module,
        *,
        steps: int | None = None,
        lr: float | None = None,
        seed: int | None = None,
        train_split: Any = None,
        batch_size: int | None = None,
        stop_below: float | None = None,
        evaluate_dev: bool = True,
        callbacks: Sequence[Any] = (),
    ) -> ShortRun:
        """Train ``model`` for ``steps`` with the real Trainer; return losses and dev metrics.

        The same loss, optimizer, batching and seeding as a training run (the global
        generators are seeded from ``seed``, the config's by default, just before training,
        as a job does after building its model), limited to ``steps`` on ``train_split``
        (the whole training split by default) at ``lr`` and ``batch_size`` (the config's by
        default), without periodic evaluation or the run's own callbacks; ``callbacks`` are
        added. Training stops early once a step's loss is below ``stop_below``, or when the
        check is cancelled. With ``evaluate_dev`` the dev split is evaluated afterwards.
        """
        from tuirecipe.train.batches import evaluate
        from tuirecipe.train.prepared import TrainingSplits
        from tuirecipe.train.seed import seed_everything
        from tuirecipe.train.trainer import Trainer

        steps = int(steps or self.config.checks.steps)
        data = self.data
        split = data.train if train_split is None else train_split
        # No dev split for the trainer: a short run is judged by the check, not by
        # evaluations along the way.
        splits = TrainingSplits.of(data, train=split, dev=subset_split(split, []))
        losses: list[float] = []

        def collect(event: Event) -> None:
            if isinstance(event, StepMetrics):
                losses.append(float(event.loss))
                if len(losses) % 10 == 0:
                    self.progress(len(losses) / steps, f"step {len(losses)}/{steps}")

        def maybe_stop(trainer: Any) -> None:
            low = stop_below is not None and bool(losses) and losses[-1] < stop_below
            if low or self.cancelled():
                trainer.request_stop()

        seed = self.config.seed if seed is None else seed
        seed_everything(seed)
        trainer = Trainer(
            model,
            splits,
            short_run_config(self.config.train, steps, lr=lr, batch_size=batch_size),
            seed=seed,
            emit=collect,
            device=self.device,
            callbacks=callbacks,
            embedding_module=self.config.model.embedding_module,
        )
        trainer.add_hook("on_batch_end", maybe_stop)
        trainer.run()
        dev = {}
        if evaluate_dev:
            dev = evaluate(
                model,
                data.dev,
                task=data.task,
                batch_size=max(64, self.config.train.batch_size),
                device=self.device,
                pad_id=int(data.vocab.pad_id),
            )
        return ShortRun(losses=losses, dev=dev, model=model)


def short_run_config(
    train: TrainConfig, steps: int, *, lr: float | None = None, batch_size: int | None = None
) -> TrainConfig:
    """``[train]`` for a short run: ``steps`` steps across as many epochs as that takes, no
    periodic evaluation, every loss read at once (the early stop needs it, CUDA too)."""
    cfg = copy.deepcopy(train)
    cfg.max_steps, cfg.eval_every, cfg.epochs, cfg.log_every = int(steps), 0, 1_000_000, 1
    # Label smoothing lifts the loss floor above 0, and the checks' thresholds (overfit a
    # batch to a loss near 0, a falling loss) are stated for plain cross-entropy.
    cfg.label_smoothing = 0.0
    if lr is not None:
        cfg.lr = float(lr)
    if batch_size is not None:
        cfg.batch_size = int(batch_size)
    return cfg
