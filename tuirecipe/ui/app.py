"""The console: five panes in tabs, a header, a footer, the bus, themes.

The App wires things together and owns nothing else: panes own their behaviour, the bus
(:mod:`tuirecipe.ui.bus`) owns runs and processes, :mod:`tuirecipe.ui.themes` owns theme
files. ``make_app`` is the one factory the CLI and the tests share.
"""

from __future__ import annotations

import asyncio
import importlib
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.notifications import SeverityLevel
from textual.widget import Widget
from textual.widgets import Footer, Label, TabbedContent, TabPane

from tuirecipe.config import Config
from tuirecipe.ui.bus import NOTICE_TOPIC, Bus, Command, Message, RunFollower, WorkerClient
from tuirecipe.ui.commands import ConsoleCommands
from tuirecipe.ui.header import ConsoleHeader
from tuirecipe.ui.messages import DataRowRequested
from tuirecipe.ui.modals import QuitScreen, TextPrompt
from tuirecipe.ui.panes import consume, typing_into
from tuirecipe.ui.panes.checks import ChecksPane
from tuirecipe.ui.panes.notes import NotesPane
from tuirecipe.ui.panes.runs import RunsPane
from tuirecipe.ui.panes.train import TrainPane
from tuirecipe.ui.services import Services
from tuirecipe.ui.settings import Settings, default_settings_dir
from tuirecipe.ui.themes import DEFAULT_THEME, ThemeProblem, discover_themes, theme_dirs

if TYPE_CHECKING:
    from tuirecipe.runs.rundir import RunDir

DATA_PANE_MODULE = "tuirecipe.ui.panes.data"  # exports DataPane(config, id=...)


