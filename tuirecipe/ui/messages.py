"""Messages panes send up to the App when the user asks to go somewhere else."""

from __future__ import annotations

from textual.message import Message


class DataRowRequested(Message):
    """Show source row ``row`` (its line number in the data file) in the Data browser."""

    def __init__(self, row: int) -> None:
        super().__init__()
        self.row = row
