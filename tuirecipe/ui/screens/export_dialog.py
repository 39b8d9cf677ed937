"""Confirm a cleaned export of the data file, optionally removing exact duplicates and
conflicting rows in bulk; dismisses with the bulk flags chosen (None: cancelled)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Static


class ExportDialog(ModalScreen[tuple[str, ...] | None]):
    """Confirm an export; optionally remove exact duplicates and conflicts in bulk."""

    DEFAULT_CSS = """
    ExportDialog {
        align: center middle;
    }
    ExportDialog > Vertical {
        width: 70;
        max-width: 95%;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 1 2;
    }
    ExportDialog #export-buttons {
        height: auto;
        margin-top: 1;
    }
    ExportDialog #export-buttons > Button {
        margin-right: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, summary: str) -> None:
        super().__init__()
        self.summary = summary

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.summary, id="export-summary")
            yield Checkbox("also remove exact duplicates (keep the first)", id="export-dups")
            yield Checkbox("also remove conflicts (same text, other labels)", id="export-conflicts")
            with Horizontal(id="export-buttons"):
                yield Button("Export", variant="primary", id="export-confirm")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        self.query_one("#export-confirm", Button).focus()

    @on(Button.Pressed, "#export-confirm")
    def confirm_export(self) -> None:
        flags = []
        if self.query_one("#export-dups", Checkbox).value:
            flags.append("duplicate")
        if self.query_one("#export-conflicts", Checkbox).value:
            flags.append("conflict")
        self.dismiss(tuple(flags))

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
