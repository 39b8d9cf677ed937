"""Train pane: start a training run of the current config, follow it, write its notes.

Starting asks for a one-line motivation (saved in the run's meta.json), then publishes a
``start`` command; the worker client launches the worker process. Everything shown comes
from the run directory: following a run first reads its history from ``events.jsonl`` (in
a thread), then takes new events from the bus (step metrics arrive coalesced). Nothing
repaints per event: events go into the history, and a timer shows them in turns (see
DISPLAY_SLOTS), each turn a small screen update of its own.

Left: curves (loss, accuracy or MAE, learning rate; other runs overlaid), the fixed dev
examples over evaluations, and the bad cases. Right: the run's ``notes.md``.

A console started while runs train (its terminal was closed, or it was killed: workers
live in their own sessions) follows the newest live run at once and names the others.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.message import Message as TextualMessage
from textual.widget import Widget
from textual.widgets import Button, Label, TabbedContent, TabPane

from tuirecipe.config import Config
from tuirecipe.runs.curves import RunHistory
from tuirecipe.runs.rundir import TERMINAL_STATES, RunDir
from tuirecipe.ui.bus import COMMAND_TOPIC, RUN_STARTED_TOPIC, START_FAILED_TOPIC, Command, Message
from tuirecipe.ui.modals import TextPrompt
from tuirecipe.ui.panes import consume
from tuirecipe.ui.panes.notes import RunNotes
from tuirecipe.ui.widgets.badcases import BadCasesView
from tuirecipe.ui.widgets.curves import SMOOTHING_STEPS, X_AXES, CurvePlot, CurveSettings
from tuirecipe.ui.widgets.predictions import PredictionsTable
from tuirecipe.ui.widgets.progress import RunProgress

TOPICS = (
    "step",
    "eval",
    "predictions",
    "status",
    "error",
    "log",
    "check_result",
    RUN_STARTED_TOPIC,
    START_FAILED_TOPIC,
)
LIVE_STATES = ("created", "running", "paused", "starting")
RATE_WINDOW = 100  # steps over which steps/s is measured
ATTACH_STATES = ("created", "running", "paused")  # runs a new console re-attaches to
# What arrived is shown in turns, one slot every DISPLAY_SECONDS: the step and eval lines
# twice a second, the loss plot every second, the accuracy and learning-rate plots every
# two. A screen update repaints most widgets beside the ones that changed (4-6 ms here on
# a small CPU), so several small updates hold the event loop less than one big one.
DISPLAY_SECONDS = 0.25
DISPLAY_SLOTS = ("lines", "plot-loss", "lines", ("plot-acc", "plot-lr"))


def live_runs(runs_path: Path) -> list[RunDir]:
    """Runs under ``runs_path`` whose worker is alive (a dead one counts as failed),
    newest first: what a console started again re-attaches to (issue 6, point 1)."""
    try:
        paths = [p for p in Path(runs_path).iterdir() if (p / "status.json").is_file()]
    except OSError:
        return []
    found = []
    for path in paths:
        run = RunDir(path)
        if run.state() in ATTACH_STATES:
            status = run.read_status()
            started = status.get("started") or run.read_meta().get("created") or 0
            found.append((float(started), run.id, run))
    return [run for *_, run in sorted(found, key=lambda f: f[:2], reverse=True)]


def _config_line(config: Config) -> str:
    steps = f"max {config.train.max_steps} steps" if config.train.max_steps else ""
    parts = [
        f"model {config.model.name}",
        f"data {config.data.path}",
        f"{config.train.epochs} epochs",
        steps,
        f"batch {config.train.batch_size}",
        f"lr {config.train.lr:g}",
        f"device {config.train.device}",
    ]
    return "Config: " + " · ".join(p for p in parts if p)


def _metric(name: str, value: float, ci: dict[str, list[float]]) -> str:
    low_high = ci.get(name)
    interval = f" [{low_high[0]:.3f}, {low_high[1]:.3f}]" if low_high else ""
    return f"{name} {value:.4f}{interval}"


def _clock(seconds: float) -> str:
    s = int(seconds)
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


class LoadedRun:
    """What reading a run's events gives the pane: history, snapshots, last events."""

    def __init__(self, run: RunDir) -> None:
        self.history = RunHistory()
        self.snapshots: list[Any] = []
        self.last_step: Any = None
        self.last_eval: Any = None
        self.checks: dict[str, str] = {}
        events = run.events()
        self.history.add(events)
        for event in events:
            if event.kind == "predictions":
                self.snapshots.append(event)
            elif event.kind == "step":
                self.last_step = event
            elif event.kind == "eval" and event.split == "dev":
                self.last_eval = event
            elif event.kind == "check_result":
                self.checks[event.name] = event.status


