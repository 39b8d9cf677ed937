"""The Train pane's status lines: the config, the followed run, progress and rate, the
last step, the last dev evaluation and the latest message.

A display widget: the pane tells it what to show (attributes and calls down); it reads
no file and holds no run. The step and rate lines change several times a second, so they
are one-line labels whose size never changes while shown (no layout pass).
"""

from __future__ import annotations

import math
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

from tuirecipe.config import Config
from tuirecipe.printable import printable
from tuirecipe.runs.curves import RunHistory
from tuirecipe.throughput import window_throughput
from tuirecipe.ui.widgets.progress import RunProgress

RATE_WINDOW = 100  # steps over which steps/s is measured
# Labels sized one line by the stylesheet: updating them never changes the layout.
ONE_LINE_LABELS = frozenset({"#train-step", "#train-rate", "#train-eval"})
IDLE_TEXT = (
    "No run followed. Press s to start a training run of this config, "
    "or pick a run in the Runs pane (5)."
)


def config_line(config: Config | dict[str, Any], title: str = "Config") -> str:
    """A config in one line: the console's (what a new run would train) or, as a table
    read from a run's ``config.toml``, the followed run's."""
    table = config.to_dict() if isinstance(config, Config) else config
    train, model, data = (table.get(k) or {} for k in ("train", "model", "data"))

    def part(fmt: str, value: Any) -> str:
        return fmt.format(value) if value not in (None, "") else ""

    parts = [
        part("model {}", model.get("name")),
        part("data {}", data.get("path")),
        part("{} epochs", train.get("epochs")),
        part("max {} steps", train.get("max_steps") or None),
        part("batch {}", train.get("batch_size")),
        part("lr {:g}", train.get("lr")),
        part("device {}", train.get("device")),
    ]
    return f"{title}: " + (" · ".join(p for p in parts if p) or "not readable")


def metric_text(name: str, value: float, ci: dict[str, list[float]]) -> str:
    low_high = ci.get(name)
    interval = f" [{low_high[0]:.3f}, {low_high[1]:.3f}]" if low_high else ""
    return f"{name} {value:.4f}{interval}"


def clock(seconds: float) -> str:
    s = int(seconds)
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def rate_text(
    last: Any,
    history: RunHistory,
    total_steps: int | None,
    state: str,
    short: bool = False,
    execution: dict[str, Any] | None = None,
) -> str:
    """Steps per second over the last RATE_WINDOW steps, time elapsed and, while the run
    trains, the time left; then tokens/s and, on CUDA, TFLOP/s and the share of the
    card's peak (:mod:`tuirecipe.throughput`, from the run's ``execution`` meta).
    ``short``: the time left while it trains, else the elapsed, and tokens/s only."""
    times = history.step_time
    if len(times) < 2:
        return ""
    first = max(0, len(times) - RATE_WINDOW)
    steps = times.x[-1] - times.x[first]
    seconds = times.y[-1] - times.y[first]
    if seconds <= 0 or steps <= 0:
        return ""
    rate = steps / seconds
    eta = ""
    if total_steps and state in ("running", "paused") and last.step < total_steps:
        eta = f"ETA {clock((total_steps - last.step) / rate)}"
    tokens = history.step_tokens
    # steps recorded before tokens were (an older run) say 0: then no token rate
    figures = window_throughput(tokens.y, times.y, RATE_WINDOW, execution)
    if short:
        tok = f" · {figures.tokens_per_s:,.0f} tok/s" if figures else ""
        return f"{rate:.1f} steps/s{tok} · " + (eta or f"{clock(last.elapsed)} elapsed")
    text = f"{rate:.1f} steps/s · {clock(last.elapsed)} elapsed" + (f" · {eta}" if eta else "")
    return f"{text} · {figures.text()}" if figures else text


def short_step_text(last: Any, total_steps: int | None) -> str:
    """The step line of the compact status: step, loss and accuracy."""
    total = f"/{total_steps}" if total_steps else ""
    acc = f" · acc {last.acc:.3f}" if last.acc is not None else ""
    return f"step {last.step}{total} · loss {last.loss:.3f}{acc}"


