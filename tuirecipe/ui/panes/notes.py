"""Notes: the project log (Notes pane) and one run's ``notes.md`` (beside its curves).

The Notes pane edits ``<runs_dir>/notes.md``, written atomically about a second after the
last keystroke (and, while typing goes on without a pause, at most
``MAX_UNSAVED_SECONDS`` after the first unsaved one), on ctrl+s, and when the console
exits; it is created on the first save.
ctrl+o switches it to a read-only view of the followed run's notes (edited in the Train
pane, so one file never has two editors).

:class:`RunNotes` is the Train pane's editor of the followed run's ``notes.md``: saved
atomically within ``RUN_SAVE_DELAY_SECONDS`` of the last keystroke (and at most
``MAX_UNSAVED_SECONDS`` after the first unsaved one), when another run is
followed, and on exit. ctrl+t inserts a line with the current step, metrics and the
run's config change against its parent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message as TextualMessage
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Label, TextArea

from tuirecipe.config import Config
from tuirecipe.runs.rundir import RunDir, atomic_write_text

SAVE_DELAY_SECONDS = 1.0
RUN_SAVE_DELAY_SECONDS = 1.5
# Typing without a pause still saves: no change stays unsaved longer than this (a killed
# console loses at most the last MAX_UNSAVED_SECONDS of typing).
MAX_UNSAVED_SECONDS = 1.8
# Shorter waits are not left to a timer: a Textual timer whose delay is 0 divides by it
# when it starts late and never fires, so an overdue save is done at once instead.
MIN_TIMER_SECONDS = 0.01


class SaveSchedule:
    """When an editor's text is written: ``delay`` after the last change, and never later
    than ``MAX_UNSAVED_SECONDS`` after the first unsaved one (typing without a pause).

    The owner calls :meth:`changed` on every change and :meth:`saved` after writing."""

    clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(self, owner: Widget, delay: float, save: Callable[[], object]) -> None:
        self.owner = owner
        self.delay = delay
        self.save = save
        self.dirty_since: float | None = None
        self._timer: Timer | None = None

    def changed(self) -> None:
        self.cancel()
        now = self.clock()
        if self.dirty_since is None:
            self.dirty_since = now
        due = min(self.delay, self.dirty_since + MAX_UNSAVED_SECONDS - now)
        if due < MIN_TIMER_SECONDS:  # overdue (the console was busy): now
            self.save()
        else:
            self._timer = self.owner.set_timer(due, self.save)

    def saved(self) -> None:
        self.dirty_since = None

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None


class NotesPane(Widget):
    BINDINGS = [
        Binding("escape", "leave_editor", "Leave editor"),
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+o", "switch_notes", "Log / run notes"),
    ]

    def __init__(self, config: Config, **kwargs) -> None:
        super().__init__(**kwargs)
        self.path: Path = config.runs_path / "notes.md"
        try:
            self._saved = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._saved = ""
        except (OSError, UnicodeDecodeError) as exc:
            self._saved = ""
            self._load_error = f"could not read {self.path}: {exc}"
        self._schedule = SaveSchedule(self, SAVE_DELAY_SECONDS, self.save)

    def compose(self) -> ComposeResult:
        yield Label(self._status_text(), id="notes-status")
        yield TextArea(self._saved, id="notes-editor", soft_wrap=True, tab_behavior="focus")
        yield TextArea("", id="notes-run", soft_wrap=True, read_only=True, tab_behavior="focus")

    @property
    def showing_run(self) -> bool:
        return self.has_class("-run")

    def action_switch_notes(self) -> None:
        """Project log ↔ the followed (or highlighted) run's notes, read-only here."""
        if self.showing_run:
            self.remove_class("-run")
            self.query_one("#notes-status", Label).update(self._status_text())
            self.editor.focus()
            return
        run = self._selected_run()
        if run is None:
            self.notify(
                "no run followed or highlighted: pick one in the Runs pane", severity="warning"
            )
            return
        view = self.query_one("#notes-run", TextArea)
        view.load_text(run.read_notes() or "(no notes yet)")
        self.add_class("-run")
        self.query_one("#notes-status", Label).update(
            f"Run {run.id} notes · read-only here, edit them in the Train pane (3) · "
            "ctrl+o: project log"
        )
        view.focus()

    def _selected_run(self) -> RunDir | None:
        from tuirecipe.ui.panes.runs import RunsPane
        from tuirecipe.ui.panes.train import TrainPane

        train = self.app.query_one(TrainPane)
        if train.run is not None:
            train.save_notes()
            return train.run
        return self.app.query_one(RunsPane).highlighted_run()

    def on_mount(self) -> None:
        error = getattr(self, "_load_error", None)
        if error:
            self.notify(error, severity="error")

    @property
    def editor(self) -> TextArea:
        return self.query_one("#notes-editor", TextArea)

    @property
    def dirty(self) -> bool:
        return self.editor.text != self._saved

    def _status_text(self, note: str = "") -> str:
        where = str(self.path) if self.path.exists() else f"{self.path} (created on first save)"
        return f"Project log · {where} · ctrl+o: run notes" + (f" · {note}" if note else "")

    @on(TextArea.Changed, "#notes-editor")
    def schedule_save(self) -> None:
        if self.dirty:
            self.query_one("#notes-status", Label).update(self._status_text("unsaved"))
            self._schedule.changed()
        else:
            self._schedule.cancel()

    def save(self) -> bool:
        """Write the notes if they changed; report a failure instead of losing the text."""
        if not self.is_mounted or not self.dirty:
            return True
        text = self.editor.text
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, text)
        except OSError as exc:
            self.notify(f"notes not saved: {exc}", severity="error")
            return False
        self._saved = text
        self._schedule.saved()
        self.query_one("#notes-status", Label).update(
            self._status_text(f"saved {time.strftime('%H:%M:%S')}")
        )
        return True

    def action_save(self) -> None:
        self.save()

    def action_leave_editor(self) -> None:
        self.app.action_focus_tabs()

    def on_unmount(self) -> None:
        self._schedule.cancel()


