"""Metric histories of a run and the column-wise min/max envelope used to draw them.

Drawing cost must not grow with run length (DESIGN.md §6): a plot ``columns`` cells wide
gets at most two points per column — the minimum and maximum of the samples that fall
in it — so spikes stay visible while a million steps draw like a thousand. No UI here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from tuirecipe.events import EvalMetrics, Event, Resumed, StepMetrics


class Series:
    """A growable pair of float arrays (x, y) with amortised O(1) append."""

    def __init__(self, capacity: int = 1024) -> None:
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self._x):
            self._x = np.resize(self._x, 2 * self.n)
            self._y = np.resize(self._y, 2 * self.n)
        self._x[self.n] = x
        self._y[self.n] = y
        self.n += 1

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]

    def __len__(self) -> int:
        return self.n

    def cut_after(self, x: float) -> None:
        """Drop the points past ``x`` (x is in increasing order)."""
        self.n = int(np.searchsorted(self.x, x, "right"))


def envelope(
    x: np.ndarray, y: np.ndarray, columns: int, x_range: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``2 * columns`` points: each column's min and max, in x order.

    ``x`` must be sorted. Only points inside ``x_range`` (the visible window) are used.
    The work is a binary search plus one pass with ``np.minimum.reduceat`` over the
    visible points, vectorised.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x_range is not None:
        lo, hi = np.searchsorted(x, x_range[0], "left"), np.searchsorted(x, x_range[1], "right")
        x, y = x[lo:hi], y[lo:hi]
    n = len(x)
    columns = max(1, int(columns))
    if n <= 2 * columns:
        return x, y
    finite = np.isfinite(y)
    if not finite.all():
        x, y = x[finite], y[finite]
        n = len(x)
        if n <= 2 * columns:
            return x, y
    span = x[-1] - x[0] or 1.0
    col = np.minimum(((x - x[0]) / span * columns).astype(np.int64), columns - 1)
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    ymin = np.minimum.reduceat(y, starts)
    ymax = np.maximum.reduceat(y, starts)
    ends = np.r_[starts[1:], n] - 1
    # Within each column, put min and max in the order they occurred, at the column's
    # first and last x, so the drawn line keeps its shape.
    argmin_first = _first_index_of(y, starts, ends, ymin)
    argmax_first = _first_index_of(y, starts, ends, ymax)
    min_first = argmin_first <= argmax_first
    xs = np.empty(2 * len(starts))
    ys = np.empty(2 * len(starts))
    xs[0::2], xs[1::2] = x[starts], x[ends]
    ys[0::2] = np.where(min_first, ymin, ymax)
    ys[1::2] = np.where(min_first, ymax, ymin)
    return xs, ys


def _first_index_of(
    y: np.ndarray, starts: np.ndarray, ends: np.ndarray, target: np.ndarray
) -> np.ndarray:
    hit = y == np.repeat(target, ends - starts + 1)
    idx = np.where(hit, np.arange(len(y)), len(y))
    return np.minimum.reduceat(idx, starts)


@dataclass
class RunHistory:
    """Everything plottable in one run's events, kept as growable arrays."""

    loss: Series = field(default_factory=Series)
    acc: Series = field(default_factory=Series)
    lr: Series = field(default_factory=Series)
    step_time: Series = field(default_factory=Series)  # (step, elapsed seconds)
    step_epoch: Series = field(default_factory=Series)  # (step, epoch)
    step_tokens: Series = field(default_factory=Series)  # (step, non-pad tokens so far)
    dev: dict[str, Series] = field(default_factory=dict)  # metric -> (step, value)
    last_step: int = 0
    last_eval_step: int = -1  # of the last dev evaluation (one at step 0 counts)
    resumed_t: float = 0.0  # when the run last resumed: step events older than it are stale

    def add_new(self, events: Iterable[Event]) -> list[Event]:
        """Add the steps and dev evaluations that come after the last ones recorded, and
        return them: a run read from its file and then followed on the bus sees some
        events twice. A ``resumed`` event cuts the history back to its step first, and the
        steps written before it (by the worker it replaced: a console's bus may deliver them
        after it) are skipped."""
        new: list[Event] = []
        for e in events:
            if isinstance(e, Resumed):
                self.resumed_at(e.step, e.t)
                new.append(e)
            elif isinstance(e, (StepMetrics, EvalMetrics)) and e.t < self.resumed_t:
                continue
            elif (isinstance(e, StepMetrics) and e.step > self.last_step) or (
                isinstance(e, EvalMetrics) and e.split == "dev" and e.step > self.last_eval_step
            ):
                self.add([e])
                new.append(e)
        return new

    def resumed_at(self, step: int, t: float = 0.0) -> None:
        """The run continued at time ``t`` from a checkpoint at ``step``: what was recorded
        past it is superseded (see :class:`~tuirecipe.events.Resumed`)."""
        for series in (self.loss, self.acc, self.lr, self.step_time, self.step_epoch):
            series.cut_after(step)
        for series in self.dev.values():
            series.cut_after(step)
        self.last_step = min(self.last_step, step)
        evaluated = [int(s.x[-1]) for s in self.dev.values() if len(s)]
        self.last_eval_step = max(evaluated) if evaluated else -1
        self.resumed_t = max(self.resumed_t, t)

    def add(self, events: Iterable[Event]) -> None:
        for event in events:
            if isinstance(event, Resumed):
                self.resumed_at(event.step, event.t)
            elif isinstance(event, StepMetrics):
                s = event.step
                self.loss.append(s, event.loss)
                if event.acc is not None:
                    self.acc.append(s, event.acc)
                self.lr.append(s, event.lr)
                self.step_time.append(s, event.elapsed)
                self.step_epoch.append(s, event.epoch)
                self.step_tokens.append(s, event.tokens)
                self.last_step = s
            elif isinstance(event, EvalMetrics) and event.split == "dev":
                for name, value in event.metrics.items():
                    if isinstance(value, (int, float)):
                        self.dev.setdefault(name, Series(64)).append(event.step, float(value))
                self.last_eval_step = event.step
