"""Small modal screens the console asks questions with: one line of text, yes or no,
quitting."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


class TextPrompt(ModalScreen[str | None]):
    """Ask for one line of text; Enter answers, Escape cancels (``None``)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, title: str, placeholder: str = "", value: str = "", explain: str = ""
    ) -> None:
        super().__init__(classes="prompt")
        self._title, self._placeholder, self._value, self._explain = (
            title,
            placeholder,
            value,
            explain,
        )

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            # Plain text: the explanation quotes the config (paths) and titles may too.
            yield Label(self._title, classes="dialog-title", markup=False)
            if self._explain:
                yield Label(self._explain, classes="dialog-explain", markup=False)
            yield Input(value=self._value, placeholder=self._placeholder, id="prompt-input")
            yield Label("enter: ok   esc: cancel", classes="dialog-keys")

    @on(Input.Submitted, "#prompt-input")
    def answer(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class QuitScreen(ModalScreen[str]):
    """Runs started here are still training: stop them, leave them running, or stay."""

    BINDINGS = [
        Binding("escape", "choose('cancel')", "Cancel"),
        Binding("s", "choose('stop')", "Stop runs"),
        Binding("l", "choose('leave')", "Leave running"),
    ]

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__(classes="prompt")
        self.run_ids = run_ids

    def compose(self) -> ComposeResult:
        runs = ", ".join(self.run_ids)
        with Vertical(classes="dialog"):
            yield Label("Quit tuirecipe?", classes="dialog-title")
            yield Label(
                f"Still training: {runs}. A run left running goes on in the "
                "background: starting tuirecipe here again follows it, and "
                "`tuirecipe attach RUN` follows it from a shell.",
                classes="dialog-explain",
                markup=False,  # run ids and sweep values are shown as typed
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Stop and quit (s)", id="quit-stop", variant="error")
                yield Button("Leave running (l)", id="quit-leave", variant="primary")
                yield Button("Cancel (esc)", id="quit-cancel")

    @on(Button.Pressed, "#quit-stop")
    def stop_runs(self) -> None:
        self.dismiss("stop")

    @on(Button.Pressed, "#quit-leave")
    def leave_runs(self) -> None:
        self.dismiss("leave")

    @on(Button.Pressed, "#quit-cancel")
    def cancel(self) -> None:
        self.dismiss("cancel")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)


class ConfirmScreen(ModalScreen[bool]):
    """Ask before something that cannot be undone: y (or the button) answers True;
    n or Esc answers False."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, explain: str, yes: str = "Yes") -> None:
        super().__init__(classes="prompt")
        self._title, self._explain, self._yes = title, explain, yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title", markup=False)
            # Run ids and paths are quoted in it: plain text.
            yield Label(self._explain, classes="dialog-explain", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self._yes} (y)", id="confirm-yes", variant="error")
                yield Button("No (n, esc)", id="confirm-no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()  # Enter by habit does no harm

    @on(Button.Pressed, "#confirm-yes")
    def said_yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def said_no(self) -> None:
        self.dismiss(False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
