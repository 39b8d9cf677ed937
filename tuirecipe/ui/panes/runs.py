"""Runs pane: every run of the runs directory, newest first, kept up to date.

The table is refreshed every few seconds and soon after any run changes state; reading
the runs happens in a thread. Enter on a row follows that run in the Train pane
(attaching to a finished run is the same as following a live one, so its curves, notes
and checks show there; a run still training is followed live). Space marks runs, ``c``
compares the marked runs (curves overlaid, config diff), ``o`` overlays the highlighted
run's curves on the Train pane's. ``R`` (shift+r) resumes the highlighted failed or stopped
training run from its checkpoint (``train.checkpoint_every``), after asking, through the
worker client, and follows it in the Train pane. The line under the table names the
highlighted run's kept checkpoint (``best.pt`` or ``last.pt``) and the evaluation step it
reproduces, in the words ``tuirecipe train`` uses (:func:`~tuirecipe.runs.listing.kept_sentence`).
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
from tuirecipe.errors import UserError
from tuirecipe.runs.jobs import TRACKED_JOBS, TUNE_JOBS
from tuirecipe.runs.listing import RunSummary, kept_dev_eval, kept_sentence, list_runs
from tuirecipe.runs.resume import resume_problem
from tuirecipe.runs.rundir import TERMINAL_STATES, RunDir
from tuirecipe.ui.bus import Message
from tuirecipe.ui.literal import literal, literal_line
from tuirecipe.ui.modals import ConfirmScreen
from tuirecipe.ui.panes import consume
from tuirecipe.ui.services import Services

REFRESH_SECONDS = 5.0
# Marked first: at any width it is on screen (off to the right, runs were compared twice).
# Job tells check runs and tuning parents from training runs.
COLUMNS = (
    ("mark", "Mark"),
    ("run", "Run"),
    ("job", "Job"),
    ("state", "State"),
    ("started", "Started"),
    ("duration", "Duration"),
    ("step", "Step"),
    ("best", "Best dev"),
    ("notes", "Notes"),
)
NOTES_CHARS = 50


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


def kept_line(summary: RunSummary) -> str:
    """``"<run>: kept best @ step 120 (best.pt) as model.pt (lowest dev loss): loss …;
    tuirecipe eval <run> reproduces it"``, or why there is no such checkpoint."""
    if summary.job in TUNE_JOBS:
        return f"{summary.id}: a {summary.job} run; its children keep the checkpoints"
    if summary.job in (*TRACKED_JOBS, "follow"):
        return f"{summary.id}: recorded from its own script; its checkpoints are the script's"
    sentence = kept_sentence(kept_dev_eval(RunDir(Path(summary.path))))
    if not sentence:
        still = "" if summary.state in TERMINAL_STATES else " yet"
        return f"{summary.id}: no saved checkpoint holds reported dev figures{still}"
    return f"{summary.id}: {sentence}; tuirecipe eval {summary.id} reproduces it"


