"""Predictions over training: the fixed dev examples at the last few evaluations.

Rows are the examples of the run's ``PredictionsSnapshot`` events (the same few dev rows
at every evaluation), columns the gold label, ``✓ pred:prob`` or ``✗ pred:prob`` at each of
the last ``KEEP`` evaluations (green or red as well: theme colours), and the text in the
width that is left. Enter opens the example's row in the Data browser.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.widgets import DataTable

from tuirecipe.printable import printable_line
from tuirecipe.ui.literal import literal_line
from tuirecipe.ui.messages import DataRowRequested
from tuirecipe.ui.themes import theme_style
from tuirecipe.ui.widgets.case_text import cell_text, right_wrong_symbol

KEEP = 4
MIN_TEXT_WIDTH = 16
TEXT_WANTED = 30  # older evaluations give way until the text has this many columns


class PredictionsTable(DataTable):
    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.snapshots: dict[int, list[dict[str, Any]]] = {}
        self._fitted_to = 0  # the table width the text column was fitted to

    def reset(self) -> None:
        self.snapshots = {}
        self._rebuild()

    def add_snapshot(self, step: int, rows: list[dict[str, Any]]) -> None:
        if step in self.snapshots:
            return  # replayed from the file and then from the follower
        self.snapshots[step] = rows
        self._rebuild()

    def _cell(self, row: dict[str, Any]) -> Text:
        pred, prob = row.get("pred"), row.get("prob")
        shown = (
            f"{pred}:{prob:.2f}"
            if isinstance(prob, (int, float))
            else (f"{pred:.3g}" if isinstance(pred, float) else str(pred))
        )
        shown = printable_line(shown)  # a label from the data: its escapes shown, not sent
        correct = row.get("correct")
        if correct is None:
            return Text(shown)
        symbol = right_wrong_symbol(bool(correct), self.app.console.encoding)
        return Text(
            f"{symbol} {shown}",
            style=theme_style(self.app.theme_variables, "success" if correct else "error"),
        )

    def _widths(self, cells: list[list[Text]], headers: list[str]) -> list[int]:
        return [
            max(len(header), *(len(row[k].plain) for row in cells))
            for k, header in enumerate(headers)
        ]

    def _text_room(self, widths: list[int]) -> int:
        """What columns of ``widths`` leave of the table's width for the text."""
        padding = 2 * self.cell_padding * (len(widths) + 1)
        return self.size.width - sum(widths) - padding - 2

    def on_resize(self) -> None:
        # The text column takes the new width; not while hidden (no width to fit), where
        # a rebuilt DataTable also sized its columns to their headers alone.
        if self.size.width > 0 and self.size.width != self._fitted_to:
            self.call_after_refresh(self._rebuild)

    @on(DataTable.RowSelected)
    def example_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(DataRowRequested(int(event.row_key.value)))

    def _rebuild(self) -> None:
        """The last KEEP evaluations, fewer when the text would not get TEXT_WANTED
        columns (at least two, to show a change); the text in the width left."""
        steps = sorted(self.snapshots)[-KEEP:]
        keep = self.cursor_row if self.row_count else 0
        self.clear(columns=True)
        if not steps:
            for key in ("row", "gold", "text"):
                self.add_column(key, key=key)
            return
        by_step = {s: {r["index"]: r for r in self.snapshots[s]} for s in steps}
        rows = []
        for row in self.snapshots[steps[-1]]:
            index = row["index"]
            # Texts and labels come from the data: Text cells, so DataTable parses no markup.
            cells = [literal_line(index), literal_line(row.get("label", ""))]
            for step in steps:
                hit = by_step[step].get(index)
                cells.append(self._cell(hit) if hit else Text("-"))
            rows.append((index, cells, row.get("text", "")))
        headers = ["row", "gold", *(f"@{step}" for step in steps)]
        widths = self._widths([cells for _, cells, _ in rows], headers)
        drop = 0  # the oldest evaluations left out for room
        while len(steps) - drop > 2 and self._text_room(widths[:2] + widths[2 + drop :]) < (
            TEXT_WANTED
        ):
            drop += 1
        kept = widths[:2] + widths[2 + drop :]
        width = max(MIN_TEXT_WIDTH, self._text_room(kept))
        # Widths given, not measured: the table measures new rows when idle, and a table
        # refilled just as it was shown drew its columns at their headers' widths.
        keys = ["row", "gold", *(f"s{step}" for step in steps[drop:]), "text"]
        labels = ["row", "gold", *(f"@{step}" for step in steps[drop:]), "text"]
        for key, label, column_width in zip(keys, labels, [*kept, width], strict=True):
            self.add_column(label, key=key, width=column_width)
        self._fitted_to = self.size.width
        for index, cells, text in rows:
            self.add_row(*cells[:2], *cells[2 + drop :], cell_text(text, width), key=str(index))
        if self.row_count:
            self.move_cursor(row=min(keep, self.row_count - 1))
