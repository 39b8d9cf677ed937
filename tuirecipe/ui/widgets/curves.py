"""Live training curves: plotext plots that pull from run histories on a timer.

Each :class:`CurvePlot` owns its plotext figure (``self.plt``, never plotext's global)
and a list of sources, ``(label, RunHistory)`` — the followed run first, overlays after.
On a timer (its own, or its owner's: see ``interval=None``) it checks whether anything it
shows changed (new points, settings, size) and only then redraws: ``clear_data()``, one
``plot`` per line, a build in a thread, ``refresh()``.

Drawing cost does not grow with run length (DESIGN.md §6). Per line:

1. smoothing (:func:`tuirecipe.stats.ema_extend`, a debiased EMA as TensorBoard's slider)
   is computed incrementally: only the points added since the last redraw are smoothed;
2. a level-of-detail cache keeps each completed block of ``LOD_BLOCK`` points as its min
   and max (at their own x), also incrementally — a million points become a few thousand;
3. the x axis (step, epoch or training time) is mapped on those few points;
4. :func:`tuirecipe.runs.curves.envelope` reduces them to the plot's width (each
   column's min and max), and plotext draws at most two points per column.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual_plotext import PlotextPlot

from tuirecipe.runs.curves import RunHistory, Series, envelope
from tuirecipe.stats import EMA_START, EmaState, ema_extend
from tuirecipe.ui.widgets.axes import x_axis, y_axis

X_AXES = ("step", "epoch", "time")
LOD_BLOCK = 256
REDRAW_SECONDS = 0.25
SMOOTHING_STEPS = (0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99)
# The followed run's lines: train cyan, dev orange. Each overlaid run gets one colour for
# its train and dev lines (told apart by marker).
FIRST_COLORS = ("cyan", "orange")
SOURCE_COLORS = ("magenta", "green", "red", "blue", "orange+")
# The same colours for the legend, which Rich draws: plotext's "orange" is ANSI colour 3
# (Rich's yellow) and "orange+" colour 11.
RICH_COLORS = {"orange": "yellow", "orange+": "bright_yellow"}
LEGEND_MARKS = {"braille": "⣀⣀", "hd": "▄▄"}
SWATCH = "██"  # a run's colour in the legend


@dataclass
class CurveSettings:
    smoothing: float = 0.6
    log_y: bool = False
    x_axis: str = "step"

    def key(self) -> tuple:
        return (self.smoothing, self.log_y, self.x_axis)


class _Growable(Series):
    def extend(self, xs: np.ndarray, ys: np.ndarray) -> None:
        need = self.n + len(xs)
        if need > len(self._x):
            size = max(need, 2 * len(self._x))
            self._x = np.resize(self._x, size)
            self._y = np.resize(self._y, size)
        self._x[self.n : need] = xs
        self._y[self.n : need] = ys
        self.n = need


class LineCache:
    """One line's smoothed values and level-of-detail blocks, extended as points arrive."""

    def __init__(self, weight: float) -> None:
        self.weight = weight
        self._start_over()

    def _start_over(self) -> None:
        self.n = 0
        self.state: EmaState = EMA_START
        self.smoothed = _Growable()
        self.lod = _Growable()  # min/max of each completed block, at their x
        self.lod_upto = 0  # points of ``smoothed`` folded into ``lod``

    def update(self, series: Series, columns: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) to draw: the LOD blocks plus the tail not yet in a block, once blocks are
        at most half a column wide; before that, every (smoothed) point."""
        if len(series) < self.n:  # a different history: start over
            self._start_over()
        if len(series) > self.n:
            new_x, new_y = series.x[self.n :], series.y[self.n :]
            smooth, self.state = ema_extend(new_y, self.weight, self.state)
            self.smoothed.extend(new_x, smooth)
            self.n = len(series)
            self._fold()
        x, y = self.smoothed.x, self.smoothed.y
        if self.smoothed.n < 2 * LOD_BLOCK * columns:
            return x, y
        tail_x, tail_y = x[self.lod_upto :], y[self.lod_upto :]
        if not len(self.lod):
            return tail_x, tail_y
        return np.concatenate([self.lod.x, tail_x]), np.concatenate([self.lod.y, tail_y])

    def _fold(self) -> None:
        blocks = (self.smoothed.n - self.lod_upto) // LOD_BLOCK
        if blocks <= 0:
            return
        end = self.lod_upto + blocks * LOD_BLOCK
        x = self.smoothed.x[self.lod_upto : end].reshape(blocks, LOD_BLOCK)
        y = self.smoothed.y[self.lod_upto : end].reshape(blocks, LOD_BLOCK)
        y = np.where(np.isfinite(y), y, np.nan)
        with np.errstate(all="ignore"):
            lo = np.nanargmin(np.where(np.isnan(y), np.inf, y), axis=1)
            hi = np.nanargmax(np.where(np.isnan(y), -np.inf, y), axis=1)
        rows = np.arange(blocks)
        first, second = np.minimum(lo, hi), np.maximum(lo, hi)
        # Each block becomes its min and max in the order they occurred (both real points).
        xs = np.stack([x[rows, first], x[rows, second]], axis=1).reshape(-1)
        ys = np.stack([y[rows, first], y[rows, second]], axis=1).reshape(-1)
        self.lod.extend(xs, ys)
        self.lod_upto = end


def short_names(run_ids: list[str], longest: int = 16) -> list[str]:
    """Names that tell runs apart in a legend: the ids without the part they share at the
    start (cut at a ``-``), at most ``longest`` characters (the end kept)."""
    if len(run_ids) < 2:
        return [run_id[-longest:] for run_id in run_ids]
    shared = os.path.commonprefix(run_ids)
    cut = shared.rfind("-") + 1
    names = [run_id[cut:] or run_id for run_id in run_ids]
    return [name[-longest:] for name in names]


def map_x(history: RunHistory, steps: np.ndarray, axis: str) -> np.ndarray:
    """Steps to the chosen x axis: steps, epochs, or seconds of training."""
    if axis == "epoch" and len(history.step_epoch):
        return np.interp(steps, history.step_epoch.x, history.step_epoch.y)
    if axis == "time" and len(history.step_time):
        return np.interp(steps, history.step_time.x, history.step_time.y)
    return steps


@dataclass(frozen=True)
class LineSpec:
    """Which series of a history a plot shows: ``pick(history) -> Series | None``."""

    label: str
    pick: Callable[[RunHistory], Series | None]
    smooth: bool = True  # dev curves (a point per evaluation) are not smoothed
    marker: str = "braille"


def train_series(name: str) -> Callable[[RunHistory], Series | None]:
    return lambda h: getattr(h, name)


def dev_series(name: str) -> Callable[[RunHistory], Series | None]:
    return lambda h: h.dev.get(name)


METRIC_LINES: dict[str, tuple[str, tuple[LineSpec, ...]]] = {
    "loss": (
        "loss",
        (
            LineSpec("train", train_series("loss")),
            LineSpec("dev", dev_series("loss"), smooth=False, marker="hd"),
        ),
    ),
    "acc": (
        "accuracy",
        (
            LineSpec("train", train_series("acc")),
            LineSpec("dev", dev_series("acc"), smooth=False, marker="hd"),
        ),
    ),
    "mae": ("dev MAE", (LineSpec("dev", dev_series("mae"), smooth=False, marker="hd"),)),
    "lr": ("learning rate", (LineSpec("lr", train_series("lr"), smooth=False),)),
}


class CurveData:
    """The data path of a curve plot, without Textual: sources → lines → plotext figure."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.sources: list[tuple[str, RunHistory]] = []
        self.settings = CurveSettings()
        self.label_first = False  # name the first source's lines too (when comparing)
        self._caches: dict[tuple[int, str, float], LineCache] = {}
        self._drawn_lines: list[tuple[str, np.ndarray, np.ndarray, str, str]] = []
        self.header: list[Text] = []  # the title and legend lines of the last draw
        self._legend_keys: list[tuple[str, str | None, str]] = []  # (mark, colour, text)

    def signature(self, width: int, height: int) -> tuple:
        lengths = []
        for _, history in self.sources:
            for spec in METRIC_LINES[self.metric][1]:
                series = spec.pick(history)
                lengths.append(len(series) if series is not None else 0)
        return (
            tuple(id(h) for _, h in self.sources),
            tuple(lengths),
            self.settings.key(),
            width,
            height,
            self.metric,
        )

    def lines(self, columns: int) -> list[tuple[str, np.ndarray, np.ndarray, str, str]]:
        """(label, x, y, colour, marker) per drawn line, each at most 2 points per column."""
        out = []
        alive = set()
        # The followed run's lines are keyed one by one (colour and marker); any other run
        # (every run when comparing) has one colour for its lines, told apart by marker,
        # so it is keyed once by name and the markers once for all: four runs still fit.
        keys: list[tuple[str, str | None, str]] = []
        per_run_keys: list[tuple[str, str | None, str]] = []
        for n, (name, history) in enumerate(self.sources):
            for k, spec in enumerate(METRIC_LINES[self.metric][1]):
                series = spec.pick(history)
                if series is None or not len(series):
                    continue
                color = (
                    FIRST_COLORS[k % 2]
                    if n == 0 and not self.label_first
                    else SOURCE_COLORS[n % len(SOURCE_COLORS)]
                    if n
                    else FIRST_COLORS[0]
                )
                weight = self.settings.smoothing if spec.smooth else 0.0
                key = (id(series), spec.label, weight)
                alive.add(key)
                cache = self._caches.get(key)
                if cache is None:
                    cache = self._caches[key] = LineCache(weight)
                steps, y = cache.update(series, columns)
                x = map_x(history, steps, self.settings.x_axis)
                if self.settings.log_y:
                    keep = y > 0
                    x, y = x[keep], y[keep]
                x, y = envelope(x, y, columns)
                if not len(x):
                    continue
                label = f"{name} {spec.label}" if name and (n or self.label_first) else spec.label
                out.append((label, x, y, color, spec.marker))
                if n == 0 and not self.label_first:
                    keys.append((LEGEND_MARKS.get(spec.marker, "━━"), color, spec.label))
                elif (SWATCH, color, name) not in per_run_keys:
                    per_run_keys.append((SWATCH, color, name))
        for key in set(self._caches) - alive:  # settings changed, or a source went
            del self._caches[key]
        if self.label_first and per_run_keys:
            drawn = {marker for *_, marker in out}
            keys = [
                (LEGEND_MARKS.get(spec.marker, "━━"), None, spec.label)
                for spec in METRIC_LINES[self.metric][1]
                if spec.marker in drawn
            ]
        self._legend_keys = keys + per_run_keys
        return out

    def title(self) -> str:
        """The metric's name (the smoothing is on the settings line above the plots)."""
        title, _ = METRIC_LINES[self.metric]
        return title + " (log y)" if self.settings.log_y else title

    def legend(self, width: int) -> list[Text]:
        """The title and one key per line (colour and marker), wrapped to ``width``: drawn
        above the plot, so a legend never covers data, however many runs are compared."""
        if width <= 0:
            return []
        entries = [Text(self.title(), style="bold")]
        for mark, color, text in self._legend_keys:
            entry = Text(mark, style=RICH_COLORS.get(color, color) if color else "")
            entry.append(" ")
            entry.append(text)  # run ids are data: appended as plain text, never markup
            entries.append(entry)
        lines: list[Text] = []
        line = Text()
        for entry in entries:
            if line.cell_len and line.cell_len + 2 + entry.cell_len > width:
                lines.append(line)
                line = Text()
            if line.cell_len:
                line.append("  ")
            line.append_text(entry)
        lines.append(line)
        for wrapped in lines:
            wrapped.truncate(width, overflow="ellipsis")
        return lines

    def draw(self, plt, width: int, height: int) -> int:
        """Rebuild ``plt``'s data for a ``width`` x ``height`` plot (not its rendering) and
        return the canvas's height: the legend (:attr:`header`) takes the rows above it.
        Nothing is drawn inside but the lines: limits and ticks are chosen by
        :mod:`~tuirecipe.ui.widgets.axes`, and on a log axis log10 of the values is drawn
        linearly, so ticks increase upwards whatever the data."""
        plt.clear_data()
        plt.xaxes(True, False)  # no top or right frame: a row and a column more for data
        plt.yaxes(True, False)
        self._drawn_lines = self.lines(max(10, width - 10))
        self.header = self.legend(width)[: max(0, height - 4)]
        height -= len(self.header)
        plotted = []
        for _, x, y, color, marker in self._drawn_lines:
            if self.settings.log_y:
                y = np.log10(y)
            plotted.append((x, y, color, marker))
        finite_x = [x[np.isfinite(x)] for x, *_ in plotted]
        finite_y = [y[np.isfinite(y)] for _, y, *_ in plotted]
        finite_x = [v for v in finite_x if len(v)]
        finite_y = [v for v in finite_y if len(v)]
        if not finite_x or not finite_y:
            return height
        x_low = float(min(v.min() for v in finite_x))
        x_high = float(max(v.max() for v in finite_x))
        y_low = float(min(v.min() for v in finite_y))
        y_high = float(max(v.max() for v in finite_y))
        y_ax = y_axis(y_low, y_high, max(1, height - 2), log=self.settings.log_y)
        label_width = max(len(label) for label in y_ax.labels) if y_ax.labels else 1
        columns = max(4, width - label_width - 3)
        x_ax = x_axis(x_low, x_high, columns, self.settings.x_axis != "epoch")
        plt.xlim(x_ax.low, x_ax.high)
        plt.ylim(y_ax.low, y_ax.high)
        plt.xticks(list(x_ax.ticks), list(x_ax.labels))
        plt.yticks(list(y_ax.ticks), [label.rjust(label_width) for label in y_ax.labels])
        for xs, ys, color, marker in plotted:
            plt.plot(xs.tolist(), ys.tolist(), color=color, marker=marker)
        return height


