"""Early stopping on the dev loss, as an ``on_eval_end`` hook of the trainer."""

from __future__ import annotations

import math
from typing import Any


class EarlyStopping:
    """Stop after ``patience`` evaluations in a row without a lower dev loss.

    The run still ends as "finished" (the trainer's ``stop_early``): stopping here is
    part of the recipe, not an interruption.
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best = math.inf
        self.bad_evals = 0

    def __call__(self, trainer: Any) -> None:
        loss = trainer.last_eval.get("loss")
        if loss is None:
            return
        if loss < self.best - self.min_delta:
            self.best, self.bad_evals = loss, 0
            return
        self.bad_evals += 1
        if self.bad_evals >= self.patience:
            trainer.stop_early(
                f"early stopping: dev loss has not improved on {self.best:.4g} "
                f"for {self.bad_evals} evaluations"
            )
