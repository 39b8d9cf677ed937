"""Train pane: start a training run of the current config and follow it.

Starting asks for a one-line motivation (saved in the run's meta.json), then publishes a
``start`` command; the worker client launches the worker process. Everything shown here
comes from the run directory through the bus: progress, loss/accuracy, the latest dev
evaluation, state. Stop, pause and resume are signals to the worker.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message as TextualMessage
from textual.widget import Widget
from textual.widgets import Button, Label, ProgressBar

from tuirecipe.config import Config
from tuirecipe.runs.rundir import TERMINAL_STATES, RunDir
from tuirecipe.ui.bus import (COMMAND_TOPIC, RUN_STARTED_TOPIC, START_FAILED_TOPIC, Command,
                              Message)
from tuirecipe.ui.modals import TextPrompt
from tuirecipe.ui.panes import consume

TOPICS = ("step", "eval", "status", "error", "log", RUN_STARTED_TOPIC, START_FAILED_TOPIC)


def _config_line(config: Config) -> str:
    steps = f"max {config.train.max_steps} steps" if config.train.max_steps else ""
    parts = [f"model {config.model.name}", f"data {config.data.path}",
             f"{config.train.epochs} epochs", steps, f"batch {config.train.batch_size}",
             f"lr {config.train.lr:g}", f"device {config.train.device}"]
    return "Config: " + " · ".join(p for p in parts if p)


def _metric(name: str, value: float, ci: dict[str, list[float]]) -> str:
    low_high = ci.get(name)
    interval = f" [{low_high[0]:.3f}, {low_high[1]:.3f}]" if low_high else ""
    return f"{name} {value:.4f}{interval}"


class TrainPane(Widget, can_focus=True):
    BINDINGS = [Binding("s", "start_run", "Start"),
                Binding("p", "pause_or_resume", "Pause/resume"),
                Binding("x", "stop_run", "Stop")]

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

    def compose(self) -> ComposeResult:
        with Horizontal(id="train-buttons"):
            yield Button("Start run (s)", id="train-start", variant="primary")
            yield Button("Pause (p)", id="train-pause")
            yield Button("Resume (p)", id="train-resume")
            yield Button("Stop (x)", id="train-stop", variant="error")
        yield Label(_config_line(self.config), id="train-config")
        yield Label("No run followed. Press s to start a training run of this config, "
                    "or pick a run in the Runs pane (5).", id="train-run")
        yield ProgressBar(total=None, show_eta=False, id="train-progress")
        yield Label("", id="train-step")
        yield Label("", id="train-eval")
        yield Label("", id="train-message")

    def on_mount(self) -> None:
        self.add_class("-idle")  # nothing followed yet: no progress bar to show
        consume(self, self.app.bus, TOPICS, self.on_bus_message)
        self._update_buttons()

    # -- commands ------------------------------------------------------------------------
    def action_start_run(self) -> None:
        if self.state in ("created", "running", "paused", "starting"):
            self.notify("a run is already being trained here; stop it first",
                        severity="warning")
            return
        self.app.push_screen(
            TextPrompt("Start a training run", placeholder="why this run? (one line)",
                       explain=f"Saved in the run's meta.json. {_config_line(self.config)}"),
            self._start_with_motivation)

    def _start_with_motivation(self, motivation: str | None) -> None:
        if motivation is None:
            return
        self._set_state("starting")
        self.app.bus.publish(COMMAND_TOPIC, Command("start", config=self.config,
                                                    motivation=motivation))

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

    # -- following -----------------------------------------------------------------------
    def follow(self, run: RunDir) -> None:
        """Show ``run`` (live or finished): its history is replayed, then it is followed."""
        self.run = run
        self.total_steps = None
        self.remove_class("-idle")
        self.query_one("#train-progress", ProgressBar).update(total=None, progress=0)
        for part in ("#train-step", "#train-eval", "#train-message"):
            self.query_one(part, Label).update("")
        meta = run.read_meta()
        why = f" · why: {meta['motivation']}" if meta.get("motivation") else ""
        self.query_one("#train-run", Label).update(f"Run {run.id}{why}")
        self._set_state(run.state())
        self.app.follower.watch(run)

    def on_bus_message(self, message: Message) -> None:
        if message.topic == RUN_STARTED_TOPIC:
            self.follow(message.payload)
            return
        if message.topic == START_FAILED_TOPIC:
            self._set_state("failed to start")
            self.query_one("#train-message", Label).update(f"not started: {message.payload}")
            return
        if self.run is None or message.run_id != self.run.id:
            return
        handler = getattr(self, f"_show_{message.topic}", None)
        if handler is not None:
            handler(message.payload)

    def _show_step(self, steps: list) -> None:
        last = steps[-1]
        bar = self.query_one("#train-progress", ProgressBar)
        if self.total_steps is None and self.run is not None:
            total = self.run.read_status().get("total_steps")
            if total:
                self.total_steps = int(total)
                bar.update(total=self.total_steps)
        bar.update(progress=last.step)
        total = f"/{self.total_steps}" if self.total_steps else ""
        acc = f" · acc {last.acc:.3f}" if last.acc is not None else ""
        rate = f" · {last.step / last.elapsed:.1f} steps/s" if last.elapsed > 0 else ""
        self.query_one("#train-step", Label).update(
            f"step {last.step}{total} · epoch {last.epoch:.2f} · loss {last.loss:.4f}{acc}"
            f" · lr {last.lr:.2g}{rate}")

    def _show_eval(self, event) -> None:
        parts = [_metric(k, v, event.ci) for k, v in event.metrics.items()
                 if isinstance(v, (int, float))]
        n = f" (n={event.n})" if event.n else ""
        self.query_one("#train-eval", Label).update(
            f"{event.split} @ step {event.step}: " + " · ".join(parts) + n)

    def _show_status(self, event) -> None:
        self._set_state(event.state)
        if event.message:
            self.query_one("#train-message", Label).update(event.message)
        if event.state in TERMINAL_STATES and self.total_steps and event.state == "finished":
            self.query_one("#train-progress", ProgressBar).update(progress=self.total_steps)

    def _show_error(self, event) -> None:
        self.query_one("#train-message", Label).update(f"error: {event.message}")

    def _show_log(self, event) -> None:
        self.query_one("#train-message", Label).update(event.message)

    def _set_state(self, state: str) -> None:
        self.state = state
        self._update_buttons()
        if self.run is not None:
            self.post_message(self.RunChanged(self.run.id, state))

    def _update_buttons(self) -> None:
        live = self.state in ("created", "running", "paused", "starting")
        self.query_one("#train-start", Button).disabled = live
        self.query_one("#train-pause", Button).disabled = self.state != "running"
        self.query_one("#train-resume", Button).disabled = self.state != "paused"
        self.query_one("#train-stop", Button).disabled = self.state not in ("running", "paused",
                                                                             "created")
        focused = self.app.focused
        if focused is not None and focused.disabled and self in focused.ancestors:
            # The pressed button went disabled: keep the keyboard here so s/p/x still work.
            enabled = [b for b in self.query(Button) if not b.disabled]
            (enabled[0] if enabled else self).focus()
