"""A run's progress as one line of text: bar and percentage in a single widget.

Textual's ``ProgressBar`` is three widgets (bar, percentage, ETA) and its bar repaints
cell by cell with a gradient; on the Train pane it was the costliest thing in every
step's repaint. This one is a ``Text`` built from two runs of characters, so a repaint
costs what a label costs. There is no animation: before the total is known the track is
drawn empty and the percentage says ``--``.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

PERCENT_WIDTH = 5  # " 100%"
_KEEP = object()  # update(): leave this one as it is


class RunProgress(Widget):
    """``update(total=..., progress=...)`` as ``ProgressBar``; draws only on a change."""

    COMPONENT_CLASSES = {"run-progress--done", "run-progress--todo", "run-progress--complete"}
    DEFAULT_CSS = """
    RunProgress {
        width: 40;
        height: 1;
        & > .run-progress--done { color: $primary; }
        & > .run-progress--complete { color: $success; }
        & > .run-progress--todo { color: $foreground 20%; }
    }
    """

    def __init__(self, total: float | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.total = total
        self.progress = 0.0

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, max(0.0, self.progress / self.total))

    def update(
        self, *, total: float | None | object = _KEEP, progress: float | object = _KEEP
    ) -> None:
        before = (self.total, self.progress)
        if total is not _KEEP:
            self.total = total  # type: ignore[assignment]  # _KEEP is excluded above
        if progress is not _KEEP:
            self.progress = float(progress)  # type: ignore[arg-type]
        if (self.total, self.progress) != before:
            self.refresh()

    def render(self) -> Text:
        width = max(1, self.size.width - PERCENT_WIDTH)
        fraction = self.fraction
        done_style = self.get_component_rich_style(
            "run-progress--complete" if fraction == 1.0 else "run-progress--done"
        )
        todo_style = self.get_component_rich_style("run-progress--todo")
        if fraction is None:
            return Text.assemble(("━" * width, todo_style), f"{'--':>{PERCENT_WIDTH - 1}}%")
        halves = round(fraction * width * 2)
        full, half = divmod(halves, 2)
        text = Text("━" * full, style=done_style)
        if half:
            text.append("╸", style=done_style)
        text.append("━" * (width - full - half), style=todo_style)
        text.append(f"{fraction * 100:>{PERCENT_WIDTH - 1}.0f}%")
        return text
