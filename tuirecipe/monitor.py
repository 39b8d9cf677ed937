"""The monitored metric: which dev figure picks the best checkpoint, stops early and ranks.

``train.monitor`` names a metric of the dev evaluation events (``"dev.loss"``,
``"dev.acc"``…); its mode (lower or higher is better) comes from :data:`METRIC_MODES`, so a
new metric needs one entry there and one in :data:`TASK_METRICS` once the evaluation
records it. The trainer, early stopping, the saved ``best.pt``, the runs listing and the
tuning tables all judge "best" with the same :class:`Monitor`, so every reported best is
the evaluation whose weights were kept.

Plain Python (no torch): the config and the run listing import it too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_MONITOR = "dev.loss"
AUTO = "auto"  # dev loss, or dev macro-F1 where the training labels are long-tailed
# "Long-tailed": the largest training class holds at least this many times the rows of
# the smallest. Loss and accuracy are then ruled by the big classes, and a checkpoint
# that gives up the rare ones can look best by them.
LONG_TAIL_RATIO = 10
KEEP_CHOICES = ("best", "last")

# metric name (as in an eval event's ``metrics``) -> "min" | "max"
METRIC_MODES: dict[str, str] = {
    "loss": "min",
    "acc": "max",
    "macro_f1": "max",
    "mse": "min",
    "mae": "min",
    "rmse": "min",
    "spearman": "max",
}
# the metrics each task's dev evaluation records (tuirecipe.train.batches.evaluate)
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("loss", "acc", "macro_f1"),
    "regression": ("loss", "mse", "mae", "rmse", "spearman"),
}
CHECKPOINT_FILES = {"best": "best.pt", "last": "last.pt"}


@dataclass(frozen=True)
class Monitor:
    """A dev metric and whether lower (``"min"``) or higher (``"max"``) is better."""

    metric: str = "loss"
    mode: str = "min"
    split: str = "dev"

    @property
    def name(self) -> str:
        return f"{self.split}.{self.metric}"

    def value(self, metrics: Mapping[str, Any]) -> float | None:
        """The monitored figure of one evaluation (``None`` when absent or not finite)."""
        v = metrics.get(self.metric)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return None
        return float(v)

    def improves(self, candidate: float, best: float | None, min_delta: float = 0.0) -> bool:
        """Is ``candidate`` better than ``best`` by more than ``min_delta``? Ties do not
        improve: the earlier evaluation stays the best."""
        if best is None:
            return True
        if self.mode == "min":
            return candidate < best - min_delta
        return candidate > best + min_delta

    def best_of(self, evals: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
        """The first evaluation with the best monitored figure (``None`` if none has it)."""
        best, best_value = None, None
        for metrics in evals:
            value = self.value(metrics)
            if value is not None and self.improves(value, best_value):
                best, best_value = metrics, value
        return best

    def describe(self) -> str:
        better = "lower" if self.mode == "min" else "higher"
        return f"{self.split} {self.metric} ({better} is better)"


def monitor_problem(text: str, task: str) -> str | None:
    """Why ``text`` is not a monitor for ``task`` (``None`` when it is one)."""
    if text == AUTO:
        return None
    split, _, metric = text.partition(".")
    known = TASK_METRICS.get(task, ())
    choices = ", ".join(f"dev.{m}" for m in known)
    if split != "dev" or not metric:
        return f"must be 'dev.<metric>' ({choices}), got '{text}'"
    if metric not in known or metric not in METRIC_MODES:
        return f"'{metric}' is not a {task} metric; use one of {choices}"
    return None


def parse_monitor(text: str = DEFAULT_MONITOR, task: str = "classification") -> Monitor:
    """``"dev.acc"`` → ``Monitor("acc", "max")``; ``ValueError`` naming the choices."""
    problem = monitor_problem(text, task)
    if problem is not None:
        raise ValueError(problem)
    if text == AUTO:  # without the data to judge by: dev loss (resolve_monitor decides)
        return Monitor()
    metric = text.partition(".")[2]
    return Monitor(metric, METRIC_MODES[metric])


def monitor_of(train_table: Mapping[str, Any], task: str) -> Monitor:
    """The monitor a (possibly older) run's config asked for; dev loss when it names none
    or one this version does not know."""
    try:
        return parse_monitor(str(train_table.get("monitor", DEFAULT_MONITOR)), task)
    except ValueError:
        return Monitor()


def long_tail(class_counts: Iterable[int]) -> tuple[bool, float]:
    """Whether training labels with these counts are long-tailed, and the ratio of the
    largest class to the smallest (classes with no training row left out)."""
    present = [int(c) for c in class_counts if int(c) > 0]
    if len(present) < 2:
        return False, 1.0
    ratio = max(present) / min(present)
    return ratio >= LONG_TAIL_RATIO, ratio


def resolve_monitor(text: str, task: str, class_counts: Iterable[int] = ()) -> tuple[Monitor, str]:
    """The monitor a run uses, and a note when ``auto`` chose for the data: dev loss, but
    dev macro-F1 for classification whose training labels are long-tailed."""
    if text != AUTO:
        return parse_monitor(text, task), ""
    if task == "classification":
        tailed, ratio = long_tail(class_counts)
        if tailed:
            return Monitor("macro_f1", METRIC_MODES["macro_f1"]), (
                f"long-tailed labels (the largest class has {ratio:.0f}x the rows of the "
                "smallest): dev macro-F1 picks the kept checkpoint and drives early "
                "stopping, so rare classes count; set train.monitor to choose another"
            )
    return Monitor(), ""