class DataSlot(Vertical):
    """Holds the Data pane, mounted just after the first paint.

    The pane (built separately) imports pandas, which takes a second or more; importing
    it in a thread keeps the console's start-up fast. If the module is missing, the slot
    says so honestly instead of pretending.
    """

    def __init__(self, config: Config, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config

    def compose(self) -> ComposeResult:
        yield Label("Loading the Data pane…", id="data-loading")

    async def load(self) -> None:
        try:
            module = await asyncio.to_thread(importlib.import_module, DATA_PANE_MODULE)
        except ModuleNotFoundError as exc:
            if exc.name != DATA_PANE_MODULE:
                raise
            self.query_one("#data-loading", Label).update(
                "The Data pane is not part of this build yet; `tuirecipe data` prints the "
                "dataset profile."
            )
            return
        except Exception as exc:  # the console goes on without it; the log has the trace
            self.log.error(f"Data pane failed to load: {exc!r}")
            self.query_one("#data-loading", Label).update(
                Text(f"The Data pane failed to load: {type(exc).__name__}: {exc}")
            )
            return
        await self.query_one("#data-loading", Label).remove()
        await self.mount(module.DataPane(self.config, id="data"))


class TuiRecipeApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "tuirecipe"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    PANES = (
        ("data", "Data"),
        ("checks", "Checks"),
        ("train", "Train"),
        ("notes", "Notes"),
        ("runs", "Runs"),
    )
    BINDINGS = [
        *(
            Binding(str(n), f"show_pane('{pane}')", title, show=False)
            for n, (pane, title) in enumerate(PANES, start=1)
        ),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+q", "quit_anywhere", "Quit", show=False, priority=True),
    ]

    def __init__(
        self, config: Config, theme: str | None = None, settings_dir: Path | None = None
    ) -> None:
        super().__init__()
        self.config = config
        self.save_on_hangup = False  # run_app: the real terminal's SIGHUP saves the notes
        self.settings_dir = Path(settings_dir) if settings_dir else default_settings_dir()
        self.bus = Bus()
        self.follower = RunFollower(self.bus)
        self._data_row_wanted: int | None = None  # asked from Train, shown in Data
        self.workers_client = WorkerClient(self.bus, self.follower)
        # What the panes are given: they never reach into the App for these.
        self.services = Services(bus=self.bus, follower=self.follower, jobs=self.workers_client)
        self.header = ConsoleHeader(config.name, id="header")
        self.problems: list[ThemeProblem | str] = []
        self._theme_chosen_here = False  # set once running: later changes are the user's
        self.console_themes, problems = discover_themes(theme_dirs(self.settings_dir))
        self.problems += problems
        for console_theme in self.console_themes.values():
            self.register_theme(console_theme)
        self._apply_start_theme(theme)

    def _apply_start_theme(self, requested: str | None) -> None:
        settings = Settings.load(self.settings_dir)
        if requested and requested not in self.available_themes:
            self.problems.append(
                f"no theme '{requested}'; themes: " + ", ".join(sorted(self.console_themes))
            )
            requested = None
        name = requested or settings.theme
        if name not in self.available_themes:
            name = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        self.theme = name
        if requested:
            self._remember_theme(requested)

    def _remember_theme(self, name: str) -> None:
        try:
            Settings(theme=name).save(self.settings_dir)
        except OSError as exc:
            self.problems.append(f"could not save settings in {self.settings_dir}: {exc}")

    def compose(self) -> ComposeResult:
        yield self.header
        panes = {
            "data": DataSlot(self.config, id="data-slot"),
            "checks": ChecksPane(self.config, self.services, id="checks"),
            "train": TrainPane(self.config, self.services, id="train"),
            "notes": NotesPane(self.config, id="notes"),
            "runs": RunsPane(self.config, self.services, id="runs"),
        }
        with TabbedContent(id="panes"):
            for number, (pane, title) in enumerate(self.PANES, start=1):
                with TabPane(f"{number} {title}", id=f"tab-{pane}"):
                    yield panes[pane]
        yield Footer(compact=True, show_command_palette=False)  # ? lists ctrl+p

    def on_mount(self) -> None:
        # Background threads (plot builds, file reads, profiling) hold the GIL for up to
        # the switch interval before the event loop gets it back; 1 ms instead of 5 ms
        # keeps timers and key presses on time while they work.
        sys.setswitchinterval(0.001)
        if self.save_on_hangup:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._hung_up)
        self.call_after_refresh(
            self.run_worker, self.query_one(DataSlot).load(), name="load data pane"
        )
        self.follower.start()
        self.workers_client.start()
        consume(self, self.bus, (NOTICE_TOPIC,), self.show_notice)
        self.watch(self.screen, "focused", self._focus_moved, init=False)
        self._theme_chosen_here = True
        for problem in self.problems:
            self.notify(str(problem), title="Theme", severity="error", timeout=12)

    def _hung_up(self) -> None:
        """The terminal closed: save the notes, then go as SIGHUP would have made us.

        Workers live in their own sessions and go on training; a console started again
        re-attaches. Nothing is drawn any more (the terminal is gone), so no clean exit.
        """
        self._save_all_notes(come_what_may=True)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        signal.raise_signal(signal.SIGHUP)

    async def on_unmount(self) -> None:
        await self.workers_client.stop()
        await self.follower.stop()

    def show_notice(self, message: Message) -> None:
        notice = message.payload
        self.notify(
            notice.message,
            severity=notice.severity,
            timeout=10 if notice.severity == "error" else 5,
        )

    def watch_theme(self, name: str) -> None:
        if self._theme_chosen_here:  # a choice made in the running console is remembered
            self._remember_theme(name)

    # -- actions (keys and command palette) ----------------------------------------------
    def action_show_pane(self, pane: str) -> None:
        tabs = self.query_one("#panes", TabbedContent)
        if tabs.active == f"tab-{pane}":
            self._focus_pane(pane)
        tabs.active = f"tab-{pane}"  # focus follows in pane_shown

    @on(TabbedContent.TabActivated, "#panes")
    def pane_shown(self, event: TabbedContent.TabActivated) -> None:
        self.call_after_refresh(self._focus_pane, (event.pane.id or "").removeprefix("tab-"))

    def _focus_pane(self, pane: str) -> None:
        """Put the keyboard in the pane just shown, so its keys work at once."""
        target = self.query_one(f"#tab-{pane}", TabPane)
        first = next((w for w in target.query("*") if w.focusable), None)
        if first is not None:
            first.focus()
        if pane == "data":
            self._open_wanted_data_row()

    @on(DataRowRequested)
    def show_data_row(self, event: DataRowRequested) -> None:
        """A bad case or a prediction asked for its row: the Data browser, at that row
        (once the pane is shown and has taken the keyboard: see _focus_pane)."""
        self._data_row_wanted = event.row
        self.action_show_pane("data")

    def _open_wanted_data_row(self) -> None:
        row, self._data_row_wanted = self._data_row_wanted, None
        if row is None:
            return
        panes = self.query("#data")
        if panes:  # DataPane, loaded lazily (DATA_PANE_MODULE): not imported here
            show_row = getattr(panes.first(), "show_row", None)
            if show_row is not None:
                show_row(row)
        else:
            self.notify("the Data pane is still loading", severity="warning")

    def _focus_moved(self, focused: Widget | None) -> None:
        if focused is None:
            self.call_after_refresh(self._refocus_if_lost)

    def _refocus_if_lost(self) -> None:
        """The focused widget went away (a sub-view switched hid it, or it was removed):
        the keyboard goes back to the pane on show, so its keys keep working. Left alone,
        Textual focuses nothing, and only the App's own keys (q) answer."""
        if not self.screen_stack:  # closing
            return
        main = self.screen_stack[0]
        if self.screen is not main or main.focused is not None:
            return
        tabs = self.query("#panes")
        if tabs:
            self._focus_pane(tabs.first(TabbedContent).active.removeprefix("tab-"))

    def action_focus_tabs(self) -> None:
        self.query_one("#panes", TabbedContent).query_one("ContentTabs").focus()

    def action_help(self) -> None:
        """``?``: the keys of where the keyboard is (pane, sub-view or dialog) and the
        global ones, read from the live bindings."""
        from tuirecipe.ui.screens.help import HelpScreen, help_sections

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(help_sections(self.screen)))

    def action_set_theme(self, name: str) -> None:
        self.theme = name

    def action_start_run(self) -> None:
        self.action_show_pane("train")
        self.query_one(TrainPane).action_start_run()

    def action_control_run(self, action: str) -> None:
        train = self.query_one(TrainPane)
        if train.run is None:
            self.notify(f"no run to {action}", severity="warning")
            return
        if action == "stop":  # asked first, as the x key does
            train.action_stop_run()
            return
        self.bus.publish("command", Command(action, run_id=train.run.id))

    def action_sweep(self) -> None:
        """Ask for ``section.key=v1,v2,…`` and start one child run per value."""
        from tuirecipe.errors import UserError
        from tuirecipe.ui.sweep import sweep_options

        def started(answer: str | None) -> None:
            if not answer:
                return
            try:
                key, values, options = sweep_options(self.config, answer)
            except UserError as exc:
                self.notify(str(exc), title="Sweep", severity="error")
                return
            self.run_worker(self._start_sweep(key, values, options), group="sweep")

        self.push_screen(
            TextPrompt(
                "Sweep one config key",
                placeholder="train.lr=1e-4,3e-4,1e-3   [-j 2]",
                explain="One child run per value, each changing only that key against this "
                "config (change one thing at a time). -j N: N children train at once.",
            ),
            started,
        )

    async def _start_sweep(self, key: str, values: list, options: list[str]) -> None:
        label = f"sweep {key} = {', '.join(map(str, values))}"
        try:
            await self.workers_client.start_tune(self.config, "sweep", options, label)
        except Exception as exc:  # e.g. the runs directory is not writable
            self.notify(f"sweep not started: {exc}", title="Sweep", severity="error")
            return
        self.notify(
            f"{len(values)} runs of {key} = {', '.join(map(str, values))} "
            f"starting; they appear in Runs (5): mark them with space, c to "
            f"compare",
            title="Sweep",
        )
        self.set_timer(3.0, self.action_refresh_runs)

    def action_refresh_runs(self) -> None:
        self.query_one(RunsPane).refresh_runs()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast is plain text, whoever asks (widgets pass ``markup=True``): the
        messages quote exceptions, paths, run ids and typed values, and a ``[/]`` in one
        is data, not a tag (as markup it was misdrawn or refused)."""
        from tuirecipe.printable import printable  # an ESC in a message is shown, not sent

        super().notify(
            printable(message), title=title, severity=severity, timeout=timeout, markup=False
        )

    def action_save_notes(self) -> None:
        if self.query_one(NotesPane).save():
            self.notify("notes saved")

    @on(TrainPane.RunChanged)
    def show_followed_run(self, event: TrainPane.RunChanged) -> None:
        # The header this App made (a modal screen on top hides it from queries).
        self.header.run_id, self.header.state = event.run_id, event.state

    @on(NotesPane.RunNotesWanted)
    def show_run_notes(self) -> None:
        """The Notes pane shows the followed run's notes (saved first), or else those of
        the run highlighted in the Runs pane."""
        train = self.query_one(TrainPane)
        run: RunDir | None
        if train.run is not None:
            train.save_notes()
            run = train.run
        else:
            run = self.query_one(RunsPane).highlighted_run()
        self.query_one(NotesPane).show_run_notes(run)

    @on(RunsPane.RunChosen)
    def follow_chosen_run(self, event: RunsPane.RunChosen) -> None:
        from tuirecipe.runs.rundir import RunDir

        self.action_show_pane("train")
        self.query_one(TrainPane).follow(RunDir(event.path))

    @on(RunsPane.CompareChosen)
    def compare_runs(self, event: RunsPane.CompareChosen) -> None:
        from tuirecipe.ui.screens.compare import CompareScreen

        self.push_screen(CompareScreen(event.paths))

    @on(RunsPane.OverlayChosen)
    def overlay_run(self, event: RunsPane.OverlayChosen) -> None:
        from tuirecipe.runs.rundir import RunDir

        self.query_one(TrainPane).add_overlay(RunDir(event.path))

    def _save_all_notes(self, come_what_may: bool = False) -> None:
        """The project log and the followed run's notes. ``come_what_may``: an error in
        one does not stop the other or escape (the console is going, come what may)."""
        for save in (
            lambda: self.query_one(NotesPane).save(),
            lambda: self.query_one(TrainPane).save_notes(),
        ):
            try:
                save()
            except Exception:
                if not come_what_may:
                    raise

    # Printable keys type into a text box (the notes editors, the search box): while one
    # has the keyboard, the App's letter and digit keys are not offered; Esc leaves it.
    TYPED_ACTIONS = frozenset({"show_pane", "quit", "help"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in self.TYPED_ACTIONS or len(self.screen_stack) != 1:
            return True  # a dialog's box (or the palette's) is its own affair
        return not typing_into(self.screen)

    async def action_quit_anywhere(self) -> None:
        """ctrl+q: quits from anywhere, a text box included."""
        await self.action_quit()

    async def action_quit(self) -> None:
        self._save_all_notes()
        running = self.workers_client.running_here()
        sweeps = self.workers_client.tune_running_here()
        if not running and not sweeps:
            self.exit(0)
            return

        def decide(choice: str | None) -> None:
            if choice == "cancel" or choice is None:
                return
            if choice == "stop":
                self._stop_then_exit(running, sweeps)
            else:
                self.exit(0)

        names = [run.id for run in running] + [job.label for job in sweeps]
        self.push_screen(QuitScreen(names), decide)

    def _stop_then_exit(self, runs: list, sweeps: list) -> None:
        # Signalled at once, not by bus command: the bus's loop ends with the app. A worker
        # still starting cannot take the signal yet; the console waits for it first.
        starting = self.workers_client.stop_now(runs, sweeps)
        if not starting:
            self.exit(0)
            return
        self.notify("stopping runs that are still starting…")

        async def stop_then_exit() -> None:
            await self.workers_client.stop_when_started(starting)
            self.exit(0)

        self.run_worker(stop_then_exit(), group="quit")


def make_app(
    config: Config, theme: str | None = None, settings_dir: Path | None = None
) -> TuiRecipeApp:
    return TuiRecipeApp(config, theme=theme, settings_dir=settings_dir)


def run_app(config: Config, theme: str | None = None) -> int:
    app = make_app(config, theme=theme)
    app.save_on_hangup = True
    result = app.run()
    return result if isinstance(result, int) else 0