class RunsPane(Widget):
    BINDINGS = [
        Binding("r", "refresh_runs", "Refresh"),
        Binding("space", "toggle_mark", "Mark"),
        Binding("c", "compare", "Compare"),
        Binding("o", "overlay", "Overlay"),
        Binding("w", "app.sweep", "Sweep"),
        Binding("R", "resume_run", "Resume run"),
        # Priority: the table's own home/end scroll sideways, not to the first/last run.
        Binding("home", "first_run", "Newest run", show=False, priority=True),
        Binding("end", "last_run", "Oldest run", show=False, priority=True),
    ]

    class RunChosen(TextualMessage):
        """The user picked a run to follow."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    class CompareChosen(TextualMessage):
        """The user asked to compare these runs."""

        def __init__(self, paths: list[Path]) -> None:
            super().__init__()
            self.paths = paths

    class OverlayChosen(TextualMessage):
        """The user asked to overlay this run's curves on the followed run's."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    _stale = False

    def __init__(self, config: Config, services: Services, **kwargs) -> None:
        super().__init__(**kwargs)
        self.services = services
        self.runs_path = config.runs_path
        self.runs: list[RunSummary] = []
        self.marked: list[str] = []  # run ids, in the order they were marked

    def compose(self) -> ComposeResult:
        yield Label("", id="runs-summary", markup=False)  # quotes the runs folder
        table: DataTable = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        for key, title in COLUMNS:
            table.add_column(title, key=key)
        yield table
        yield Label("", id="runs-kept", markup=False)  # the highlighted run's checkpoint

    def on_mount(self) -> None:
        self.set_interval(REFRESH_SECONDS, self._refresh_if_shown)
        consume(self, self.services.bus, ("status",), self._on_status)
        self.refresh_runs()

    def _refresh_if_shown(self) -> None:
        # Refilling the table re-lays the whole screen (~50 ms on a small CPU): while the
        # pane is hidden behind another tab, it waits until it is shown again.
        if self.is_on_screen:
            self.refresh_runs()
        else:
            self._stale = True

    def on_show(self) -> None:
        if self._stale:
            self._stale = False
            self.refresh_runs()

    def _on_status(self, message: Message) -> None:
        self._refresh_if_shown()

    def action_refresh_runs(self) -> None:
        self.refresh_runs(say_so=True)

    def action_first_run(self) -> None:
        """Home: the top row (the newest run), not the table's leftmost column."""
        self.query_one("#runs-table", DataTable).action_scroll_top()

    def action_last_run(self) -> None:
        self.query_one("#runs-table", DataTable).action_scroll_bottom()

    @work(exclusive=True, group="runs-refresh")
    async def refresh_runs(self, say_so: bool = False) -> None:
        """Read the runs again (in a thread); ``say_so``: asked for by a key, answered."""
        runs = await asyncio.to_thread(list_runs, self.runs_path)
        self.show_runs(runs)
        if say_so:
            self.notify(f"{len(runs)} run{'s' if len(runs) != 1 else ''} listed", timeout=2)

    def show_runs(self, runs: list[RunSummary]) -> None:
        table = self.query_one("#runs-table", DataTable)
        keep = None
        if table.row_count and 0 <= table.cursor_row < table.row_count:
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        self.runs = runs
        table.clear()
        for r in runs:
            # Ids, jobs, states and notes are data: literal cells, never markup.
            table.add_row(
                "●" if r.id in self.marked else "",
                literal_line(r.id),
                literal_line(r.job),
                literal_line(r.state),
                _when(r.started),
                _duration(r.duration),
                "-" if r.job in TUNE_JOBS else str(r.last_step),  # a parent trains no steps
                _best(r.best),
                literal_line(r.notes_first_line[:NOTES_CHARS]),
                key=r.id,
            )
        if keep is not None and keep in {r.id for r in runs}:
            table.move_cursor(row=table.get_row_index(keep))
        self.marked = [m for m in self.marked if m in {r.id for r in runs}]
        summary = (
            f"{len(runs)} run{'s' if len(runs) != 1 else ''} in {self.runs_path}"
            " · enter: open in Train · space: mark · c: compare marked · o: overlay"
            " · R: resume · r: refresh"
            if runs
            else f"No runs yet in {self.runs_path}. Start one from the Train pane (3)."
        )
        self.query_one("#runs-summary", Label).update(literal(summary))

    @on(DataTable.RowHighlighted, "#runs-table")
    def _on_highlight(self, event: DataTable.RowHighlighted) -> None:
        self.show_kept(event.row_key.value)

    @work(exclusive=True, group="runs-kept")
    async def show_kept(self, run_id: str | None) -> None:
        """Name the kept checkpoint of ``run_id`` under the table (read in a thread)."""
        match = next((r for r in self.runs if r.id == run_id), None)
        if match is None:
            return
        line = await asyncio.to_thread(kept_line, match)
        self.query_one("#runs-kept", Label).update(literal(line))

    @on(DataTable.RowSelected, "#runs-table")
    def follow_selected_run(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self._choose(event.row_key.value)

    def _choose(self, run_id: str | None) -> None:
        match = next((r for r in self.runs if r.id == run_id), None)
        if match is not None:
            self.post_message(self.RunChosen(Path(match.path)))

    def highlighted_run(self) -> RunDir | None:
        table = self.query_one("#runs-table", DataTable)
        if not table.row_count:
            return None
        run_id = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        match = next((r for r in self.runs if r.id == run_id), None)
        return RunDir(Path(match.path)) if match else None

    def action_toggle_mark(self) -> None:
        run = self.highlighted_run()
        if run is None:
            return
        if run.id in self.marked:
            self.marked.remove(run.id)
        else:
            self.marked.append(run.id)
        table = self.query_one("#runs-table", DataTable)
        table.update_cell(run.id, "mark", "●" if run.id in self.marked else "")
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

    def action_compare(self) -> None:
        paths = [Path(r.path) for m in self.marked for r in self.runs if r.id == m]
        if len(paths) < 2:
            self.notify("mark two or more runs with space, then press c", severity="warning")
            return
        self.post_message(self.CompareChosen(paths))

    def action_overlay(self) -> None:
        run = self.highlighted_run()
        if run is not None:
            self.post_message(self.OverlayChosen(run.path))

    @work(exclusive=True, group="runs-resume")
    async def action_resume_run(self) -> None:
        """Resume the highlighted failed or stopped run, after asking; a run that cannot be
        resumed (finished, live, no checkpoint, a damaged one) is said so in one line."""
        run = self.highlighted_run()
        if run is None:
            self.notify("no run to resume", severity="warning")
            return
        problem = await asyncio.to_thread(resume_problem, run)  # reads the checkpoint
        if problem is not None:
            self.notify(problem, severity="warning", markup=False)
            return
        summary = next((r for r in self.runs if r.id == run.id), None)
        where = f"{summary.state} at step {summary.last_step}" if summary else "not running"
        yes = await self.app.push_screen_wait(
            ConfirmScreen(
                f"Resume run {run.id}?",
                f"It is {where}. It continues from its checkpoint (resume.pt) in the same "
                "run directory; steps recorded after the checkpoint are superseded.",
                yes="Resume it",
            )
        )
        if not yes:
            return
        try:
            await self.services.jobs.resume_run(run)
        except UserError as exc:
            self.notify(f"run not resumed: {exc}", severity="error", markup=False)
            return
        self.notify(f"resuming run {run.id}", markup=False)
        self.post_message(self.RunChosen(run.path))
        self.refresh_runs()