class RunStatus(Vertical):
    """Config, run, progress, step, evaluation and message lines, top to bottom.

    ``compact`` (a short terminal): two lines only — the progress bar with the step, its
    metrics and the rate; then the last evaluation and the latest message. The run's id is
    in the console's header, the config in the start dialog."""

    def __init__(self, config: Config, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.total_steps: int | None = None
        self.execution: dict[str, Any] | None = None  # the followed run's meta "execution"
        self.compact = False
        self.following = False  # a run is followed (else the idle text is shown)
        self._step = ""  # the full-size lines' texts, kept to switch between sizes
        self._short_step = ""
        self._rate = ""
        self._short_rate = ""
        self._lr = ""
        self._eval = ""
        self._message = ""
        self._urgent = False
        self._texts: dict[str, str] = {}  # what each one-line label shows

    def compose(self) -> ComposeResult:
        # Plain text, never markup: paths, run ids, the typed motivation, error messages
        # and "[low, high]" intervals are shown as they are.
        yield Label(printable(config_line(self.config)), id="train-config", markup=False)
        yield Label(IDLE_TEXT, id="train-run", markup=False)
        with Horizontal(id="train-progress-row"):
            yield RunProgress(id="train-progress")
            yield Label("", id="train-rate", markup=False)
        yield Label("", id="train-step", markup=False)
        yield Label("", id="train-eval", markup=False)
        yield Label("", id="train-message", markup=False)

    def on_mount(self) -> None:
        for part in ("#train-step", "#train-eval", "#train-message"):
            self.query_one(part, Label).display = False

    def line(self, part: str, text: str) -> None:
        """Update a one-line label; an empty one takes no room.

        While a one-line label stays shown its size is fixed (one line, full width), so
        updating it needs no layout pass of the whole screen.
        """
        if self._texts.get(part) == text:
            return  # unchanged: no repaint
        self._texts[part] = text
        label = self.query_one(part, Label)
        text = printable(text)  # messages quote rows and exceptions: an ESC is shown, not sent
        shown = bool(text)
        if label.display == shown and part in ONE_LINE_LABELS:
            label.update(text, layout=False)
        else:
            label.update(text)
            label.display = shown

    def set_compact(self, compact: bool) -> None:
        """Two lines (a short terminal) or the full block."""
        if compact == self.compact:
            return
        self.compact = compact
        self._relayout()

    def _relayout(self) -> None:
        compact = self.compact
        self.query_one("#train-config", Label).display = not compact
        self.query_one("#train-run", Label).display = not (compact and self.following)
        self._show_lines()

    def _show_lines(self) -> None:
        if self.compact:
            self.line(
                "#train-rate", " · ".join(t for t in (self._short_step, self._short_rate) if t)
            )
            self.line("#train-step", "")
            # The learning-rate plot is hidden on a short pane: its value leads line two.
            self.line(
                "#train-eval",
                " · ".join(
                    t
                    for t in (
                        (self._message, self._lr, self._eval)
                        if self._urgent
                        else (self._lr, self._eval, self._message)
                    )
                    if t
                ),
            )
            self.line("#train-message", "")
        else:
            self.line("#train-rate", self._rate)
            self.line("#train-step", self._step)
            self.line("#train-eval", self._eval)
            self.line("#train-message", self._message)

    def show_config(self, table: dict[str, Any] | None) -> None:
        """The followed run's config (its ``config.toml``), or with None the console's:
        what ``s`` would start."""
        line = config_line(table, "Run config") if table is not None else config_line(self.config)
        self.query_one("#train-config", Label).update(printable(line))

    def show_run(self, run_id: str, motivation: str = "") -> None:
        """A new run is followed: its name (and why it was started); the rest cleared."""
        why = f" · why: {motivation}" if motivation else ""
        self.query_one("#train-run", Label).update(printable(f"Run {run_id}{why}"))
        if not self.following:
            self.following = True
            self._relayout()

    def reset(self, run_id: str) -> None:
        self.total_steps = self.execution = None
        self.query_one("#train-progress", RunProgress).update(total=None, progress=0)
        self._step = self._short_step = self._rate = self._short_rate = ""
        self._lr = self._eval = self._message = ""
        self._urgent = False
        self._show_lines()
        self.show_run(run_id)

    def set_total(self, total_steps: int | None) -> None:
        if total_steps and total_steps != self.total_steps:
            self.total_steps = total_steps
            self.query_one("#train-progress", RunProgress).update(total=total_steps)

    def show_step(self, last: Any, history: RunHistory, state: str) -> None:
        self.query_one("#train-progress", RunProgress).update(progress=last.step)
        total = f"/{self.total_steps}" if self.total_steps else ""
        acc = f" · acc {last.acc:.3f}" if last.acc is not None else ""
        # a tracked loop that logs no learning rate records it as NaN: no "lr nan" shown
        lr = last.lr
        self._lr = f"lr {lr:.2g}" if isinstance(lr, (int, float)) and math.isfinite(lr) else ""
        self._step = (
            f"step {last.step}{total} · epoch {last.epoch:.2f} · loss {last.loss:.4f}{acc}"
            + (f" · {self._lr}" if self._lr else "")
        )
        self._short_step = short_step_text(last, self.total_steps)
        self.show_rate(last, history, state)

    def show_rate(self, last: Any, history: RunHistory, state: str) -> None:
        total, execution = self.total_steps, self.execution
        self._rate = rate_text(last, history, total, state, execution=execution)
        self._short_rate = rate_text(last, history, total, state, True, execution)
        self._show_lines()

    def show_eval(self, event: Any) -> None:
        parts = [
            metric_text(k, v, event.ci)
            for k, v in event.metrics.items()
            if isinstance(v, (int, float))
        ]
        n = f" (n={event.n})" if event.n else ""
        self._eval = f"{event.split} @ step {event.step}: " + " · ".join(parts) + n
        self._show_lines()

    def show_message(self, text: str, urgent: bool = False) -> None:
        """The latest message; an ``urgent`` one (an error, a run that did not start)
        leads the short status line, where the rest may be cut."""
        self._message, self._urgent = text, urgent
        self._show_lines()

    def show_finished(self) -> None:
        """The run finished: the bar full."""
        if self.total_steps:
            self.query_one("#train-progress", RunProgress).update(progress=self.total_steps)
