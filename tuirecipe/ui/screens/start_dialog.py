"""The start dialog: why this run, and (optionally) which config keys it changes.

"Change one thing at a time" is one keystroke away: ``s`` on the Train pane opens this
dialog; the motivation field has the focus, Tab goes to the changes field, where keys are
written in the ``--set`` syntax (``train.lr=1e-3 model.dropout=0.2``). Every keystroke
validates the changes like a config file and shows either the diff against the console's
config or the one error (naming the key); Enter starts only when they are valid. The
diff is recorded in the run's meta.json beside the motivation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from tuirecipe.config import Config, config_with_changes
from tuirecipe.errors import ConfigError
from tuirecipe.printable import printable
from tuirecipe.ui.themes import theme_style
from tuirecipe.ui.widgets.run_status import config_line

ONE_CHANGE_HINT = "more than one key changed: a difference in the curves cannot be put down to one"


@dataclass(frozen=True)
class StartRequest:
    """What the dialog answers: the config to train, why, and the keys changed by hand."""

    config: Config
    motivation: str
    edits: dict[str, Any] = field(default_factory=dict)


def diff_text(edits: dict[str, tuple[Any, Any]]) -> str:
    """``train.lr 0.001 → 0.0003 · model.dropout 0.1 → 0.2`` (plain text)."""
    return " · ".join(f"{key} {old!r} → {new!r}" for key, (old, new) in edits.items())


class StartDialog(ModalScreen[StartRequest | None]):
    """Ask for a motivation and optional config changes; Enter starts, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, config: Config, title: str = "Start a training run") -> None:
        super().__init__(classes="prompt")
        self.config = config
        self._title = title
        self._result: tuple[Config, dict[str, tuple[Any, Any]]] | None = (config, {})
        self._error = ""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="start-dialog"):
            # Plain text throughout: paths, values and error messages come from outside.
            yield Label(self._title, classes="dialog-title", markup=False)
            yield Label(
                printable(
                    f"{config_line(self.config, 'New run')} (from {self.config.source}; the "
                    "motivation and changes are saved in the run's meta.json)"
                ),
                classes="dialog-explain",
                markup=False,
            )
            yield Input(placeholder="why this run? (one line)", id="start-motivation")
            yield Input(
                placeholder="changes, optional: train.lr=1e-3 model.dropout=0.2",
                id="start-changes",
            )
            yield Static(id="start-diff", markup=False)
            yield Label(
                "enter: start   tab: next field   esc: cancel",
                classes="dialog-keys",
                markup=False,
            )

    def on_mount(self) -> None:
        self._show_diff()
        self.query_one("#start-motivation", Input).focus()

    @on(Input.Changed, "#start-changes")
    def changes_edited(self, event: Input.Changed) -> None:
        try:
            self._result = config_with_changes(self.config, event.value)
            self._error = ""
        except ConfigError as exc:
            self._result, self._error = None, str(exc)
        self._show_diff()

    def _show_diff(self) -> None:
        line = self.query_one("#start-diff", Static)
        variables = self.app.theme_variables
        if self._result is None:
            line.update(Text(printable(self._error), style=theme_style(variables, "error")))
            return
        edits = self._result[1]
        if not edits:
            line.update(Text("no config changes: the run trains the config above", style="dim"))
            return
        out = Text(printable(f"changes: {diff_text(edits)}"))
        if len(edits) > 1:
            out.append(f"\n{ONE_CHANGE_HINT}", style=theme_style(variables, "warning"))
        line.update(out)

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._result is None:
            self.notify(f"not started: {self._error}", severity="error", markup=False)
            self.query_one("#start-changes", Input).focus()
            return
        config, edits = self._result
        motivation = self.query_one("#start-motivation", Input).value.strip()
        self.dismiss(StartRequest(config, motivation, dict(edits)))

    def action_cancel(self) -> None:
        self.dismiss(None)
