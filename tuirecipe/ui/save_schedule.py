"""When an editor's text is written to disk: soon after the last keystroke, and never
much later than the first unsaved one (typing without a pause still saves).

Shared by the Notes pane's project log and the Train pane's run notes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.timer import Timer
from textual.widget import Widget

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