class CurvePlot(PlotextPlot, can_focus=True):
    """A plot of one metric (``loss``, ``acc``, ``mae``, ``lr``) of one or more runs."""

    def __init__(self, metric: str, interval: float | None = REDRAW_SECONDS, **kwargs) -> None:
        """``interval``: seconds between checks for new points. ``None``: the owner calls
        :meth:`tick` instead, and a plot rebuilt because points arrived is shown at the next
        tick, so every plot of a pane (and its other live lines) repaints in one screen
        update instead of one each. Changes a person asked for show as soon as built."""
        super().__init__(**kwargs)
        self.interval = interval
        self.data = CurveData(metric)
        self._drawn: tuple | None = None  # signature of what is shown
        self._built_theme: tuple[str, str] = ("", "")  # theme key of the last build
        self._building = False
        self._urgent = False  # the build in flight (or next) follows a person's change
        self._ready: tuple[tuple, list[Strip]] | None = None  # built, shown at next tick
        self._strips: list[Strip] = []
        self.redraws = 0

    def on_mount(self) -> None:
        super().on_mount()
        if self.interval is not None:
            self.set_interval(self.interval, self.redraw_if_changed)
        self._urgent = True
        self.redraw_if_changed()

    def on_resize(self) -> None:
        self._urgent = True

    @property
    def metric(self) -> str:
        return self.data.metric

    def set_metric(self, metric: str) -> None:
        if metric != self.data.metric:
            self.data.metric = metric
            self._urgent = True
            self.redraw_if_changed()

    def set_sources(self, sources: list[tuple[str, RunHistory]]) -> None:
        if [(label, id(h)) for label, h in sources] != [
            (label, id(h)) for label, h in self.data.sources
        ]:
            self.data.sources = list(sources)
            self._urgent = True
            self.redraw_if_changed()

    def set_settings(self, settings: CurveSettings) -> None:
        self.data.settings = settings
        self._urgent = True
        self.redraw_if_changed()

    def tick(self) -> bool:
        """The owner's turn: put a finished build on screen; True when there was one. (The
        owner starts the next build with :meth:`redraw_if_changed`.)"""
        if self._ready is None:
            return False
        signature, strips = self._ready
        self._ready = None
        self._present(signature, strips)
        return True

    def on_show(self) -> None:
        self._urgent = True  # back from behind another tab: catch up at once
        self.redraw_if_changed()

    def redraw_if_changed(self) -> None:
        if not self.is_mounted or not self.display or self._building:
            return  # a build in flight calls back here when it is done
        if self.interval is None and not self._urgent and not self.is_on_screen:
            return  # behind another tab: on_show catches up
        width, height = self.size.width, self.size.height
        signature = self.data.signature(width, height)
        theme = self._theme_key()  # the strips carry the theme's colours
        if self._ready is not None and self._ready[0] == signature:
            return  # built already, waiting for the next tick
        if (signature == self._drawn and theme == self._built_theme) or width <= 0 or height <= 0:
            return
        # Lines and their envelopes are cheap numpy work: done here, where the history
        # grows. plotext's build (25-50 ms for one plot on a small CPU) and the ANSI parse
        # run in a thread, so the event loop is never held for a whole plot.
        canvas = self.data.draw(self.plt, width, height)
        header = list(self.data.header)
        self._building = True
        urgent, self._urgent = self._urgent, False
        self._built_theme = theme
        self.run_worker(
            lambda: self._build(signature, width, canvas, header, urgent),
            thread=True,
            group="curve-build",
            exit_on_error=False,
        )

    def _build(
        self, signature: tuple, width: int, canvas: int, header: list[Text], urgent: bool
    ) -> None:
        try:
            # PlotextPlot.render's work, for the canvas below the legend: size the figure,
            # apply the plot theme that follows the app's, build the text. Here, off the
            # event loop (painting goes through render_line below).
            self.plt.plotsize(width, canvas)
            self.plt._set_size(width, canvas)  # as PlotextPlot.render (textual-plotext#5)
            self.plt.theme(self._get_plotext_theme_name(self.app.theme))
            text = Text.from_ansi(self.plt.build())
            # Cut into lines here too: turning a plot's thousands of coloured cells into
            # segments is the other half of the cost, and the compositor then only copies.
            console = self.app.console
            options = console.options.update(width=width, height=canvas)
            plot_lines = console.render_lines(text, options, pad=True)[:canvas]
            # The legend rows take the canvas's background (the plot theme's), so the
            # plot reads as one block.
            canvas_bg = next(
                (
                    s.style.bgcolor
                    for line in plot_lines
                    for s in line
                    if s.style and s.style.bgcolor
                ),
                None,
            )
            for line in header:
                line.style = Style(bgcolor=canvas_bg)
                line.pad_right(max(0, width - line.cell_len))
            lines = [
                *(
                    console.render_lines(line, options.update(height=1), pad=True)[0]
                    for line in header
                ),
                *plot_lines,
            ]
            strips = [Strip(line, width).simplify() for line in lines]
        except Exception:  # noqa: BLE001 - a plot that cannot draw must not take the pane
            strips = []
        try:
            self.app.call_from_thread(self._show, signature, strips, urgent)
        except RuntimeError:  # the app closed while this was building
            pass

    def data_rows(self) -> int:
        """Rows of the data area on screen (between the legend and the x axis): the lines
        that carry the y axis."""
        return sum(1 for strip in self._strips if "┤" in strip.text or "│" in strip.text)

    def _theme_key(self) -> tuple[str, str]:
        """What decides the plot's colours: its ``theme`` ("auto" follows the app's)."""
        return (self.theme, self.app.theme)

    def _show(self, signature: tuple, strips: list[Strip], urgent: bool) -> None:
        self._building = False
        if self.interval is None and not urgent and not self._urgent:
            self._ready = (signature, strips)  # the owner's next tick shows it
            return
        self._present(signature, strips)
        self.redraw_if_changed()

    def _present(self, signature: tuple, strips: list[Strip]) -> None:
        self._strips = strips
        self._drawn = signature
        self.redraws += 1
        self.refresh()

    def render_line(self, y: int) -> Strip:
        if 0 <= y < len(self._strips):
            return self._strips[y].crop_extend(0, self.size.width, None)
        return Strip.blank(self.size.width)
