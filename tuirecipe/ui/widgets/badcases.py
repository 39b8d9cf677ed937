"""Bad cases: the last evaluation's mispredicted dev examples, worst first, to be marked.

Reads the run's ``dev_predictions.json`` (see :mod:`tuirecipe.runs.badcases`) whenever it
changes (a cheap ``stat`` every two seconds). ``w`` marks the highlighted case "label
wrong", ``m`` "model weak", space "skipped"; each mark is written to the run directory at
once, and the label-wrong ones to ``label_wrong.csv``. Beside the list: the confusion
matrix and the most-confused pairs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import DataTable, Label, Static

from tuirecipe.printable import printable_line
from tuirecipe.runs.badcases import (
    PREDICTIONS_FILE,
    BadCaseMarks,
    DevPredictions,
    confusion_matrix,
    load_predictions,
    mispredictions,
    most_confused,
)
from tuirecipe.ui.literal import literal_line
from tuirecipe.ui.themes import theme_style

POLL_SECONDS = 2.0
MAX_CASES = 500  # shown; the file may hold more
MAX_MATRIX_LABELS = 6  # what fits the 34-column side panel
MARK_NAMES = {"label_wrong": "label wrong", "model_weak": "model weak", "skipped": "skipped"}


def confusion_renderable(
    labels: list[str],
    matrix: list[list[int]],
    pairs: list[tuple[str, str, int]],
    highlight: Style | str,
) -> Text:
    """The matrix (gold rows, predicted columns) and the most-confused pairs under it."""
    labels = [printable_line(label) for label in labels]  # shown, never sent as escapes
    totals = [sum(row) for row in matrix]
    keep = sorted(sorted(range(len(labels)), key=lambda i: -totals[i])[:MAX_MATRIX_LABELS])
    cw = 6 if len(keep) <= 4 else 4  # cell width
    out = Text()
    out.append("confusion (gold ↓ · pred →)\n", style="italic")
    out.append(" " * 9 + "".join(f"{labels[j][: cw - 1]:>{cw}}" for j in keep) + "\n", style="bold")
    for i in keep:
        out.append(f"{labels[i][:8]:<9}")
        for j in keep:
            style = "bold" if i == j else (highlight if matrix[i][j] else "")
            out.append(f"{matrix[i][j]:>{cw}}", style=style)
        out.append("\n")
    if len(labels) > len(keep):
        out.append(f"{len(keep)} of {len(labels)} labels (most frequent)\n", style="dim")
    out.append("\nmost confused (gold → pred):\n", style="bold")
    for gold, pred, count in pairs:
        out.append(printable_line(f"  {gold} → {pred}: {count}") + "\n")
    if not pairs:
        out.append("  none\n")
    return out


class BadCasesView(Widget):
    BINDINGS = [
        Binding("w", "mark('label_wrong')", "Label wrong"),
        Binding("m", "mark('model_weak')", "Model weak"),
        Binding("space", "mark('skipped')", "Skip"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run_path: Path | None = None
        self.predictions: DevPredictions | None = None
        self.cases: list[dict[str, Any]] = []
        self.marks: BadCaseMarks | None = None
        self._mtime: float | None = None

    def compose(self) -> ComposeResult:
        yield Label("No evaluation yet.", id="badcases-summary")
        with Horizontal(id="badcases-body"):
            table: DataTable = DataTable(id="badcases-table", cursor_type="row", zebra_stripes=True)
            for key in ("row", "loss", "gold", "pred", "prob", "mark", "text"):
                table.add_column(key, key=key)
            yield table
            yield Static("", id="badcases-confusion")

    def on_mount(self) -> None:
        self.set_interval(POLL_SECONDS, self.reload_if_changed)

    def set_run(self, run_path: Path | None) -> None:
        self.run_path = Path(run_path) if run_path else None
        self._mtime = None
        self.predictions, self.cases = None, []
        self.marks = None  # read with the predictions, in a thread
        self._show()
        self.reload_if_changed()

    def on_show(self) -> None:
        self.reload_if_changed()

    def reload_if_changed(self) -> None:
        # Refilling the table holds the event loop for tens of ms: while the view is
        # hidden behind another tab, the file waits until it is shown.
        if self.run_path is None or not self.is_on_screen:
            return
        self.load(self.run_path, self._mtime)

    @work(exclusive=True, group="badcases-load")
    async def load(self, run_path: Path, seen_mtime: float | None = None) -> None:
        """Read the predictions and marks (in a thread) if the predictions file changed
        since ``seen_mtime``."""

        def read() -> tuple[float, DevPredictions | None, BadCaseMarks] | None:
            try:
                mtime = (run_path / PREDICTIONS_FILE).stat().st_mtime
            except OSError:
                return None
            if mtime == seen_mtime:
                return None
            return mtime, load_predictions(run_path), BadCaseMarks(run_path)

        found = await asyncio.to_thread(read)
        if found is None or run_path != self.run_path:
            return
        self._mtime, predictions, marks = found
        if predictions is None:
            return
        self.predictions, self.marks = predictions, marks
        self.cases = mispredictions(predictions.rows)[:MAX_CASES]
        self._show()

    def _show(self) -> None:
        table = self.query_one("#badcases-table", DataTable)
        keep = table.cursor_row if table.row_count else 0
        table.clear()
        summary = self.query_one("#badcases-summary", Label)
        confusion = self.query_one("#badcases-confusion", Static)
        p = self.predictions
        if p is None:
            summary.update(
                "No dev predictions yet: they appear after the first evaluation."
                if self.run_path
                else "No run followed."
            )
            confusion.update("")
            return
        wrong = len(mispredictions(p.rows))
        summary.update(
            f"dev @ step {p.step}: {wrong} of {len(p.rows)} mispredicted, worst "
            "first · w: label wrong · m: model weak · space: skip · marks saved "
            "in the run dir"
        )
        for case in self.cases:
            table.add_row(*self._cells(case), key=str(case["row"]))
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))
        if p.task == "classification":
            labels, matrix = confusion_matrix(p.rows, p.labels)
            confusion.update(
                confusion_renderable(
                    labels,
                    matrix,
                    most_confused(p.rows),
                    theme_style(self.app.theme_variables, "error"),
                )
            )
        else:
            confusion.update("regression: cases sorted by squared error")

    def _cells(self, case: dict[str, Any]) -> list[Any]:
        mark = self.marks.get(case["row"]) if self.marks else None
        prob = case.get("prob")
        text = str(case.get("text", "")).replace("\n", " ")
        return [
            str(case["row"]),
            f"{float(case.get('loss') or 0):.3f}",
            literal_line(case.get("gold")),  # labels and texts are data: never markup
            literal_line(case.get("pred")),
            f"{prob:.2f}" if isinstance(prob, (int, float)) else "-",
            MARK_NAMES.get(mark or "", ""),
            literal_line(text[:80]),
        ]

    def action_mark(self, mark: str) -> None:
        table = self.query_one("#badcases-table", DataTable)
        if self.marks is None or not self.cases or not table.row_count:
            self.notify("no bad case to mark", severity="warning")
            return
        case = self.cases[table.cursor_row]
        try:
            self.marks.mark(case, mark, step=self.predictions.step if self.predictions else 0)
        except OSError as exc:
            self.notify(f"mark not saved: {exc}", severity="error")
            return
        table.update_cell(str(case["row"]), "mark", MARK_NAMES[mark])
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)