class RunNotes(Widget):
    """The followed run's ``notes.md`` in an editor, saved as you type."""

    BINDINGS = [
        Binding("ctrl+t", "stamp", "Stamp step"),
        Binding("ctrl+s", "save", "Save", show=False),
        Binding("escape", "leave", "Leave notes", show=False),
    ]

    def __init__(self, stamp: Callable[[], str] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run: RunDir | None = None
        self.stamp = stamp  # the line ctrl+t inserts
        self._saved = ""
        self._schedule = SaveSchedule(self, RUN_SAVE_DELAY_SECONDS, self.save)

    def compose(self) -> ComposeResult:
        yield Label("Run notes · no run followed", id="run-notes-status")
        yield TextArea(
            "", id="run-notes-editor", soft_wrap=True, tab_behavior="focus", read_only=True
        )

    @property
    def editor(self) -> TextArea:
        return self.query_one("#run-notes-editor", TextArea)

    @property
    def dirty(self) -> bool:
        return self.run is not None and self.editor.text != self._saved

    def set_run(self, run: RunDir | None) -> None:
        """Edit ``run``'s notes (saving the previous run's first)."""
        self.save()
        self.run = run
        self._schedule.saved()
        self._saved = run.read_notes() if run is not None else ""
        self.editor.load_text(self._saved)
        self.editor.read_only = run is None
        self._status()

    def _status(self, note: str = "") -> None:
        where = f"Run notes · {self.run.id}/notes.md" if self.run else "Run notes · no run"
        self.query_one("#run-notes-status", Label).update(
            where + (f" · {note}" if note else "") + " · ctrl+t: stamp"
        )

    @on(TextArea.Changed, "#run-notes-editor")
    def schedule_save(self) -> None:
        if self.dirty:
            self._status("unsaved")
            self._schedule.changed()
        else:
            self._schedule.cancel()

    def save(self) -> bool:
        if not self.is_mounted or not self.dirty or self.run is None:
            return True
        text = self.editor.text
        try:
            atomic_write_text(self.run.notes_path, text)
        except OSError as exc:
            self.notify(f"run notes not saved: {exc}", severity="error")
            return False
        self._saved = text
        self._schedule.saved()
        self._status(f"saved {time.strftime('%H:%M:%S')}")
        return True

    def action_save(self) -> None:
        self.save()

    def action_stamp(self) -> None:
        if self.run is None:
            self.notify("no run followed: its notes cannot be written", severity="warning")
            return
        line = self.stamp() if self.stamp else ""
        editor = self.editor
        row, col = editor.cursor_location
        prefix = "\n" if col else ""
        editor.insert(f"{prefix}{line}\n")
        editor.focus()

    def action_leave(self) -> None:
        if self.parent is not None:
            self.screen.set_focus(None)
            self.post_message(self.Left())

    class Left(TextualMessage):
        """The user left the notes editor (escape)."""

    def on_unmount(self) -> None:
        self._schedule.cancel()
