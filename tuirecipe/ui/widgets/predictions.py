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

from tuirecipe.ui.messages import DataRowRequested
from tuirecipe.ui.themes import theme_style
from tuirecipe.ui.widgets.case_text import cell_text, right_wrong_symbol

KEEP = 4
MIN_TEXT_WIDTH = 16


class PredictionsTable(DataTable):
    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.snapshots: dict[int, list[dict[str, Any]]] = {}

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
        correct = row.get("correct")
        if correct is None:
            return Text(shown)
        symbol = right_wrong_symbol(bool(correct), self.app.console.encoding)
        return Text(
            f"{symbol} {shown}",
            style=theme_style(self.app.theme_variables, "success" if correct else "error"),
        )

    def _text_width(self, cells: list[list[Text]]) -> int:
        """What the other columns leave of the table's width."""
        if not cells:
            return MIN_TEXT_WIDTH
        widths = [max(len(row[k].plain) for row in cells) for k in range(len(cells[0]))]
        headers = [len(str(column.label)) for column in self.ordered_columns[:-1]]
        others = sum(max(w, h) for w, h in zip(widths, headers, strict=False))
        padding = 2 * self.cell_padding * (len(widths) + 1)
        return max(MIN_TEXT_WIDTH, self.size.width - others - padding - 2)

    def on_resize(self) -> None:
        self.call_after_refresh(self._rebuild)  # the text column takes the new width

    @on(DataTable.RowSelected)
    def example_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(DataRowRequested(int(event.row_key.value)))

    def _rebuild(self) -> None:
        steps = sorted(self.snapshots)[-KEEP:]
        keep = self.cursor_row if self.row_count else 0
        self.clear(columns=True)
        self.add_column("row", key="row")
        self.add_column("gold", key="gold")
        for step in steps:
            self.add_column(f"@{step}", key=f"s{step}")
        self.add_column("text", key="text")
        if not steps:
            return
        by_step = {s: {r["index"]: r for r in self.snapshots[s]} for s in steps}
        rows = []
        for row in self.snapshots[steps[-1]]:
            index = row["index"]
            # Texts and labels come from the data: Text cells, so DataTable parses no markup.
            cells = [Text(str(index)), Text(str(row.get("label", "")))]
            for step in steps:
                hit = by_step[step].get(index)
                cells.append(self._cell(hit) if hit else Text("-"))
            rows.append((index, cells, row.get("text", "")))
        width = self._text_width([cells for _, cells, _ in rows])
        for index, cells, text in rows:
            self.add_row(*cells, cell_text(text, width), key=str(index))
        if self.row_count:
            self.move_cursor(row=min(keep, self.row_count - 1))
