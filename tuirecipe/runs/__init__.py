"""Run directories: creating, writing, following and listing them (no torch, no UI)."""

from tuirecipe.runs.follower import Follower
from tuirecipe.runs.listing import RunSummary, list_runs, summarize
from tuirecipe.runs.rundir import (
    TERMINAL_STATES,
    EventWriter,
    RunDir,
    atomic_write_json,
    atomic_write_text,
    create_run_dir,
    open_run_dir,
    read_events,
)

__all__ = [
    "TERMINAL_STATES",
    "EventWriter",
    "Follower",
    "RunDir",
    "RunSummary",
    "atomic_write_json",
    "atomic_write_text",
    "create_run_dir",
    "list_runs",
    "open_run_dir",
    "read_events",
    "summarize",
]
