"""Checks pane: the recipe's sanity checks, grouped by stage, run in worker processes.

Each check shows its status at a glance (✓ pass, ! warn, ✗ fail, E error, ↻ stale: made
for another config, ⊘ stopped before its verdict, a spinner and percentage while it runs,
· not run), its one-line summary (for a stale one, why) and how long it took. ``r`` or
Enter runs the highlighted check and ``a`` runs every automatic one, each as a ``check``
job in its own worker, started by the console's job client (``WorkerClient.start_job``),
whose run directory the :class:`~tuirecipe.ui.bus.RunFollower` tails; ``x`` stops it. The side panel
(or ``d``, a full screen) shows the highlighted check's details.

Manual checks (and the input view) are ticked with a note (space, ``n``); the human
baseline (``h``) is a screen of its own. Ticks and the human baseline live in
``checklist.json`` (:class:`~tuirecipe.checks.store.ChecklistStore`, which records what
each was made for); results are the ``check_result`` events of the ``check`` runs, so the
checklist survives restarts.

A verdict belongs to what it checked: results, ticks and the human baseline are judged
against the pane's config (:func:`~tuirecipe.checks.store.checklist_view`, off the event
loop; live results with ``judge_result``). One made for other data, another model or
other settings is drawn stale, with the reason, and never counted as today's verdict.
:meth:`ChecksPane.set_config` judges them again for another config. No torch here: the
check classes are listed from the registry, which imports none.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from tuirecipe.checks.base import STAGES, Check, all_checks
from tuirecipe.checks.fingerprint import CurrentInputs
from tuirecipe.checks.store import (
    ChecklistStore,
    ChecklistView,
    ResultView,
    checklist_view,
    judge_result,
    judge_tick,
)
from tuirecipe.config import Config
from tuirecipe.runs.rundir import TERMINAL_STATES, RunDir
from tuirecipe.ui.bus import Command, Message
from tuirecipe.ui.panes import consume
from tuirecipe.ui.screens.check_detail import CheckDetailScreen
from tuirecipe.ui.services import Services
from tuirecipe.ui.widgets.check_detail import CheckDetail, CheckView, escape
from tuirecipe.ui.widgets.check_lines import ChecklistState, check_prompt, checklist_summary

TICKABLE_AUTO = ("input_view",)  # automatic checks a person also confirms by looking
NARROW_WIDTH = 100  # below this the side panel hides; `d` shows details full screen
TOPICS = ("check_started", "check_progress", "check_result", "status", "error")


def judge_human(inputs: CurrentInputs, saved: dict[str, Any]) -> ResultView:
    """A saved human baseline judged against ``inputs``."""
    verdict = inputs.judge(
        "human_baseline", saved, verb="labelled", redo="label the examples again"
    )
    return ResultView(
        name="human_baseline",
        kind="human_baseline",
        status="done",
        summary="",
        current=verdict.current,
        stale_reason=verdict.reason,
        ran_on=str(saved.get("ran_on", "")),
        time=float(saved.get("time", 0.0) or 0.0),
        record=dict(saved),
    )


def newer_result(old: ResultView | None, new: ResultView) -> ResultView:
    """What a check shows when ``new`` arrives after ``old`` (as ``checklist_view`` picks
    among stored results): a current verdict, else a current result (a stopped check),
    else the newer one, stale. A stopped rerun never hides the verdict before it."""
    if old is None or new.counts_as is not None:
        return new
    if old.counts_as is not None:
        return old
    if new.current or not old.current:
        return new
    return old


class ChecksPane(Widget):
    """The checklist: automatic checks run in workers, manual ones ticked, human baseline."""

    BINDINGS = [
        Binding("r", "run_selected", "Run"),
        Binding("a", "run_all", "Run all"),
        Binding("x", "stop", "Stop"),
        Binding("space", "toggle_tick", "Tick"),
        Binding("n", "edit_note", "Note"),
        Binding("h", "human_baseline", "Human"),
        Binding("d", "show_detail", "Details"),
    ]

    def __init__(self, config: Config, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.services = services
        # Given the config, the store records what each tick was made for.
        self.store = ChecklistStore(config.runs_path, config=config)
        self.inputs: CurrentInputs | None = None  # the config's, once loaded
        self.checks: dict[str, type[Check]] = {c.name: c for c in all_checks()}
        self.results: dict[str, ResultView] = {}
        self.live: dict[str, dict[str, Any]] = {}  # name -> {"state", "fraction", "run_id"}
        self.runs: dict[str, tuple[RunDir, list[str]]] = {}  # run id -> run, check names
        self.ticks: dict[str, ResultView] = {}
        self.human: ResultView | None = None
        # What changed here while the checklist was being read: newer than what was read.
        self._arrived: dict[str, dict[str, Any]] = {}  # live results (records)
        self._ticked_here: dict[str, dict[str, Any] | None] = {}  # tick entry, None: unticked
        self._human_here: list[dict[str, Any]] = []  # a human baseline saved
        self.loaded = False
        self._frame = 0
        self._line_width = 60

    # -- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Label("", id="checks-summary")
        with Horizontal(id="checks-body"):
            options: list[Option] = []
            for stage, title in STAGES.items():
                members = [c for c in self.checks.values() if c.stage == stage]
                if not members:
                    continue
                options.append(
                    Option(f"[b $primary]{escape(title)}[/]", id=f"stage:{stage}", disabled=True)
                )
                options += [Option(self._prompt(c), id=c.name) for c in members]
            yield OptionList(*options, id="checks-list")
            yield CheckDetail(id="check-detail")

    def on_mount(self) -> None:
        self.load_saved()
        consume(self, self.services.bus, TOPICS, self.on_bus_message)
        self.set_interval(0.2, self._spin)
        options = self.query_one("#checks-list", OptionList)
        first = next(
            (i for i in range(options.option_count) if not options.get_option_at_index(i).disabled),
            None,
        )
        options.highlighted = first
        self._update_summary()

    def on_resize(self) -> None:
        narrow = self.size.width < NARROW_WIDTH
        self.set_class(narrow, "-narrow")
        # The list has the whole width when narrow, half of it beside the details.
        self._fit_lines(self.size.width if narrow else self.size.width // 2)

    def _fit_lines(self, width: int) -> None:
        """Summaries are clipped to one line of the list (the details have them whole)."""
        width -= 3  # the list's scrollbar and the highlight's margin
        if width > 10 and width != self._line_width:
            self._line_width = width
            for name in self.checks:
                self._refresh_check(name)

    @work(exclusive=True, group="checks-load")
    async def load_saved(self) -> None:
        """Every check's result, the ticks and the human baseline as they stand for the
        config (read, hashed and judged in a thread)."""
        config = self.config
        self._arrived.clear()
        self._ticked_here.clear()
        self._human_here.clear()
        try:
            inputs = await asyncio.to_thread(CurrentInputs, config)
            view = await asyncio.to_thread(checklist_view, config, inputs=inputs)
        except Exception as exc:  # an unreadable file or ours: say so, keep the console
            if config is self.config:
                self.notify(f"checklist not readable: {exc}", severity="error", timeout=10)
                self.loaded = True
                self._refresh_all()
            return
        if config is not self.config:  # changed meanwhile: its own load follows
            return
        self._apply(inputs, view)

    def _apply(self, inputs: CurrentInputs, view: ChecklistView) -> None:
        self.inputs = inputs
        results = dict(view.results)
        for name, record in self._arrived.items():
            live = judge_result(inputs, record)
            read = results.get(name)
            if read is None or live.time > read.time:  # arrived after the file was read
                results[name] = newer_result(read, live)
        ticks = dict(view.ticks)
        for name, entry in self._ticked_here.items():
            ticks.pop(name, None)
            if entry is not None:
                ticks[name] = judge_tick(inputs, name, entry)
        human = view.human_baseline
        if self._human_here:
            human = judge_human(inputs, self._human_here[-1])
        self.results, self.ticks, self.human = results, ticks, human
        self.loaded = True
        self._refresh_all()

    def set_config(self, config: Config) -> None:
        """Show the checklist as it stands for ``config``: every result, tick and the
        human baseline judged again (read in a thread); until then none is shown."""
        self.config = config
        self.store = ChecklistStore(config.runs_path, config=config)
        self.inputs = None
        self.results, self.ticks, self.human = {}, {}, None
        self.loaded = False
        self._refresh_all()
        self.load_saved()

    def _inputs(self) -> CurrentInputs:
        """The config's inputs; computed here only when something is ticked before the
        first load is done (the data's hash is cached by then, or small)."""
        if self.inputs is None:
            self.inputs = CurrentInputs(self.config)
        return self.inputs

    # -- drawing -------------------------------------------------------------------------
    @property
    def state(self) -> ChecklistState:
        """What the list lines are drawn from (the pane's own dicts, not copies)."""
        return ChecklistState(
            results=self.results,
            live=self.live,
            ticks=self.ticks,
            human=self.human,
            human_examples=self.config.checks.human_baseline_examples,
            frame=self._frame,
        )

    def _prompt(self, check: type[Check]) -> str:
        return check_prompt(check, self.state, self._line_width)

    def _refresh_check(self, name: str) -> None:
        check = self.checks.get(name)
        if check is None:
            return
        self.query_one("#checks-list", OptionList).replace_option_prompt(name, self._prompt(check))
        if self.highlighted_name() == name:
            self._show_detail(name)

    def _refresh_all(self) -> None:
        for name in self.checks:
            self._refresh_check(name)
        self._update_summary()
        highlighted = self.highlighted_name()
        if highlighted is not None:
            self._show_detail(highlighted)

    def _spin(self) -> None:
        running = [n for n, live in self.live.items() if live["state"] == "running"]
        if not running:
            return
        self._frame += 1
        for name in running:
            self.query_one("#checks-list", OptionList).replace_option_prompt(
                name, self._prompt(self.checks[name])
            )

    def _update_summary(self) -> None:
        summary = checklist_summary(
            list(self.checks.values()), self.state, list(self.runs), loaded=self.loaded
        )
        self.query_one("#checks-summary", Label).update(summary)

    # -- the highlighted check and its details -------------------------------------------
    def highlighted_name(self) -> str | None:
        option = self.query_one("#checks-list", OptionList).highlighted_option
        if option is None or option.id is None or option.id not in self.checks:
            return None
        return option.id

    def view_of(self, name: str) -> CheckView:
        check = self.checks[name]
        hint = ""
        if check.kind == "auto":
            hint = "r or enter runs it, a runs them all"
        elif check.kind == "manual":
            hint = "space ticks it, n adds a note"
        elif check.kind == "interactive":
            hint = "h opens the labelling screen"
        return CheckView(
            name=name,
            title=check.title,
            stage=STAGES[check.stage],
            kind=check.kind,
            description=check.description,
            result=self.results.get(name) if check.kind == "auto" else None,
            live=dict(self.live[name]) if name in self.live else None,
            tick=self.ticks.get(name),
            human=self.human if check.kind == "interactive" else None,
            hint=hint,
        )

    def _show_detail(self, name: str) -> None:
        self.query_one("#check-detail", CheckDetail).show(self.view_of(name))

    @on(OptionList.OptionHighlighted, "#checks-list")
    def highlight_changed(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id in self.checks:
            self._show_detail(event.option.id)

    @on(OptionList.OptionSelected, "#checks-list")
    def run_or_open_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter: run an automatic check, tick a manual one, open the human baseline."""
        event.stop()
        check = self.checks.get(event.option.id or "")
        if check is None:
            return
        if check.kind == "auto":
            self.run_checks([check.name])
        elif check.kind == "manual":
            self.action_toggle_tick()
        else:
            self.action_human_baseline()

    def action_show_detail(self) -> None:
        name = self.highlighted_name()
        if name is not None:
            self.app.push_screen(CheckDetailScreen(self.view_of(name)))

    # -- running checks ------------------------------------------------------------------
    def action_run_selected(self) -> None:
        name = self.highlighted_name()
        if name is None:
            return
        if self.checks[name].kind != "auto":
            self.notify(
                f"'{self.checks[name].title}' is done by you, not run: "
                + ("press h" if self.checks[name].kind == "interactive" else "space ticks it"),
                severity="warning",
            )
            return
        self.run_checks([name])

    def action_run_all(self) -> None:
        self.run_checks([c.name for c in self.checks.values() if c.kind == "auto"])

    def run_checks(self, names: list[str]) -> None:
        """Start a worker for the checks in ``names`` not already queued or running."""
        busy = [n for n in names if n in self.live]
        names = [n for n in names if n not in self.live]
        if not names:
            self.notify("already running: " + ", ".join(busy), severity="warning")
            return
        for name in names:
            self.live[name] = {"state": "queued", "fraction": None, "run_id": None}
            self._refresh_check(name)
        self._start(names)

    @work(group="checks-start")
    async def _start(self, names: list[str]) -> None:
        try:
            # The worker client starts, follows and reaps it, and quit asks about it; the
            # Train pane follows only what is announced on run_started, so it is not.
            run = await self.services.jobs.start_job(self.config, "check", args={"only": names})
        except Exception as exc:  # a user error or ours: say so, keep the console
            for name in names:
                self.live.pop(name, None)
                self._refresh_check(name)
            self.notify(f"checks not started: {exc}", severity="error", timeout=10)
            return
        self.runs[run.id] = (run, names)
        for name in names:
            if name in self.live:
                self.live[name]["run_id"] = run.id
        self._update_summary()

    def action_stop(self) -> None:
        if not self.runs:
            self.notify("no checks running", severity="warning")
            return
        name = self.highlighted_name()
        run_id = self.live.get(name or "", {}).get("run_id") or next(reversed(self.runs))
        self.services.bus.publish("command", Command("stop", run_id=run_id))
        self.notify(f"stopping checks run {run_id}")

    def on_bus_message(self, message: Message) -> None:
        if message.run_id not in self.runs:
            return
        event = message.payload
        if message.topic == "check_started":
            self.live[event.name] = {
                "state": "running",
                "fraction": None,
                "run_id": message.run_id,
                "message": "",
            }
            self._refresh_check(event.name)
        elif message.topic == "check_progress":
            live = self.live.get(event.name)
            if live is not None:
                live.update(state="running", fraction=event.fraction, message=event.message)
                self._refresh_check(event.name)
        elif message.topic == "check_result":
            body = event.to_dict()
            body.pop("type", None)
            body["time"] = float(body.pop("t", 0.0) or 0.0)
            body["run_id"] = message.run_id
            self._arrived[event.name] = body  # a load going on judges it too
            if self.inputs is not None:
                judged = judge_result(self.inputs, body, run_id=message.run_id)
                self.results[event.name] = newer_result(self.results.get(event.name), judged)
            self.live.pop(event.name, None)
            self._refresh_check(event.name)
            self._update_summary()
        elif message.topic == "error":
            self.notify(
                f"checks run {message.run_id}: {event.message}", severity="error", timeout=12
            )
        elif message.topic == "status" and event.state in TERMINAL_STATES:
            self._run_ended(message.run_id, event.state, event.message)

    def _run_ended(self, run_id: str, state: str, message: str) -> None:
        run, names = self.runs.pop(run_id)
        left = [n for n in names if self.live.get(n, {}).get("run_id") == run_id]
        for name in left:
            self.live.pop(name, None)
            self._refresh_check(name)
        self._update_summary()
        if state == "stopped":
            self.notify(
                f"checks run {run_id} stopped" + (f"; {len(left)} not run" if left else ""),
                severity="warning",
            )
        elif state == "failed" and not left:
            self.notify(f"checks run {run_id} failed: {message}", severity="error")
        elif state == "failed":
            self.notify(
                f"checks run {run_id} failed: {message or 'see its log'}",
                severity="error",
                timeout=12,
            )

    # -- ticks, notes, the human baseline ------------------------------------------------
    def _tickable(self, name: str | None) -> bool:
        if name is None:
            return False
        return self.checks[name].kind == "manual" or name in TICKABLE_AUTO

    def action_toggle_tick(self) -> None:
        name = self.highlighted_name()
        if name is None:
            return
        if not self._tickable(name):
            self.notify(
                "only manual checks and the input view are ticked by hand", severity="warning"
            )
            return
        # Written at once, here: a tick is the person's work and must not wait on a thread.
        # A stale tick is ticked again for this config (its note kept), a current one
        # unticked.
        tick = self.ticks.get(name)
        try:
            if tick is not None and tick.current:
                self.store.untick(name)
                del self.ticks[name]
                self._ticked_here[name] = None
            else:
                self._save_tick(name, tick.summary if tick is not None else "")
        except OSError as exc:
            self.notify(f"checklist not saved: {exc}", severity="error")
        self._refresh_check(name)
        self._update_summary()

    def _save_tick(self, name: str, note: str) -> None:
        entry = self.store.tick(name, note)
        self.ticks[name] = judge_tick(self._inputs(), name, entry)
        self._ticked_here[name] = entry

    def action_edit_note(self) -> None:
        from tuirecipe.ui.modals import TextPrompt

        name = self.highlighted_name()
        if name is None:
            return
        if not self._tickable(name):
            self.notify(
                "notes go with ticks: only manual checks and the input view take one",
                severity="warning",
            )
            return

        def save(note: str | None) -> None:
            if note is None:
                return
            try:
                self._save_tick(name, note)  # a note ticks it: you looked
            except OSError as exc:
                self.notify(f"checklist not saved: {exc}", severity="error")
            self._refresh_check(name)
            self._update_summary()

        self.app.push_screen(
            TextPrompt(
                self.checks[name].title,
                placeholder="what you saw, in one line",
                value=tick.summary if (tick := self.ticks.get(name)) is not None else "",
                explain="Saving a note ticks the check.",
            ),
            save,
        )

    def action_human_baseline(self) -> None:
        from tuirecipe.ui.screens.human_baseline import HumanBaselineScreen

        def done(result: dict[str, Any] | None) -> None:
            if result is not None:  # the screen saved it in the checklist, for this config
                self.human = judge_human(self._inputs(), result)
                self._human_here.append(result)
            self._refresh_check("human_baseline")
            self._update_summary()

        self.app.push_screen(HumanBaselineScreen(self.config), done)
