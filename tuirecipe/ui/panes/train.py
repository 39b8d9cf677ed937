"""Train pane: start a training run of the current config, follow it, write its notes.

Starting asks for a one-line motivation (saved in the run's meta.json), then publishes a
``start`` command; the job client launches the worker process. Everything shown comes
from the run directory: following a run first reads its history, status and meta (in a
thread: :func:`~tuirecipe.runs.history.load_run`), then takes new events from the bus
(step metrics arrive coalesced). Nothing repaints per event: events go into the history,
and a timer shows them in turns (see DISPLAY_SLOTS), each turn a small screen update of
its own.

The pane wires four widgets and owns the run being followed: :class:`RunControls` (the
buttons), :class:`RunStatus` (config, run, progress, step, evaluation and message
lines), :class:`CurvesView` (loss, accuracy or MAE, learning rate; other runs overlaid)
beside the fixed dev examples and the bad cases, and :class:`RunNotes` (the run's
``notes.md``). The widgets read no files; the pane reads them in threads.

A console started while runs train (its terminal was closed, or it was killed: workers
live in their own sessions) follows the newest live run at once and names the others.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.message import Message as TextualMessage
from textual.widget import Widget
from textual.widgets import Button, TabbedContent, TabPane

from tuirecipe.config import Config
from tuirecipe.runs.curves import RunHistory
from tuirecipe.runs.history import (
    LIVE_STATES,
    LoadedRun,
    live_runs,
    load_run,
    read_plan,
    stamp_line,
    status_counts,
)
from tuirecipe.runs.rundir import TERMINAL_STATES, RunDir
from tuirecipe.ui.bus import COMMAND_TOPIC, RUN_STARTED_TOPIC, START_FAILED_TOPIC, Command, Message
from tuirecipe.ui.modals import ConfirmScreen
from tuirecipe.ui.panes import consume, typing_into
from tuirecipe.ui.screens.start_dialog import StartDialog, StartRequest, diff_text
from tuirecipe.ui.services import Services
from tuirecipe.ui.widgets.badcases import BadCasesView
from tuirecipe.ui.widgets.curves import CurvePlot, CurveSettings
from tuirecipe.ui.widgets.curves_view import CurvesView
from tuirecipe.ui.widgets.predictions import PredictionsTable
from tuirecipe.ui.widgets.run_controls import RunControls
from tuirecipe.ui.widgets.run_notes import RunNotes
from tuirecipe.ui.widgets.run_status import RunStatus

TOPICS = (
    "step",
    "eval",
    "predictions",
    "status",
    "error",
    "log",
    "check_result",
    "resumed",
    RUN_STARTED_TOPIC,
    START_FAILED_TOPIC,
)
# What arrived is shown in turns, one slot every DISPLAY_SECONDS: the step and eval lines
# twice a second, the loss plot every second, the accuracy and learning-rate plots every
# two. A screen update repaints most widgets beside the ones that changed (4-6 ms here on
# a small CPU), so several small updates hold the event loop less than one big one.
DISPLAY_SECONDS = 0.25
DISPLAY_SLOTS = ("lines", "plot-loss", "lines", ("plot-acc", "plot-lr"))
SHORT_ROWS = 30  # a pane this short gets the compact layout (an 80x24 terminal has 20)
NARROW_COLUMNS = 100  # a pane this narrow hides the notes column until N shows it


SMOOTHING = Binding.Group("Smoothing")
VIEWS = Binding.Group("Views")
# Keys that change the curves: offered (footer, help) only while the curves are shown.
CURVE_ACTIONS = frozenset(
    {"smoothing", "toggle_log", "cycle_x_axis", "clear_overlays", "zoom_plot"}
)


class TrainPane(Widget, can_focus=True):
    BINDINGS = [
        Binding("s", "start_run", "Start"),
        Binding("p", "pause_or_resume", "Pause/resume"),
        Binding("x", "stop_run", "Stop"),
        Binding("g", "show_view('curves')", "Curves", group=VIEWS),
        Binding("e", "show_view('predictions')", "Examples", group=VIEWS),
        Binding("b", "show_view('badcases')", "Bad cases", group=VIEWS),
        Binding("left_square_bracket", "smoothing(-1)", "Smooth-", group=SMOOTHING),
        Binding("right_square_bracket", "smoothing(1)", "Smooth+", group=SMOOTHING),
        Binding("l", "toggle_log", "Log y"),
        Binding("a", "cycle_x_axis", "X axis"),
        Binding("n", "edit_notes", "Notes"),
        # Not in the footer (it is full at 120 columns): ? lists it.
        Binding("N", "toggle_notes", "Notes column", show=False),
        Binding("z", "zoom_plot", "Zoom plot"),
        Binding("O", "clear_overlays", "Clear overlays", show=False),
        Binding("escape", "back", "Back to curves", show=False),
    ]

    class RunChanged(TextualMessage):
        """The followed run, or its state, changed."""

        def __init__(self, run_id: str, state: str) -> None:
            super().__init__()
            self.run_id = run_id
            self.state = state

    def __init__(self, config: Config, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.services = services
        self.run: RunDir | None = None
        self.state = ""  # the followed run's state, or "starting" while one starts
        self._run_state = ""  # the followed run's last known state
        self.loaded: LoadedRun | None = None  # what was read of the followed run
        self.history = RunHistory()
        self.overlays: dict[str, RunHistory] = {}
        # Live overlays being read: their bus events wait here until the history is in.
        self._overlay_pending: dict[str, list[Message]] = {}
        self.checks: dict[str, str] = {}
        self.last_step: Any = None
        self.last_eval: Any = None
        self._loading = False
        self._buffered: list[Message] = []
        self._step_shown = True  # last_step is on screen
        self._eval_shown = True
        self._ticks = 0
        self._reading_total = False
        self.notes_shown: bool | None = None  # None: by the width (see _fit_layout)
        self.zoomed: str | None = None  # the id of the plot shown alone (z)

    def compose(self) -> ComposeResult:
        yield RunControls(id="train-buttons")
        yield RunStatus(self.config, id="train-status")
        with Horizontal(id="train-split"):
            with TabbedContent(id="train-views"):
                with TabPane("Curves (g)", id="view-curves"):
                    yield CurvesView(id="curves-view")
                with TabPane("Examples (e)", id="view-predictions"):
                    yield PredictionsTable(id="predictions")
                with TabPane("Bad cases (b)", id="view-badcases"):
                    yield BadCasesView(id="badcases")
            yield RunNotes(stamp=self.stamp_line, id="run-notes")

    @property
    def status(self) -> RunStatus:
        return self.query_one(RunStatus)

    @property
    def curves(self) -> CurvesView:
        return self.query_one(CurvesView)

    @property
    def settings(self) -> CurveSettings:
        return self.curves.settings

    @property
    def plots(self) -> list[CurvePlot]:
        return self.curves.plots

    def on_mount(self) -> None:
        self.add_class("-idle")  # nothing followed yet: no progress bar to show
        consume(self, self.services.bus, TOPICS, self.on_bus_message)
        self.query_one(RunControls).show_state(self.state)
        self._update_plots()
        self.set_interval(DISPLAY_SECONDS, self._display_tick)
        self._attach_live_runs()

    def _display_tick(self) -> None:
        """Show one part of what arrived since its last turn (see DISPLAY_SLOTS)."""
        cycle, turn = divmod(self._ticks, len(DISPLAY_SLOTS))
        self._ticks += 1
        slot = DISPLAY_SLOTS[turn]
        if slot == "lines":
            self._display_latest()
            return
        if isinstance(slot, tuple):
            slot = slot[cycle % len(slot)]
        plot = self.curves.plot(slot)
        if plot.tick():
            # The next build starts once this update is on screen: a build thread running
            # beside the compositor halves its speed (they share the GIL).
            self.call_after_refresh(plot.redraw_if_changed)
        else:
            plot.redraw_if_changed()

    def _display_latest(self) -> None:
        if not self._step_shown and self.last_step is not None:
            self._display_step(self.last_step)
        if not self._eval_shown and self.last_eval is not None:
            self._display_eval(self.last_eval)

    @work(group="train-attach")
    async def _attach_live_runs(self) -> None:
        """Started again while runs train (closed terminal, killed console): follow the
        newest, and say which others are live."""

        def newest_live() -> tuple[list[RunDir], str]:
            runs = live_runs(self.config.runs_path)
            return runs, runs[0].state() if runs else ""

        runs, state = await asyncio.to_thread(newest_live)
        if not runs or self.run is not None or self.state == "starting":
            return
        self.follow(runs[0])
        others = runs[1:]
        note = f"; also live: {', '.join(r.id for r in others)} (Runs pane, 5)" if others else ""
        self.notify(
            f"re-attached to run {runs[0].id} ({state}){note}",
            timeout=10 if others else 5,
        )

    def on_resize(self) -> None:
        self._fit_layout()

    def _fit_layout(self) -> None:
        """Fit the room there is. Short (under SHORT_ROWS rows): the status in two lines,
        no buttons (their keys are in the footer), loss beside accuracy. Narrow (under
        NARROW_COLUMNS): the notes column hidden until N shows it."""
        short = self.size.height < SHORT_ROWS
        self.set_class(short, "-short")
        self.status.set_compact(short)
        notes = self.notes_shown
        if notes is None:
            notes = self.size.width >= NARROW_COLUMNS
        self.set_class(not notes, "-no-notes")

    # -- commands ------------------------------------------------------------------------
    def action_start_run(self) -> None:
        if self.state == "starting":
            self.notify(
                "a run is starting; wait for it before starting another", severity="warning"
            )
            return
        self.app.push_screen(StartDialog(self.config), self._start_requested)

    def _start_requested(self, request: StartRequest | None) -> None:
        if request is None:
            return
        if self.run is not None and self.state in LIVE_STATES:
            # Two at once: the followed run goes on training; the Runs pane lists both.
            self.notify(f"run {self.run.id} goes on training; it is in the Runs pane (5)")
        if request.edits:
            self.notify(f"starting with {diff_text(request.edits)}", markup=False)
        self._set_state("starting", of_run=False)
        self.services.bus.publish(
            COMMAND_TOPIC,
            Command(
                "start",
                config=request.config,
                motivation=request.motivation,
                edits=request.edits or None,
            ),
        )

    def _control(self, action: str) -> None:
        if self.run is None:
            self.notify(f"no run to {action}", severity="warning")
            return
        self.services.bus.publish(COMMAND_TOPIC, Command(action, run_id=self.run.id))
        if action == "stop":
            self.notify("stop requested: the run stops after its current step")

    def action_pause_or_resume(self) -> None:
        self._control("resume" if self.state == "paused" else "pause")

    def action_stop_run(self) -> None:
        """Stopping ends the run (only a run writing resume checkpoints can be continued
        later): asked first, as for any run that is live; a run already over is said so."""
        run = self.run
        if run is None:
            self._control("stop")  # says there is none
            return
        if self.state not in LIVE_STATES:
            self.notify(f"run {run.id} is {self.state or 'not running'}: nothing to stop")
            return

        def answered(yes: bool | None) -> None:
            if yes and self.run is run:
                self._control("stop")

        self.app.push_screen(
            ConfirmScreen(
                f"Stop run {run.id}?",
                f"It is {self.state}; a stopped run ends after its current step (its "
                "checkpoints and curves are kept) and can be resumed later (R in Runs) "
                "only when it writes resume checkpoints (train.checkpoint_every).",
                yes="Stop it",
            ),
            answered,
        )

    @on(RunControls.Pressed)
    def run_button_pressed(self, event: RunControls.Pressed) -> None:
        if event.action == "start":
            self.action_start_run()
        elif event.action == "stop":
            self.action_stop_run()
        else:
            self._control(event.action)

    # -- curve settings and views --------------------------------------------------------
    def action_smoothing(self, direction: int) -> None:
        self.curves.change_smoothing(direction)

    def action_toggle_log(self) -> None:
        self.curves.toggle_log()

    def action_cycle_x_axis(self) -> None:
        self.curves.cycle_x_axis()

    def action_show_view(self, view: str) -> None:
        """Show a sub-view and give it the keyboard (the pane itself for the curves): the
        widget focused before may be the one just hidden, and a hidden widget loses focus."""
        if self.zoomed is not None and view != "curves":
            self.action_zoom_plot()  # a zoomed plot would cover the other view
        self.query_one("#train-views", TabbedContent).active = f"view-{view}"
        target = {"badcases": "#badcases-table", "predictions": "#predictions"}.get(view)
        (self.query_one(target) if target else self).focus()
        self.refresh_bindings()

    def action_back(self) -> None:
        """Esc backs out one level: examples or bad cases back to the curves."""
        self.action_show_view("curves")

    @on(TabbedContent.TabActivated, "#train-views")
    def view_shown(self) -> None:
        """A sub-view shown by key or by a click on its tab: the curve keys come and go."""
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if typing_into(self.screen):  # the run notes editor: letters are text
            return False
        shown = self.query_one("#train-views", TabbedContent).active
        if action in CURVE_ACTIONS:
            return shown == "view-curves"
        if action == "show_view":  # the view already shown is not offered
            return shown != f"view-{parameters[0]}"
        if action == "back":
            return shown != "view-curves"
        return True

    def action_edit_notes(self) -> None:
        if self.has_class("-no-notes"):
            self.notes_shown = True
            self._fit_layout()
        self.query_one("#run-notes-editor").focus()

    def action_toggle_notes(self) -> None:
        """Show or hide the run-notes column (hidden by default on a narrow terminal)."""
        self.notes_shown = self.has_class("-no-notes")
        self._fit_layout()
        if not self.notes_shown and self.app.focused is not None:
            if self.query_one(RunNotes) in self.app.focused.ancestors_with_self:
                self.focus()

    def action_zoom_plot(self) -> None:
        """Show the focused plot (else the loss plot) alone over the whole pane; again:
        back to every plot."""
        if self.zoomed is not None:
            self.curves.plot(self.zoomed).remove_class("-zoomed")
            self.zoomed = None
            self.remove_class("-zoom")
            return
        focused = self.app.focused
        plot = focused if isinstance(focused, CurvePlot) and self in focused.ancestors else None
        plot = plot or self.curves.plot("plot-loss")
        self.action_show_view("curves")
        self.zoomed = plot.id
        plot.add_class("-zoomed")
        self.add_class("-zoom")

    @on(RunNotes.Left)
    def notes_left(self) -> None:
        self.focus()

    def save_notes(self) -> bool:
        return self.query_one(RunNotes).save()

    def stamp_line(self) -> str:
        """The line ctrl+t puts in the notes: time, step, metrics, change vs parent."""
        return stamp_line(self.last_step, self.last_eval, self.loaded)

    def add_overlay(self, run: RunDir) -> None:
        """Overlay (or, if already there, remove) another run's curves."""
        if run.id in self.overlays:
            del self.overlays[run.id]
            self._update_plots()
            return
        if self.run is not None and run.id == self.run.id:
            self.notify("that is the followed run", severity="warning")
            return
        self._load_overlay(run)

    @work(group="overlay")
    async def _load_overlay(self, run: RunDir) -> None:
        live = await asyncio.to_thread(lambda: run.state() in LIVE_STATES)
        if live:  # watched before the file is read, so no step falls between the two
            self._overlay_pending[run.id] = []
            self.services.follower.watch(run, from_start=False)
        try:
            loaded = await asyncio.to_thread(load_run, run)
        finally:
            pending = self._overlay_pending.pop(run.id, [])
        self.overlays[run.id] = loaded.history
        for message in pending:
            self._add_to_overlay(message)
        self._update_plots()
        self.notify(f"overlaid {run.id} on the curves" + (" (live)" if live else ""))

    def _add_to_overlay(self, message: Message) -> None:
        """A live overlaid run's new step or evaluation (one already read is skipped)."""
        history = self.overlays.get(message.run_id or "")
        if history is not None and message.topic in ("step", "eval"):
            history.add_new(message.payload if message.topic == "step" else [message.payload])

    def action_clear_overlays(self) -> None:
        self.overlays.clear()
        self._update_plots()

    def _update_plots(self) -> None:
        self.curves.show(self.history, self.overlays)

    # -- following -----------------------------------------------------------------------
    def follow(self, run: RunDir) -> None:
        """Show ``run`` (live or finished): its history is read, then it is followed."""
        self.run = run
        self.loaded = None
        self.history = RunHistory()
        self.overlays.pop(run.id, None)
        self.last_step = self.last_eval = None
        self.checks = {}
        self.remove_class("-idle")
        self.status.reset(run.id)
        self.query_one(PredictionsTable).reset()
        self.query_one(BadCasesView).set_run(run.path)
        self.query_one(RunNotes).set_run(run)
        self._update_plots()
        self._loading = True
        self._buffered = []
        self.services.follower.watch(run)
        self._load_history(run)

    @work(exclusive=True, group="train-history")
    async def _load_history(self, run: RunDir) -> None:
        try:
            loaded = await asyncio.to_thread(load_run, run)
        except OSError as exc:  # unreadable: say so; the bus still brings what it can
            self.notify(f"could not read run {run.id}: {exc}", severity="error")
            loaded = LoadedRun()
        if self.run is None or run.id != self.run.id:
            return
        self.loaded = loaded
        self.history = loaded.history
        self.checks = loaded.checks
        self.status.show_run(run.id, loaded.motivation)
        self.status.show_config(loaded.config)  # the run's, not the console's
        self.status.set_total(loaded.total_steps)
        self.status.execution = loaded.execution
        self._set_state(loaded.state)
        for snapshot in loaded.snapshots:
            self.query_one(PredictionsTable).add_snapshot(snapshot.step, snapshot.rows)
        if loaded.last_step is not None:
            self._show_step([loaded.last_step], record=False)
        if loaded.last_eval is not None:
            self._show_eval(loaded.last_eval, record=False)
        self._loading = False
        buffered, self._buffered = self._buffered, []
        for message in buffered:
            self.on_bus_message(message)
        self._update_plots()
        self._show_checks()

    def on_bus_message(self, message: Message) -> None:
        if message.topic == RUN_STARTED_TOPIC:
            self.follow(message.payload)
            return
        if message.topic == START_FAILED_TOPIC:
            live = self._run_state if self.run is not None else ""
            # A second run that failed to start leaves the followed one as it was.
            self._set_state(live if live in LIVE_STATES else "failed to start", of_run=False)
            self.status.show_message(f"not started: {message.payload}", urgent=True)
            return
        if self.run is None or message.run_id != self.run.id:
            if message.run_id in self._overlay_pending:
                self._overlay_pending[message.run_id].append(message)
            elif message.run_id in self.overlays:
                self._add_to_overlay(message)  # plots pick it up at their next turn
            return
        if self._loading:  # shown after what was read, which is older
            self._buffered.append(message)
            return
        handler = getattr(self, f"_show_{message.topic}", None)
        if handler is not None:
            try:
                handler(message.payload)
            except NoMatches:  # the console is closing: its widgets are going
                if self.is_mounted and self.children:
                    raise

    def _show_step(self, steps: list, record: bool = True) -> None:
        if record:  # events already in the history (read from the file) are skipped
            steps = self.history.add_new(steps)
            if not steps:
                return
        self.last_step = steps[-1]
        self._step_shown = False
        if not record:
            self._display_step(self.last_step)  # a history just read: show it at once

    def _display_step(self, last: Any) -> None:
        self._step_shown = True
        unknown = self.status.total_steps is None or self.status.execution is None
        if unknown and self.run is not None and not self._reading_total:
            self._reading_total = True
            self._read_total_steps(self.run)
        self.status.show_step(last, self.history, self.state)

    @work(group="train-total")
    async def _read_total_steps(self, run: RunDir) -> None:
        """The worker writes the planned number of steps once it has sized the data."""
        try:
            total, execution = await asyncio.to_thread(read_plan, run)
        finally:
            self._reading_total = False
        if not self.status.query("#train-progress"):
            return  # the console closed while the file was read: its widgets are gone
        if self.run is not None and run.id == self.run.id:
            self.status.execution = execution  # {} once read: not read again
            self.status.set_total(total)
            if self.last_step is not None:
                self.status.show_step(self.last_step, self.history, self.state)

    def _show_eval(self, event: Any, record: bool = True) -> None:
        if event.split != "dev":
            return
        if record:
            self.history.add_new([event])
        self.last_eval = event
        self._eval_shown = False
        if not record:
            self._display_eval(event)
        elif self.curves.needs_mae(self.history):
            self._update_plots()  # the accuracy plot switches to MAE

    def _display_eval(self, event: Any) -> None:
        self._eval_shown = True
        self.status.show_eval(event)

    def _show_resumed(self, event: Any) -> None:
        """The run continued from a checkpoint (``tuirecipe resume``): the curves go back
        to its step, and steps the interrupted worker wrote after it are not shown."""
        self.history.add_new([event])
        self._update_plots()

    def _show_predictions(self, event: Any) -> None:
        self.query_one(PredictionsTable).add_snapshot(event.step, event.rows)

    def _show_check_result(self, event: Any) -> None:
        self.checks[event.name] = event.status
        self._show_checks()

    def _show_checks(self) -> None:
        if self.checks:
            self.status.show_message(status_counts(self.checks))

    def _show_status(self, event: Any) -> None:
        self._set_state(event.state)
        if event.message:
            # why a run failed or stopped leads the short status line
            self.status.show_message(event.message, urgent=event.state in ("failed", "stopped"))
        if event.state in TERMINAL_STATES:
            self._display_latest()  # the last step and evaluation, not at the next tick
            if event.state == "finished":
                self.status.show_finished()
            if self.last_step is not None:
                self.status.show_rate(self.last_step, self.history, self.state)
            self.query_one(BadCasesView).reload_if_changed()

    def _show_error(self, event: Any) -> None:
        self.status.show_message(f"error: {event.message}", urgent=True)

    def _show_log(self, event: Any) -> None:
        self.status.show_message(event.message)

    def _set_state(self, state: str, of_run: bool = True) -> None:
        """``of_run``: ``state`` is the followed run's (not "starting" a new one)."""
        self.state = state
        if of_run:
            self._run_state = state
        self.query_one(RunControls).show_state(state)
        focused = self.app.focused
        if focused is not None and focused.disabled and self in focused.ancestors:
            # The pressed button went disabled: keep the keyboard here so s/p/x still work.
            enabled = [b for b in self.query(Button) if not b.disabled]
            (enabled[0] if enabled else self).focus()
        if self.run is not None:
            self.post_message(self.RunChanged(self.run.id, state))
