"""Predictions over training: the fixed dev examples at the last few evaluations.

Rows are the examples of the run's ``PredictionsSnapshot`` events (the same few dev rows
at every evaluation), columns the gold label and ``pred:prob`` at each of the last
``KEEP`` evaluations, green when right and red when wrong (theme colours).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from tuirecipe.printable import printable_line
from tuirecipe.ui.literal import literal_line
from tuirecipe.ui.themes import theme_style

KEEP = 4
TEXT_CHARS = 48


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
        shown = printable_line(shown)  # a label from the data: its escapes shown, not sent
        correct = row.get("correct")
        if correct is None:
            return Text(shown)
        return Text(
            shown, style=theme_style(self.app.theme_variables, "success" if correct else "error")
        )

    def _rebuild(self) -> None:
        steps = sorted(self.snapshots)[-KEEP:]
        self.clear(columns=True)
        self.add_column("row", key="row")
        self.add_column("gold", key="gold")
        for step in steps:
            self.add_column(f"@{step}", key=f"s{step}")
        self.add_column("text", key="text")
        if not steps:
            return
        by_step = {s: {r["index"]: r for r in self.snapshots[s]} for s in steps}
        for row in self.snapshots[steps[-1]]:
            index = row["index"]
            text = str(row.get("text", "")).replace("\n", " ")
            # Texts and labels come from the data: Text cells, so DataTable parses no markup.
            cells = [literal_line(index), literal_line(row.get("label", ""))]
            for step in steps:
                hit = by_step[step].get(index)
                cells.append(self._cell(hit) if hit else Text("-"))
            cells.append(
                literal_line(text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…")
            )
            self.add_row(*cells, key=str(index))
