"""Following a run directory as it grows: new events since the last look.

The same code watches a run just started, a run started by another console, and a
finished run read from the start (DESIGN.md §1: attaching is following).
"""

from __future__ import annotations

from pathlib import Path

from tuirecipe.events import Event
from tuirecipe.runs.rundir import RunDir, read_events


class Follower:
    """Reads ``events.jsonl`` incrementally; tolerant of a half-written last line."""

    def __init__(self, run: RunDir | Path, offset: int = 0) -> None:
        self.run = run if isinstance(run, RunDir) else RunDir(Path(run))
        self.offset = offset

    def poll(self) -> list[Event]:
        events, self.offset = read_events(self.run.events_path, self.offset)
        return events

    def state(self) -> str:
        return self.run.state()