# Labels sized one line by the stylesheet: updating them never changes the layout.
ONE_LINE_LABELS = frozenset({"#train-step", "#train-rate", "#train-eval"})


class TrainPane(Widget, can_focus=True):
    BINDINGS = [
        Binding("s", "start_run", "Start"),
        Binding("p", "pause_or_resume", "Pause/resume"),
        Binding("x", "stop_run", "Stop"),
        Binding("left_square_bracket", "smoothing(-1)", "Smooth-"),
        Binding("right_square_bracket", "smoothing(1)", "Smooth+"),
        Binding("l", "toggle_log", "Log y"),
        Binding("a", "cycle_x_axis", "X axis"),
        Binding("g", "show_view('curves')", "Curves", show=False),
        Binding("e", "show_view('predictions')", "Examples", show=False),
        Binding("b", "show_view('badcases')", "Bad cases", show=False),
        Binding("n", "edit_notes", "Notes"),
        Binding("O", "clear_overlays", "Clear overlays", show=False),
    ]

    class RunChanged(TextualMessage):
        """The followed run, or its state, changed."""

        def __init__(self, run_id: str, state: str) -> None:
            super().__init__()
            self.run_id = run_id
            self.state = state

    def __init__(self, config: Config, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.run: RunDir | None = None
        self.state = ""
        self.total_steps: int | None = None
        self.history = RunHistory()
        self.settings = CurveSettings()
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

    def compose(self) -> ComposeResult:
        with Horizontal(id="train-buttons"):
            yield Button("Start (s)", id="train-start", variant="primary", compact=True)
            yield Button("Pause (p)", id="train-pause", compact=True)
            yield Button("Resume (p)", id="train-resume", compact=True)
            yield Button("Stop (x)", id="train-stop", variant="error", compact=True)
        yield Label(_config_line(self.config), id="train-config")
        yield Label(
            "No run followed. Press s to start a training run of this config, "
            "or pick a run in the Runs pane (5).",
            id="train-run",
        )
        with Horizontal(id="train-progress-row"):
            yield RunProgress(id="train-progress")
            yield Label("", id="train-rate")
        yield Label("", id="train-step")
        yield Label("", id="train-eval")
        yield Label("", id="train-message")
        with Horizontal(id="train-split"):
            with TabbedContent(id="train-views"):
                with TabPane("Curves (g)", id="view-curves"):
                    yield Label(self._settings_text(), id="curve-settings")
                    yield CurvePlot("loss", interval=None, id="plot-loss")
                    with Horizontal(id="train-small-plots"):
                        yield CurvePlot("acc", interval=None, id="plot-acc")
                        yield CurvePlot("lr", interval=None, id="plot-lr")
                with TabPane("Examples (e)", id="view-predictions"):
                    yield PredictionsTable(id="predictions")
                with TabPane("Bad cases (b)", id="view-badcases"):
                    yield BadCasesView(id="badcases")
            yield RunNotes(stamp=self.stamp_line, id="run-notes")

    def on_mount(self) -> None:
        self.add_class("-idle")  # nothing followed yet: no progress bar to show
        for part in ("#train-step", "#train-eval", "#train-message"):
            self.query_one(part, Label).display = False
        consume(self, self.app.bus, TOPICS, self.on_bus_message)
        self._update_buttons()
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
        plot = self.query_one(f"#{slot}", CurvePlot)
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
        runs = await asyncio.to_thread(live_runs, self.config.runs_path)
        if not runs or self.run is not None or self.state == "starting":
            return
        self.follow(runs[0])
        others = runs[1:]
        note = f"; also live: {', '.join(r.id for r in others)} (Runs pane, 5)" if others else ""
        self.notify(
            f"re-attached to run {runs[0].id} ({runs[0].state()}){note}",
            timeout=10 if others else 5,
        )

    def on_resize(self) -> None:
        # Short terminals: the loss curve only, so it stays readable.
        self.set_class(self.size.height < 30, "-short")

    def _line(self, part: str, text: str) -> None:
        """Update a one-line label; an empty one takes no room.

        The step and rate lines change ten times a second: while a label stays shown its
        size is fixed (one line, full width), so no layout pass of the whole screen.
        """
        label = self.query_one(part, Label)
        shown = bool(text)
        if label.display == shown and part in ONE_LINE_LABELS:
            label.update(text, layout=False)
        else:
            label.update(text)
            label.display = shown

    @property
    def plots(self) -> list[CurvePlot]:
        return list(self.query(CurvePlot))

    # -- commands ------------------------------------------------------------------------
    def action_start_run(self) -> None:
        if self.state == "starting":
            self.notify(
                "a run is starting; wait for it before starting another", severity="warning"
            )
            return
        self.app.push_screen(
            TextPrompt(
                "Start a training run",
                placeholder="why this run? (one line)",
                explain=f"Saved in the run's meta.json. {_config_line(self.config)}",
            ),
            self._start_with_motivation,
        )

    def _start_with_motivation(self, motivation: str | None) -> None:
        if motivation is None:
            return
        if self.run is not None and self.state in LIVE_STATES:
            # Two at once: the followed run goes on training; the Runs pane lists both.
            self.notify(f"run {self.run.id} goes on training; it is in the Runs pane (5)")
        self._set_state("starting")
        self.app.bus.publish(
            COMMAND_TOPIC, Command("start", config=self.config, motivation=motivation)
        )

    def _control(self, action: str) -> None:
        if self.run is None:
            self.notify(f"no run to {action}", severity="warning")
            return
        self.app.bus.publish(COMMAND_TOPIC, Command(action, run_id=self.run.id))
        if action == "stop":
            self.notify("stop requested: the run stops after its current step")

    def action_pause_or_resume(self) -> None:
        self._control("resume" if self.state == "paused" else "pause")

    def action_stop_run(self) -> None:
        self._control("stop")

    @on(Button.Pressed, "#train-start")
    def start_pressed(self) -> None:
        self.action_start_run()

    @on(Button.Pressed, "#train-pause")
    def pause_pressed(self) -> None:
        self._control("pause")

    @on(Button.Pressed, "#train-resume")
    def resume_pressed(self) -> None:
        self._control("resume")

    @on(Button.Pressed, "#train-stop")
    def stop_pressed(self) -> None:
        self._control("stop")

    # -- curve settings and views --------------------------------------------------------
    def _settings_text(self) -> str:
        s = self.settings
        overlays = f" · overlaid: {', '.join(self.overlays)} (O: clear)" if self.overlays else ""
        return (
            f"smoothing {s.smoothing:g} ([ ]) · y {'log' if s.log_y else 'linear'} (l)"
            f" · x {s.x_axis} (a){overlays}"
        )

    def _apply_settings(self) -> None:
        for plot in self.plots:
            plot.set_settings(self.settings)
        self.query_one("#curve-settings", Label).update(self._settings_text())

    def action_smoothing(self, direction: int) -> None:
        steps = list(SMOOTHING_STEPS)
        now = min(range(len(steps)), key=lambda i: abs(steps[i] - self.settings.smoothing))
        self.settings.smoothing = steps[max(0, min(len(steps) - 1, now + direction))]
        self._apply_settings()

    def action_toggle_log(self) -> None:
        self.settings.log_y = not self.settings.log_y
        self._apply_settings()

    def action_cycle_x_axis(self) -> None:
        self.settings.x_axis = X_AXES[(X_AXES.index(self.settings.x_axis) + 1) % len(X_AXES)]
        self._apply_settings()

    def action_show_view(self, view: str) -> None:
        self.query_one("#train-views", TabbedContent).active = f"view-{view}"
        if view == "badcases":
            self.query_one("#badcases-table").focus()
        elif view == "predictions":
            self.query_one("#predictions").focus()

    def action_edit_notes(self) -> None:
        self.query_one("#run-notes-editor").focus()

    @on(RunNotes.Left)
    def notes_left(self) -> None:
        self.focus()

    def save_notes(self) -> bool:
        return self.query_one(RunNotes).save()

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
        live = run.state() in LIVE_STATES
        if live:  # watched before the file is read, so no step falls between the two
            self._overlay_pending[run.id] = []
            self.app.follower.watch(run, from_start=False)
        try:
            loaded = await asyncio.to_thread(LoadedRun, run)
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
        sources = [("", self.history)] + [(run_id[-12:], h) for run_id, h in self.overlays.items()]
        regression = not len(self.history.acc) and "mae" in self.history.dev
        for plot in self.plots:
            if plot.id == "plot-acc":
                plot.set_metric("mae" if regression else "acc")
            plot.set_sources(sources)
            plot.set_settings(self.settings)
        label, text = self.query_one("#curve-settings", Label), self._settings_text()
        if str(label.content) != text:
            label.update(text)

    def stamp_line(self) -> str:
        """The line ctrl+t puts in the notes: time, step, metrics, change vs parent."""
        from tuirecipe.runs.compare import change_summary

        parts = [time.strftime("%Y-%m-%d %H:%M")]
        if self.last_step is not None:
            s = self.last_step
            acc = f" acc {s.acc:.3f}" if s.acc is not None else ""
            parts.append(f"step {s.step} (epoch {s.epoch:.2f}) train loss {s.loss:.4f}{acc}")
        if self.last_eval is not None:
            e = self.last_eval
            metrics = " ".join(
                f"{k} {v:.4f}" for k, v in e.metrics.items() if isinstance(v, (int, float))
            )
            parts.append(f"dev @ {e.step}: {metrics}")
        if self.run is not None:
            change = change_summary(self.run)
            parent = self.run.read_meta().get("parent")
            parts.append(
                f"vs parent {parent}: {change or 'no change'}" if parent else "no parent run"
            )
        return "- " + " · ".join(parts)

    # -- following -----------------------------------------------------------------------
    def follow(self, run: RunDir) -> None:
        """Show ``run`` (live or finished): its history is read, then it is followed."""
        self.run = run
        self.total_steps = None
        self.history = RunHistory()
        self.overlays.pop(run.id, None)
        self.last_step = self.last_eval = None
        self.checks = {}
        self.remove_class("-idle")
        self.query_one("#train-progress", RunProgress).update(total=None, progress=0)
        for part in ("#train-step", "#train-eval", "#train-message", "#train-rate"):
            self._line(part, "")
        meta = run.read_meta()
        why = f" · why: {meta['motivation']}" if meta.get("motivation") else ""
        self.query_one("#train-run", Label).update(f"Run {run.id}{why}")
        self.query_one(PredictionsTable).reset()
        self.query_one(BadCasesView).set_run(run.path)
        self.query_one(RunNotes).set_run(run)
        self._update_plots()
        self._set_state(run.state())
        self._loading = True
        self._buffered = []
        self.app.follower.watch(run)
        self._load_history(run)

    @work(exclusive=True, group="train-history")
    async def _load_history(self, run: RunDir) -> None:
        loaded = await asyncio.to_thread(LoadedRun, run)
        if self.run is None or run.id != self.run.id:
            return
        self.history = loaded.history
        self.checks = loaded.checks
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
            live = self.run.state() if self.run is not None else ""
            # A second run that failed to start leaves the followed one as it was.
            self._set_state(live if live in LIVE_STATES else "failed to start")
            self._line("#train-message", f"not started: {message.payload}")
            return
        if self.run is None or message.run_id != self.run.id:
            if message.run_id in self._overlay_pending:
                self._overlay_pending[message.run_id].append(message)
            elif message.run_id in self.overlays:
                self._add_to_overlay(message)  # plots pick it up at their next turn
            return
        if self._loading and message.topic in ("step", "eval", "predictions", "check_result"):
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
        bar = self.query_one("#train-progress", RunProgress)
        if self.total_steps is None and self.run is not None:
            total = self.run.read_status().get("total_steps")
            if total:
                self.total_steps = int(total)
                bar.update(total=self.total_steps)
        bar.update(progress=last.step)
        total = f"/{self.total_steps}" if self.total_steps else ""
        acc = f" · acc {last.acc:.3f}" if last.acc is not None else ""
        self._line(
            "#train-step",
            f"step {last.step}{total} · epoch {last.epoch:.2f} · loss {last.loss:.4f}{acc}"
            f" · lr {last.lr:.2g}",
        )
        self._line("#train-rate", self._rate_text(last))

    def _rate_text(self, last: Any) -> str:
        times = self.history.step_time
        if len(times) < 2:
            return ""
        first = max(0, len(times) - RATE_WINDOW)
        steps = times.x[-1] - times.x[first]
        seconds = times.y[-1] - times.y[first]
        if seconds <= 0 or steps <= 0:
            return ""
        rate = steps / seconds
        text = f"{rate:.1f} steps/s · {_clock(last.elapsed)} elapsed"
        if (
            self.total_steps
            and self.state in ("running", "paused")
            and last.step < self.total_steps
        ):
            text += f" · ETA {_clock((self.total_steps - last.step) / rate)}"
        return text

    def _show_eval(self, event, record: bool = True) -> None:
        if event.split != "dev":
            return
        if record:
            self.history.add_new([event])
        self.last_eval = event
        self._eval_shown = False
        if not record:
            self._display_eval(event)
        elif (
            not len(self.history.acc)
            and "mae" in self.history.dev
            and self.query_one("#plot-acc", CurvePlot).metric != "mae"
        ):
            self._update_plots()  # the accuracy plot switches to MAE

    def _display_eval(self, event) -> None:
        self._eval_shown = True
        parts = [
            _metric(k, v, event.ci) for k, v in event.metrics.items() if isinstance(v, (int, float))
        ]
        n = f" (n={event.n})" if event.n else ""
        self._line("#train-eval", f"{event.split} @ step {event.step}: " + " · ".join(parts) + n)

    def _show_predictions(self, event) -> None:
        self.query_one(PredictionsTable).add_snapshot(event.step, event.rows)

    def _show_check_result(self, event) -> None:
        self.checks[event.name] = event.status
        self._show_checks()

    def _show_checks(self) -> None:
        if not self.checks:
            return
        counts: dict[str, int] = {}
        for status in self.checks.values():
            counts[status] = counts.get(status, 0) + 1
        self._line(
            "#train-message",
            "checks: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())),
        )

    def _show_status(self, event) -> None:
        self._set_state(event.state)
        if event.message:
            self._line("#train-message", event.message)
        if event.state in TERMINAL_STATES:
            self._display_latest()  # the last step and evaluation, not at the next tick
            if self.total_steps and event.state == "finished":
                self.query_one("#train-progress", RunProgress).update(progress=self.total_steps)
            if self.last_step is not None:
                self._line("#train-rate", self._rate_text(self.last_step))
            self.query_one(BadCasesView).reload_if_changed()

    def _show_error(self, event) -> None:
        self._line("#train-message", f"error: {event.message}")

    def _show_log(self, event) -> None:
        self._line("#train-message", event.message)

    def _set_state(self, state: str) -> None:
        self.state = state
        self._update_buttons()
        if self.run is not None:
            self.post_message(self.RunChanged(self.run.id, state))

    def _update_buttons(self) -> None:
        self.query_one("#train-start", Button).disabled = self.state == "starting"
        self.query_one("#train-pause", Button).disabled = self.state != "running"
        self.query_one("#train-resume", Button).disabled = self.state != "paused"
        self.query_one("#train-stop", Button).disabled = self.state not in (
            "running",
            "paused",
            "created",
        )
        focused = self.app.focused
        if focused is not None and focused.disabled and self in focused.ancestors:
            # The pressed button went disabled: keep the keyboard here so s/p/x still work.
            enabled = [b for b in self.query(Button) if not b.disabled]
            (enabled[0] if enabled else self).focus()
