"""The followed run's ``notes.md`` in an editor beside its curves (Train pane).

Saved atomically within ``RUN_SAVE_DELAY_SECONDS`` of the last keystroke (and at most
``MAX_UNSAVED_SECONDS`` after the first unsaved one), when another run is followed, and
on exit. A run's notes are read in a thread; the editor takes keys once they are in.
ctrl+t inserts the line the owner's ``stamp`` gives (step, metrics, the change against
the parent run).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label, TextArea

from tuirecipe.runs.rundir import RunDir, atomic_write_text
from tuirecipe.ui.literal import editable, literal
from tuirecipe.ui.save_schedule import RUN_SAVE_DELAY_SECONDS, SaveSchedule


class RunNotes(Widget):
    """The followed run's ``notes.md`` in an editor, saved as you type."""

    BINDINGS = [
        Binding("ctrl+t", "stamp", "Stamp step"),
        Binding("ctrl+s", "save", "Save", show=False),
        Binding("escape", "leave", "Leave notes"),
    ]

    class Left(Message):
        """The user left the notes editor (escape)."""

    def __init__(self, stamp: Callable[[], str] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run: RunDir | None = None
        self.stamp = stamp  # the line ctrl+t inserts
        self.loaded = False  # the run's notes are in the editor
        self._saved = ""
        self._schedule = SaveSchedule(self, RUN_SAVE_DELAY_SECONDS, self.save)

    def compose(self) -> ComposeResult:
        yield Label("Run notes · no run followed", id="run-notes-status", markup=False)
        yield TextArea(
            "", id="run-notes-editor", soft_wrap=True, tab_behavior="focus", read_only=True
        )

    @property
    def editor(self) -> TextArea:
        return self.query_one("#run-notes-editor", TextArea)

    @property
    def dirty(self) -> bool:
        return self.run is not None and self.loaded and self.editor.text != self._saved

    def set_run(self, run: RunDir | None) -> None:
        """Edit ``run``'s notes (saving the previous run's first)."""
        self.save()
        self.run = run
        self.loaded = False
        self._schedule.saved()
        self._saved = ""
        self.editor.read_only = True
        self.editor.load_text("")
        self._status()
        if run is not None:
            self._load(run)

    @work(exclusive=True, group="run-notes-load")
    async def _load(self, run: RunDir) -> None:
        try:
            text = await asyncio.to_thread(run.read_notes)
        except (OSError, UnicodeDecodeError) as exc:  # left read-only: not overwritten
            self.notify(f"could not read {run.notes_path}: {exc}", severity="error")
            return
        if run is not self.run:
            return
        text = editable(text)  # an ESC in the file is shown, not sent to the terminal
        self.editor.load_text(text)
        self._saved = self.editor.text  # as the editor splits lines: unchanged until edited
        self.editor.read_only = False
        self.loaded = True

    def _status(self, note: str = "") -> None:
        where = f"Run notes · {self.run.id}/notes.md" if self.run else "Run notes · no run"
        self.query_one("#run-notes-status", Label).update(
            literal(where + (f" · {note}" if note else "") + " · ctrl+t: stamp")
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
        if not self.loaded:
            self.notify("the run's notes are not read yet", severity="warning")
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

    def on_unmount(self) -> None:
        self._schedule.cancel()
