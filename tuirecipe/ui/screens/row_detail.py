"""One row of the data browser, whole: text, label, flags, row number, mark and the
other rows with the same text. ``d``/``w``/``u`` ask the browser's owner to mark it."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tuirecipe.printable import printable_line
from tuirecipe.ui.literal import literal
from tuirecipe.ui.widgets.browser import FLAG_NAMES, MARK_TEXT, DataBrowser


class RowDetail(ModalScreen[None]):
    """One row, whole: text, label, flags, row number, mark and its duplicate group."""

    DEFAULT_CSS = """
    RowDetail {
        align: center middle;
    }
    RowDetail > #row-detail-box {
        width: 90%;
        max-width: 110;
        height: 80%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    RowDetail #row-detail-meta {
        color: $text-muted;
        margin-bottom: 1;
    }
    RowDetail #row-detail-group {
        color: $text-muted;
        margin-top: 1;
    }
    RowDetail #row-detail-close {
        dock: bottom;
        width: auto;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,enter", "dismiss_detail", "Close"),
        Binding("d", "mark('drop')", "Drop"),
        Binding("w", "mark('label_wrong')", "Label wrong"),
        Binding("u", "mark('')", "Unmark"),
    ]

    def __init__(self, browser: DataBrowser, position: int) -> None:
        super().__init__()
        self.browser = browser
        self.position = position

    def _meta(self) -> Text:
        frame = self.browser.frame
        row = int(frame["row"].iat[self.position])
        flags = [FLAG_NAMES.get(f, f) for f in self.browser.flags_of(self.position)]
        mark = self.browser.marks.get(row)
        meta = Text()
        line = int(frame["line"].iat[self.position]) if "line" in frame.columns else row
        meta.append(f"row {row}", "bold")
        if line != row:  # a record spanning lines: where an editor shows it
            meta.append(f" (line {line})")
        meta.append("   label ")
        meta.append(printable_line(str(frame["label"].iat[self.position])), "bold")
        meta.append(f"   {int(self.browser._lengths[self.position])} chars")
        meta.append("   flags: " + (", ".join(flags) if flags else "none"))
        meta.append("   mark: " + (MARK_TEXT.get(mark, mark) if mark else "none"))
        return meta

    def _group(self) -> Text:
        """The rows of this row's duplicate group: the profile's (same text ignoring case
        and spacing, as its counts and the export use), else exactly the same text."""
        frame = self.browser.frame
        groups = self.browser.groups
        if groups is not None and groups[self.position] >= 0:
            same = np.flatnonzero(groups == groups[self.position])
            what = "the same text (ignoring case and spacing)"
        else:
            text = str(frame["text"].iat[self.position])
            same = np.flatnonzero((frame["text"] == text).to_numpy(dtype=bool))
            what = "exactly this text"
        others = [int(p) for p in same if int(p) != self.position]
        if not others:
            return Text(f"No other row has {what}.")
        shown = others[:20]
        lines = [f"{len(others)} other row(s) have {what}:"]
        lines += [f"  row {int(frame['row'].iat[p])}  label {frame['label'].iat[p]}" for p in shown]
        if len(others) > len(shown):
            lines.append(f"  … and {len(others) - len(shown)} more")
        return literal("\n".join(lines))  # labels come from the data: shown literally

    def compose(self) -> ComposeResult:
        frame = self.browser.frame
        with VerticalScroll(id="row-detail-box"):
            yield Static(self._meta(), id="row-detail-meta")
            # the row as it is: brackets literal, control characters shown escaped
            yield Static(literal(frame["text"].iat[self.position]), id="row-detail-text")
            yield Static(self._group(), id="row-detail-group")
            reason = self.browser.label_error_reason(self.position)
            if reason is not None:  # quotes labels from the data: literal
                yield Static(literal(reason), id="row-detail-label-error")
            yield Button("Close", id="row-detail-close")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_dismiss_detail(self) -> None:
        self.dismiss(None)

    def action_mark(self, mark: str) -> None:
        row = int(self.browser.frame["row"].iat[self.position])
        self.browser.post_message(DataBrowser.MarkRequested(self.browser, row, mark or None))
        self.dismiss(None)
