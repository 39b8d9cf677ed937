"""A check's details full screen (narrow terminals, or a closer look: ``d``)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer

from tuirecipe.ui.widgets.check_detail import CheckDetail, CheckView


class CheckDetailScreen(ModalScreen[None]):
    """The detail view full screen (narrow terminals, or a closer look)."""

    BINDINGS = [Binding("escape,d,q", "close", "Close")]

    def __init__(self, view: CheckView) -> None:
        super().__init__(id="check-detail-screen")
        self.view = view

    def compose(self) -> ComposeResult:
        with Vertical(id="check-detail-box"):
            yield CheckDetail(self.view, focusable=True, id="check-detail-full")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(CheckDetail).focus()

    def action_close(self) -> None:
        self.dismiss(None)
