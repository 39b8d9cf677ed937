"""The Train pane's curves: loss (large), accuracy or MAE and learning rate (small), with
the curve settings line above them.

The view owns the curve settings (smoothing, log y, x axis) and hands the plots their
sources: the followed run's history first, then the overlaid runs'. The pane keeps the
histories and calls :meth:`CurvesView.show` when they change; the plots pull new points
on the pane's display timer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.widgets import Label

from tuirecipe.runs.curves import RunHistory
from tuirecipe.ui.widgets.curves import SMOOTHING_STEPS, X_AXES, CurvePlot, CurveSettings


def is_regression(history: RunHistory) -> bool:
    """A run with no train accuracy and a dev MAE: its second plot shows MAE."""
    return not len(history.acc) and "mae" in history.dev


class CurvesView(Vertical):
    """Settings line, then the loss, accuracy (or MAE) and learning-rate plots."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = CurveSettings()
        self.overlay_ids: list[str] = []

    def compose(self) -> ComposeResult:
        # A grid, so the stylesheet decides the arrangement by the room there is: loss
        # across the top and accuracy beside learning rate below it on a tall pane; loss
        # beside accuracy (learning rate hidden, its value is in the status line) on a
        # short one; one plot alone when zoomed.
        yield Label(self.settings_text(), id="curve-settings")
        with Grid(id="curves-grid"):
            yield CurvePlot("loss", interval=None, id="plot-loss")
            yield CurvePlot("acc", interval=None, id="plot-acc")
            yield CurvePlot("lr", interval=None, id="plot-lr")

    @property
    def plots(self) -> list[CurvePlot]:
        return list(self.query(CurvePlot))

    def plot(self, plot_id: str) -> CurvePlot:
        return self.query_one(f"#{plot_id}", CurvePlot)

    def settings_text(self) -> str:
        s = self.settings
        overlays = (
            f" · overlaid: {', '.join(self.overlay_ids)} (O: clear)" if self.overlay_ids else ""
        )
        return (
            f"smoothing {s.smoothing:g} ([ ]) · y {'log' if s.log_y else 'linear'} (l)"
            f" · x {s.x_axis} (a) · z: zoom{overlays}"
        )

    def show(self, history: RunHistory, overlays: Mapping[str, RunHistory]) -> None:
        """Plot ``history`` with ``overlays`` (run id → history) over it."""
        self.overlay_ids = list(overlays)
        sources = [("", history)] + [(run_id[-12:], h) for run_id, h in overlays.items()]
        regression = is_regression(history)
        for plot in self.plots:
            if plot.id == "plot-acc":
                plot.set_metric("mae" if regression else "acc")
            plot.set_sources(sources)
            plot.set_settings(self.settings)
        label, text = self.query_one("#curve-settings", Label), self.settings_text()
        if str(label.content) != text:
            label.update(text)

    def needs_mae(self, history: RunHistory) -> bool:
        """The run turned out a regression and the second plot still shows accuracy."""
        return is_regression(history) and self.plot("plot-acc").metric != "mae"

    def _apply_settings(self) -> None:
        for plot in self.plots:
            plot.set_settings(self.settings)
        self.query_one("#curve-settings", Label).update(self.settings_text())

    def change_smoothing(self, direction: int) -> None:
        """One step along SMOOTHING_STEPS, up (1) or down (-1)."""
        steps = list(SMOOTHING_STEPS)
        now = min(range(len(steps)), key=lambda i: abs(steps[i] - self.settings.smoothing))
        self.settings.smoothing = steps[max(0, min(len(steps) - 1, now + direction))]
        self._apply_settings()

    def toggle_log(self) -> None:
        self.settings.log_y = not self.settings.log_y
        self._apply_settings()

    def cycle_x_axis(self) -> None:
        self.settings.x_axis = X_AXES[(X_AXES.index(self.settings.x_axis) + 1) % len(X_AXES)]
        self._apply_settings()
