"""Notes pane: the project log ``<runs_dir>/notes.md``, saved as you type.

The file is written atomically about a second after the last keystroke, on ctrl+s, and
when the console exits, so nothing typed stays only in memory for long. It is created on
the first save.
"""

from __future__ import annotations

import time
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Label, TextArea

from tuirecipe.config import Config
from tuirecipe.runs.rundir import atomic_write_text

SAVE_DELAY_SECONDS = 1.0


class NotesPane(Widget):
    BINDINGS = [Binding("escape", "leave_editor", "Leave editor"),
                Binding("ctrl+s", "save", "Save")]

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
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Label(self._status_text(), id="notes-status")
        yield TextArea(self._saved, id="notes-editor", soft_wrap=True, tab_behavior="focus")

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
        return f"Project log · {where}" + (f" · {note}" if note else "")

    @on(TextArea.Changed, "#notes-editor")
    def schedule_save(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if self.dirty:
            self.query_one("#notes-status", Label).update(self._status_text("unsaved"))
            self._timer = self.set_timer(SAVE_DELAY_SECONDS, self.save)

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
        self.query_one("#notes-status", Label).update(
            self._status_text(f"saved {time.strftime('%H:%M:%S')}"))
        return True

    def action_save(self) -> None:
        self.save()

    def action_leave_editor(self) -> None:
        self.app.action_focus_tabs()

    def on_unmount(self) -> None:
        if self._timer is not None:
            self._timer.stop()
