"""The Train pane's run buttons: start, pause, resume, stop.

Which buttons are enabled follows the followed run's state, set from above with
:meth:`RunControls.show_state`; a press is told upwards as :class:`RunControls.Pressed`
(the pane decides what it means: ask for a motivation, publish a command).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button

STOPPABLE_STATES = ("running", "paused", "created")


class RunControls(Horizontal):
    """One row of compact buttons."""

    class Pressed(Message):
        """A run button was pressed: ``action`` is start, pause, resume or stop."""

        def __init__(self, action: str) -> None:
            super().__init__()
            self.action = action

    def compose(self) -> ComposeResult:
        yield Button("Start (s)", id="train-start", variant="primary", compact=True)
        yield Button("Pause (p)", id="train-pause", compact=True)
        yield Button("Resume (p)", id="train-resume", compact=True)
        yield Button("Stop (x)", id="train-stop", variant="error", compact=True)

    def show_state(self, state: str) -> None:
        """Enable the buttons that make sense for a run in ``state``."""
        self.query_one("#train-start", Button).disabled = state == "starting"
        self.query_one("#train-pause", Button).disabled = state != "running"
        self.query_one("#train-resume", Button).disabled = state != "paused"
        self.query_one("#train-stop", Button).disabled = state not in STOPPABLE_STATES

    @on(Button.Pressed)
    def button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id:
            self.post_message(self.Pressed(event.button.id.removeprefix("train-")))
