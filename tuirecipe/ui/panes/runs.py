"""Runs pane: every run of the runs directory, newest first, kept up to date.

The table is refreshed every few seconds and soon after any run changes state; reading
the runs happens in a thread. Enter on a row follows that run in the Train pane
(attaching to a finished run is the same as following a live one).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message as TextualMessage
from textual.widget import Widget
from textual.widgets import DataTable, Label

from tuirecipe.config import Config
from tuirecipe.runs.listing import RunSummary, list_runs
from tuirecipe.ui.bus import Message
from tuirecipe.ui.panes import consume

REFRESH_SECONDS = 5.0
COLUMNS = (("run", "Run"), ("state", "State"), ("started", "Started"),
           ("duration", "Duration"), ("step", "Step"), ("best", "Best dev"),
           ("notes", "Notes"))


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _best(metrics: dict[str, float]) -> str:
    shown = [(k, v) for k, v in metrics.items() if k in ("loss", "acc", "mse", "mae")]
    return " ".join(f"{k} {v:.4g}" for k, v in shown) or "-"


class RunsPane(Widget):
    BINDINGS = [Binding("r", "refresh_runs", "Refresh")]

    class RunChosen(TextualMessage):
        """The user picked a run to follow."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    def __init__(self, config: Config, **kwargs) -> None:
        super().__init__(**kwargs)
        self.runs_path = config.runs_path
        self.runs: list[RunSummary] = []

    def compose(self) -> ComposeResult:
        yield Label("", id="runs-summary")
        table: DataTable = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        for key, title in COLUMNS:
            table.add_column(title, key=key)
        yield table

    def on_mount(self) -> None:
        self.set_interval(REFRESH_SECONDS, self.refresh_runs)
        consume(self, self.app.bus, ("status",), self._on_status)
        self.refresh_runs()

    def _on_status(self, message: Message) -> None:
        self.refresh_runs()

    def action_refresh_runs(self) -> None:
        self.refresh_runs()

    @work(exclusive=True, group="runs-refresh")
    async def refresh_runs(self) -> None:
        runs = await asyncio.to_thread(list_runs, self.runs_path)
        self.show_runs(runs)

    def show_runs(self, runs: list[RunSummary]) -> None:
        table = self.query_one("#runs-table", DataTable)
        keep = None
        if table.row_count and 0 <= table.cursor_row < table.row_count:
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        self.runs = runs
        table.clear()
        for r in runs:
            table.add_row(r.id, r.state, _when(r.started), _duration(r.duration),
                          str(r.last_step), _best(r.best), r.notes_first_line[:60], key=r.id)
        if keep is not None and keep in {r.id for r in runs}:
            table.move_cursor(row=table.get_row_index(keep))
        summary = (f"{len(runs)} run{'s' if len(runs) != 1 else ''} in {self.runs_path}"
                   " · enter: follow in Train · r: refresh" if runs else
                   f"No runs yet in {self.runs_path}. Start one from the Train pane (3).")
        self.query_one("#runs-summary", Label).update(summary)

    @on(DataTable.RowSelected, "#runs-table")
    def follow_selected_run(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self._choose(event.row_key.value)

    def _choose(self, run_id: str | None) -> None:
        match = next((r for r in self.runs if r.id == run_id), None)
        if match is not None:
            self.post_message(self.RunChosen(Path(match.path)))
