"""Bad cases: the last evaluation's mispredicted dev examples, worst first, to be marked.

Reads the run's ``dev_predictions.json`` (see :mod:`tuirecipe.runs.badcases`) whenever it
changes (a cheap ``stat`` every two seconds). ``w`` marks the highlighted case "label
wrong", ``m`` "model weak", space "skipped"; each mark is written to the run directory at
once, and the label-wrong ones to ``label_wrong.csv``. Enter opens the case's row in the
Data browser. Under the list: the highlighted case's whole text, wrapped (its tokens
highlighted when the record holds their saliency). Beside it: the confusion matrix of
every label (it scrolls when they do not fit) and the most-confused pairs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, Vertical
from textual.widget import Widget
from textual.widgets import DataTable, Label, Static

from tuirecipe.printable import printable, printable_line
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
from tuirecipe.ui.messages import DataRowRequested
from tuirecipe.ui.themes import theme_style
from tuirecipe.ui.widgets.case_text import cell_text, highlighted_tokens, saliency_tokens

POLL_SECONDS = 2.0
MAX_CASES = 500  # shown; the file may hold more
CASE_COLUMNS = ("row", "loss", "gold", "pred", "prob", "mark", "text")
MIN_TEXT_WIDTH = 12
# Short, so the text column keeps the width (the summary line spells the keys out).
MARK_NAMES = {"label_wrong": "wrong", "model_weak": "weak", "skipped": "skip"}


def confusion_grid(
    labels: list[str],
    matrix: list[list[int]],
    pairs: list[tuple[str, str, int]],
    highlight: Style | str,
) -> Text:
    """The matrix (gold rows, predicted columns) and the most-confused pairs under it."""
    labels = [printable_line(label) for label in labels]  # shown, never sent as escapes
    keep = range(len(labels))  # every label: the panel scrolls when they do not fit
    cw = max(4, min(8, max((len(label) for label in labels), default=3) + 1))  # cell width
    name_width = max(5, min(12, max((len(label) for label in labels), default=5))) + 1
    out = Text(no_wrap=True)  # a grid: the panel scrolls sideways rather than wrap it
    out.append("confusion (gold ↓ · pred →)\n", style="italic")
    out.append(
        " " * name_width + "".join(f"{labels[j][: cw - 1]:>{cw}}" for j in keep) + "\n",
        style="bold",
    )
    for i in keep:
        out.append(f"{labels[i][: name_width - 1]:<{name_width}}")
        for j in keep:
            style = "bold" if i == j else (highlight if matrix[i][j] else "")
            out.append(f"{matrix[i][j]:>{cw}}", style=style)
        out.append("\n")
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
        Binding("enter", "open_in_data", "Open in Data", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run_path: Path | None = None
        self.predictions: DevPredictions | None = None
        self.cases: list[dict[str, Any]] = []
        self.marks: BadCaseMarks | None = None
        self._mtime: float | None = None
        self._text_width = MIN_TEXT_WIDTH

    def compose(self) -> ComposeResult:
        yield Label("No evaluation yet.", id="badcases-summary")
        # The list over the whole width (its text column gets what the others leave);
        # under it the highlighted case's whole text beside the confusion matrix.
        with Vertical(id="badcases-body"):
            table: DataTable = DataTable(id="badcases-table", cursor_type="row", zebra_stripes=True)
            for key in CASE_COLUMNS:
                table.add_column(key, key=key)
            yield table
            with Horizontal(id="badcases-bottom"):
                yield Static("", id="badcases-text", markup=False)
                with ScrollableContainer(id="badcases-confusion-box"):
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
            self._show_case_text()
            return
        wrong = len(mispredictions(p.rows))
        summary.update(
            f"dev @ {p.step}: {wrong} of {len(p.rows)} mispredicted, worst first · "
            "w: label wrong · m: model weak"
        )
        self._text_width = self._fit_text_width()
        for case in self.cases:
            table.add_row(*self._cells(case), key=str(case["row"]))
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))
        self._show_case_text()
        if p.task == "classification":
            labels, matrix = confusion_matrix(p.rows, p.labels)
            confusion.update(
                confusion_grid(
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
        # Labels and texts come from the data: Text cells, so DataTable parses no markup.
        return [
            str(case["row"]),
            f"{float(case.get('loss') or 0):.3f}",
            literal_line(case.get("gold")),  # labels and texts are data: never markup
            literal_line(case.get("pred")),
            f"{prob:.2f}" if isinstance(prob, (int, float)) else "-",
            MARK_NAMES.get(mark or "", ""),
            cell_text(case.get("text", ""), self._text_width),
        ]

    def _fit_text_width(self) -> int:
        """The text column gets what the other columns leave of the table's width."""
        table = self.query_one("#badcases-table", DataTable)
        others = 0
        for key in CASE_COLUMNS[:-1]:
            cells = [str(c) for c in (self._cells_of(case)[key] for case in self.cases)]
            others += max([len(key), *(len(c) for c in cells)])
        padding = 2 * table.cell_padding * len(CASE_COLUMNS)
        return max(MIN_TEXT_WIDTH, table.size.width - others - padding - 2)

    def _cells_of(self, case: dict[str, Any]) -> dict[str, Any]:
        prob = case.get("prob")
        return {
            "row": case["row"],
            "loss": f"{float(case.get('loss') or 0):.3f}",
            "gold": case.get("gold"),
            "pred": case.get("pred"),
            "prob": f"{prob:.2f}" if isinstance(prob, (int, float)) else "-",
            "mark": max(MARK_NAMES.values(), key=len),  # room for any mark, set or not
        }

    def on_resize(self) -> None:
        self.call_after_refresh(self._refit)  # once the table has its new size

    def _refit(self) -> None:
        table = self.query_one("#badcases-table", DataTable)
        if table.size.width <= 0:
            return  # hidden: fitted when shown (a table refilled while hidden lost widths)
        if self.cases and self._fit_text_width() != self._text_width:
            self._show()

    @on(DataTable.RowHighlighted, "#badcases-table")
    def case_highlighted(self) -> None:
        self._show_case_text()

    def _show_case_text(self) -> None:
        """The highlighted case whole: labels, then its text wrapped, then its tokens by
        saliency when the record has them."""
        box = self.query_one("#badcases-text", Static)
        table = self.query_one("#badcases-table", DataTable)
        if not self.cases or not table.row_count:
            box.update("")
            return
        case = self.cases[min(table.cursor_row, len(self.cases) - 1)]
        variables = self.app.theme_variables
        out = Text()
        # labels and the text are data: appended as text, control characters shown escaped
        out.append(f"row {case['row']} · gold ", style="bold")
        out.append(printable_line(str(case.get("gold"))))
        out.append(" · pred ", style="bold")
        out.append(printable_line(str(case.get("pred"))), style=theme_style(variables, "error"))
        out.append(" · enter: open in Data\n", style="dim")
        out.append(printable(str(case.get("text", ""))))
        tokens = saliency_tokens(case)
        if tokens:
            out.append("\nsaliency: ", style="bold")
            out.append_text(
                highlighted_tokens(
                    tokens, theme_style(variables, "error"), theme_style(variables, "success")
                )
            )
        box.update(out)

    def action_open_in_data(self) -> None:
        table = self.query_one("#badcases-table", DataTable)
        if not self.cases or not table.row_count:
            return
        case = self.cases[min(table.cursor_row, len(self.cases) - 1)]
        self.post_message(DataRowRequested(int(case["row"])))

    @on(DataTable.RowSelected, "#badcases-table")
    def case_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_in_data()

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
