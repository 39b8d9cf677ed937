"""A Lightning logger that records the run as a tuirecipe run directory.

::

    from tuirecipe.integrations.lightning import TuirecipeLogger

    trainer = lightning.Trainer(logger=TuirecipeLogger(runs_dir="runs", motivation="…"))

Hyperparameters (``save_hyperparameters``) become the run's ``config.toml``; every logged
metric goes through :meth:`tuirecipe.track.Run.log` (``train_loss`` → the loss curve,
``val_*`` → dev evaluations, ``epoch`` → the epoch). The run ends when Lightning
finalises the logger: finished after ``fit``, failed with the exception's line (stopped for
Ctrl-C) when training raised. Only rank zero records.
"""

from __future__ import annotations

import sys
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

import tuirecipe.track


class TuirecipeLogger(Logger):
    """Lightning ``Logger`` writing a tuirecipe run (the run is made on first use)."""

    def __init__(
        self,
        name: str = "lightning",
        runs_dir: str = "runs",
        motivation: str = "",
        config: Mapping[str, Any] | None = None,
        data: str | None = None,
    ) -> None:
        super().__init__()
        self._name = name
        self._runs_dir = runs_dir
        self._motivation = motivation
        self._data = data
        self._config: dict[str, Any] = dict(config or {})
        self._run: tuirecipe.track.Run | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> str:
        run = self.experiment  # on ranks other than zero, Lightning's dummy
        return run.id if isinstance(run, tuirecipe.track.Run) else ""

    @property
    @rank_zero_experiment
    def experiment(self) -> tuirecipe.track.Run:
        """The tuirecipe run (:class:`tuirecipe.track.Run`)."""
        if self._run is None:
            self._run = tuirecipe.track.start(
                name=self._name,
                config=self._config,
                motivation=self._motivation,
                runs_dir=self._runs_dir,
                data=self._data,
            )
        return self._run

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(params, Namespace):
            params = vars(params)
        self._config.update(dict(params or {}))
        if self._run is None:
            self.experiment  # noqa: B018 - made now, with these as its config
        else:
            self._run.set_config(self._config)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        values = dict(metrics)
        at = step if step is not None else int(values.pop("step", 0))
        self.experiment.log(at, **values)

    @rank_zero_only
    def save(self) -> None:
        if self._run is not None:
            self._run.flush()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._run is None:
            return
        if status in ("success", "finished"):
            self._run.finish("finished")
            return
        # Lightning finalises a failed fit inside its ``except``: the exception is at hand.
        raised = sys.exc_info()[1]
        if raised is not None:
            self._run.finish_with(raised)
        else:
            self._run.finish("failed", f"Lightning ended the run: {status}")
