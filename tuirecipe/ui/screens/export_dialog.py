"""Confirm a cleaned export of the data file, optionally removing duplicate copies,
conflicting rows and (once estimated) likely label errors in bulk; dismisses with the bulk
flags chosen (None: cancelled).

The counts beside each choice are the profile's (:func:`~tuirecipe.data.row_flags.
removal_counts`): the rows the export will take out, in the profile's units."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Static

from tuirecipe.printable import printable
from tuirecipe.ui.widgets.tick_box import TickBox


class ExportDialog(ModalScreen[tuple[str, ...] | None]):
    """Confirm an export; optionally remove duplicate copies and conflicts in bulk."""

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

    def __init__(self, summary: str, counts: dict[str, int] | None = None) -> None:
        super().__init__()
        self.summary = summary
        self.counts = counts

    def compose(self) -> ComposeResult:
        # One line each (a checkbox does not wrap): the counts first, so 80 columns show them.
        dups = "also remove duplicate copies (first row of a text kept)"
        conflicts = "also remove conflicts (texts with several labels)"
        if self.counts is not None:
            dups = f"also remove {self.counts['duplicate']:,} duplicate copies (first kept)"
            conflicts = (
                f"also remove {self.counts['conflict']:,} conflict rows "
                f"({self.counts['conflict_texts']:,} texts)"
            )
        with Vertical():
            # quotes the data file's path: its control characters shown, never sent
            yield Static(printable(self.summary), id="export-summary", markup=False)
            yield Static(
                "Texts are compared ignoring case and spacing, as the profile counts them.",
                id="export-rule",
                markup=False,
            )
            yield TickBox(Text(dups), id="export-dups")
            yield TickBox(Text(conflicts), id="export-conflicts")
            if self.counts is not None and "label_error" in self.counts:
                yield TickBox(
                    Text(
                        f"also remove {self.counts['label_error']:,} likely label errors "
                        "(the label-noise estimate's flags)"
                    ),
                    id="export-label-errors",
                )
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
        boxes = self.query("#export-label-errors").results(Checkbox)
        if any(box.value for box in boxes):
            flags.append("label_error")
        self.dismiss(tuple(flags))

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
