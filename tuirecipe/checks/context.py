"""What a check gets to work with: the config, the prepared data, fresh seeded models,
short training runs on the trainer's own batches, progress and cancellation.

Imported only inside a worker process (it needs torch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from tuirecipe.config import Config
from tuirecipe.events import Event


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
        evaluate_dev: bool = True,
        before_step: Callable[[torch.nn.Module, int], None] | None = None,
    ) -> ShortRun:
        """Train ``model`` for ``steps`` on the trainer's batches; return losses and dev.

        Uses the real Trainer (same loss, optimizer, batching), limited to ``steps`` and
        without periodic evaluation, so a check measures what a training run would do.
        """
        import copy

        from tuirecipe.train.batches import evaluate
        from tuirecipe.train.trainer import Trainer

        steps = steps or self.config.checks.steps
        cfg = copy.deepcopy(self.config.train)
        cfg.max_steps, cfg.eval_every, cfg.epochs = steps, 0, 10_000
        if lr is not None:
            cfg.lr = lr
        data = self.data
        if train_split is not None:
            data = copy.copy(data)
            data.train = train_split
        losses: list[float] = []

        def collect(event: Event) -> None:
            if event.kind == "step":
                losses.append(event.loss)
                if len(losses) % 10 == 0:
                    self.progress(len(losses) / steps, f"step {len(losses)}/{steps}")

        trainer = Trainer(
            model,
            data,
            cfg,
            seed=self.config.seed if seed is None else seed,
            emit=collect,
            device=self.device,
            predictions_sample=0,
        )
        if before_step is not None:
            trainer.add_hook("on_batch_end", lambda t: before_step(t.model, t.step))
        trainer.add_hook("on_batch_end", lambda t: t.request_stop() if self.cancelled() else None)
        # The trainer evaluates once at the end; the check decides whether it wants it.
        trainer.run()
        dev = {}
        if evaluate_dev:
            dev = evaluate(
                model,
                self.data.dev,
                task=self.data.task,
                batch_size=max(64, self.config.train.batch_size),
                device=self.device,
                pad_id=int(self.data.vocab.pad_id),
            )
        return ShortRun(losses=losses, dev=dev, model=model)
