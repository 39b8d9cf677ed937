"""The console's one-line header: project, the run being followed and its state."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Label

STATE_CLASSES = ("created", "running", "paused", "finished", "failed", "stopped")


class ConsoleHeader(Horizontal):
    """Set ``run_id`` and ``state``; the parts restyle themselves."""

    run_id: reactive[str] = reactive("", init=False)
    state: reactive[str] = reactive("", init=False)

    def __init__(self, project: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.project = project

    def compose(self) -> ComposeResult:
        yield Label("tuirecipe", id="header-title")
        yield Label(f"project [b]{self.project}[/]", id="header-project")
        yield Label("no run followed", id="header-run")
        yield Label("", id="header-state")

    def watch_run_id(self, run_id: str) -> None:
        if self.is_mounted:
            self.query_one("#header-run", Label).update(
                f"run [b]{run_id}[/]" if run_id else "no run followed"
            )

    def watch_state(self, state: str) -> None:
        if not self.is_mounted:
            return
        label = self.query_one("#header-state", Label)
        label.update(state)
        label.remove_class(*(f"-{s}" for s in STATE_CLASSES))
        if state in STATE_CLASSES:
            label.add_class(f"-{state}")
