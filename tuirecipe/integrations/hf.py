"""A Hugging Face ``TrainerCallback`` that records the run as a tuirecipe run directory.

::

    from tuirecipe.integrations.hf import TuirecipeCallback

    trainer = Trainer(..., callbacks=[TuirecipeCallback(runs_dir="runs", motivation="…")])

The run starts with training: its ``config.toml`` holds the ``TrainingArguments`` under
``[train]`` and the model's config under ``[model]`` (with ``config`` given here on top).
Every ``on_log`` goes through :meth:`tuirecipe.track.Run.log` at the global step: ``loss``
and ``learning_rate`` make the loss curve, ``eval_*`` the dev evaluations; speed figures
(``train_runtime``…) are kept under their names. ``on_train_end`` finishes the run; an
exception that ends the script fails it (:mod:`tuirecipe.track` records it at exit).
Only the main process records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transformers import TrainerCallback

import tuirecipe.track


class TuirecipeCallback(TrainerCallback):
    """Records a ``transformers.Trainer`` run for tuirecipe."""

    def __init__(
        self,
        name: str = "hf",
        runs_dir: str = "runs",
        motivation: str = "",
        config: Mapping[str, Any] | None = None,
        data: str | None = None,
    ) -> None:
        self.name = name
        self.runs_dir = runs_dir
        self.motivation = motivation
        self.config = dict(config or {})
        self.data = data
        self.run: tuirecipe.track.Run | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero or self.run is not None:
            return
        table: dict[str, Any] = {"train": args.to_dict()}
        model = kwargs.get("model")
        model_config = getattr(model, "config", None)
        if model_config is not None and hasattr(model_config, "to_dict"):
            table["model"] = model_config.to_dict()
        table.update(self.config)
        self.run = tuirecipe.track.start(
            name=self.name,
            config=table,
            motivation=self.motivation,
            runs_dir=self.runs_dir,
            data=self.data,
            total_steps=int(state.max_steps) if state.max_steps else None,
        )

    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        logs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if self.run is None or not logs:
            return
        values = dict(logs)
        if "train_runtime" in values and "train_loss" in values:
            # The end-of-training summary: the mean loss over all steps, not this step's.
            values["train_loss_mean"] = values.pop("train_loss")
        self.run.log(int(state.global_step), **values)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.run is not None:
            self.run.finish("finished")
