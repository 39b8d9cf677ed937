"""The console's one-line header: project, the run being followed and its state."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Label

from tuirecipe.printable import printable_line

STATE_CLASSES = ("created", "running", "paused", "finished", "failed", "stopped")


def run_label(run_id: str) -> Text:
    """'run <id>' with the id in bold, shown literally (a run id is never markup)."""
    if not run_id:
        return Text("no run followed")
    return Text.assemble("run ", (printable_line(run_id), "bold"))


class ConsoleHeader(Horizontal):
    """Set ``run_id`` and ``state`` at any time, mounted or not: the labels are drawn from
    them when they mount and updated on every change after."""

    run_id: reactive[str] = reactive("", init=False)
    state: reactive[str] = reactive("", init=False)

    def __init__(self, project: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.project = project

    def compose(self) -> ComposeResult:
        yield Label("tuirecipe", id="header-title")
        project = printable_line(self.project)
        yield Label(Text.assemble("project ", (project, "bold")), id="header-project")
        yield Label(run_label(self.run_id), id="header-run")
        yield Label(Text(printable_line(self.state)), id="header-state")

    def on_mount(self) -> None:
        self._style_state(self.state)

    # The labels may be absent while the header mounts or the app shuts down (a run's state
    # can change at any moment), so each update looks the label up and skips if it is gone.
    def watch_run_id(self, run_id: str) -> None:
        for label in self.query("#header-run").results(Label):
            label.update(run_label(run_id))

    def watch_state(self, state: str) -> None:
        for label in self.query("#header-state").results(Label):
            label.update(Text(printable_line(state)))  # a damaged status may hold anything
        self._style_state(state)

    def _style_state(self, state: str) -> None:
        for label in self.query("#header-state").results(Label):
            label.remove_class(*(f"-{s}" for s in STATE_CLASSES))
            if state in STATE_CLASSES:
                label.add_class(f"-{state}")
