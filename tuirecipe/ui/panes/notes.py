"""Notes pane: the project log, or the followed run's notes read-only.

It edits ``<runs_dir>/notes.md``, written atomically about a second after the last
keystroke (and, while typing goes on without a pause, at most ``MAX_UNSAVED_SECONDS``
after the first unsaved one), on ctrl+s, and when the console exits; it is created on
the first save. The file is read in a thread when the pane is mounted; the editor takes
keys once it is in.

ctrl+o switches to a read-only view of the followed (or highlighted) run's notes, edited
in the Train pane (:class:`~tuirecipe.ui.widgets.run_notes.RunNotes`), so one file never
has two editors. Which run that is, the pane does not know: it posts
:class:`NotesPane.RunNotesWanted` and the App answers with :meth:`NotesPane.show_run_notes`.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label, TextArea

from tuirecipe.config import Config
from tuirecipe.printable import printable
from tuirecipe.runs.rundir import RunDir, atomic_write_text
from tuirecipe.ui.literal import editable, literal
from tuirecipe.ui.save_schedule import SAVE_DELAY_SECONDS, SaveSchedule


def read_log(path: Path) -> tuple[str, bool, str]:
    """The project log's text, whether the file exists, and a problem reading it."""
    try:
        # bytes decoded as they are: Windows line ends stay (read_text would turn them)
        return path.read_bytes().decode("utf-8"), True, ""
    except FileNotFoundError:
        return "", False, ""
    except (OSError, UnicodeDecodeError) as exc:
        return "", path.exists(), f"could not read {path}: {exc}"


class NotesPane(Widget):
    BINDINGS = [
        Binding("escape", "app.focus_tabs", "Leave editor"),
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+o", "switch_notes", "Log / run notes"),
    ]

    class RunNotesWanted(Message):
        """ctrl+o: the pane wants the followed (or highlighted) run's notes shown."""

    def __init__(self, config: Config, **kwargs) -> None:
        super().__init__(**kwargs)
        self.path: Path = config.runs_path / "notes.md"
        self._saved = ""
        self._exists = False
        self.loaded = False  # the log is in the editor (read in a thread on mount)
        self._schedule = SaveSchedule(self, SAVE_DELAY_SECONDS, self.save)

    def compose(self) -> ComposeResult:
        yield Label(self._status_text(), id="notes-status", markup=False)  # paths: plain
        yield TextArea("", id="notes-editor", soft_wrap=True, tab_behavior="focus", read_only=True)
        yield TextArea("", id="notes-run", soft_wrap=True, read_only=True, tab_behavior="focus")

    def on_mount(self) -> None:
        self._load_log()

    @work(group="notes-load")
    async def _load_log(self) -> None:
        text, exists, error = await asyncio.to_thread(read_log, self.path)
        text = editable(text)  # an ESC in the file is shown, not sent to the terminal
        self._exists = exists
        self.editor.load_text(text)
        # what the editor holds (its own line splitting) counts as saved: nothing is
        # rewritten until the user edits
        self._saved = self.editor.text
        if error:
            self.notify(error, severity="error")
        else:  # an unreadable log is not overwritten: it stays read-only
            self.editor.read_only = False
        self.loaded = True
        if not self.showing_run:
            self.query_one("#notes-status", Label).update(self._status_text())

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
        self.post_message(self.RunNotesWanted())

    @work(exclusive=True, group="notes-run")
    async def show_run_notes(self, run: RunDir | None) -> None:
        """Show ``run``'s notes read-only (its editor saved them first)."""
        if run is None:
            self.notify(
                "no run followed or highlighted: pick one in the Runs pane", severity="warning"
            )
            return
        try:
            text = await asyncio.to_thread(run.read_notes)
        except (OSError, UnicodeDecodeError) as exc:
            self.notify(f"could not read {run.notes_path}: {exc}", severity="error")
            return
        view = self.query_one("#notes-run", TextArea)
        view.load_text(editable(text) or "(no notes yet)")
        self.add_class("-run")
        self.query_one("#notes-status", Label).update(
            literal(
                f"Run {run.id} notes · read-only here, edit them in the Train pane (3) · "
                "ctrl+o: project log"
            )
        )
        view.focus()

    @property
    def editor(self) -> TextArea:
        return self.query_one("#notes-editor", TextArea)

    @property
    def dirty(self) -> bool:
        return self.loaded and self.editor.text != self._saved

    def _status_text(self, note: str = "") -> str:
        where = str(self.path) if self._exists else f"{self.path} (created on first save)"
        text = (
            f"Project log · {where} · ctrl+o: run notes · esc leaves the editor (digits "
            "type here; after esc, 1-5 switch panes)" + (f" · {note}" if note else "")
        )
        return printable(text)  # the label is markup=False; a path's ESC is shown escaped

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
        self._exists = True
        self._schedule.saved()
        self.query_one("#notes-status", Label).update(
            self._status_text(f"saved {time.strftime('%H:%M:%S')}")
        )
        return True

    def action_save(self) -> None:
        if not self.dirty:
            self.notify("nothing to save: the notes are as saved", timeout=2)
            return
        if self.save():
            self.notify("notes saved", timeout=2)

    def on_unmount(self) -> None:
        self._schedule.cancel()
