"""What a console reads of one run when it starts following it, and the runs it
re-attaches to when started again.

Plain functions over a run directory (no UI): the Train pane calls them in a thread, so
its event loop never waits on a file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuirecipe.events import CheckResult, EvalMetrics, PredictionsSnapshot, StepMetrics
from tuirecipe.runs.compare import change_summary, read_config_table
from tuirecipe.runs.curves import RunHistory
from tuirecipe.runs.rundir import RunDir

LIVE_STATES = ("created", "running", "paused", "starting")
ATTACH_STATES = ("created", "running", "paused")  # runs a new console re-attaches to


def live_runs(runs_path: Path) -> list[RunDir]:
    """Runs under ``runs_path`` whose worker is alive (a dead one counts as failed),
    newest first: what a console started again re-attaches to (issue 6, point 1)."""
    try:
        paths = [p for p in Path(runs_path).iterdir() if (p / "status.json").is_file()]
    except OSError:
        return []
    found = []
    for path in paths:
        run = RunDir(path)
        if run.state() in ATTACH_STATES:
            status = run.read_status()
            started = status.get("started") or run.read_meta().get("created") or 0
            found.append((float(started), run.id, run))
    return [run for *_, run in sorted(found, key=lambda f: f[:2], reverse=True)]


@dataclass
class LoadedRun:
    """A run's recorded history and what is shown of it, read in one go."""

    state: str = "unknown"
    history: RunHistory = field(default_factory=RunHistory)
    snapshots: list[Any] = field(default_factory=list)  # predictions events, in order
    last_step: Any = None
    last_eval: Any = None  # the last dev evaluation
    checks: dict[str, str] = field(default_factory=dict)  # check name -> status
    total_steps: int | None = None
    motivation: str = ""
    parent: str = ""
    change: str = ""  # the keys changed against the parent, "" when none
    config: dict[str, Any] = field(default_factory=dict)  # its config.toml ({}: unreadable)
    execution: dict[str, Any] = field(default_factory=dict)  # meta.json's (throughput)


def load_run(run: RunDir) -> LoadedRun:
    """Read ``run``'s status, meta and every recorded event (this reads files)."""
    meta = run.read_meta()
    total = run.read_status().get("total_steps")
    parent = meta.get("parent") or ""
    loaded = LoadedRun(
        state=run.state(),
        total_steps=int(total) if total else None,
        motivation=str(meta.get("motivation") or ""),
        parent=str(parent),
        change=change_summary(run) if parent else "",
        config=read_config_table(run),
        execution=execution_of(meta),
    )
    events = run.events()
    loaded.history.add(events)
    for event in events:
        if isinstance(event, PredictionsSnapshot):
            loaded.snapshots.append(event)
        elif isinstance(event, StepMetrics):
            loaded.last_step = event
        elif isinstance(event, EvalMetrics) and event.split == "dev":
            loaded.last_eval = event
        elif isinstance(event, CheckResult):
            loaded.checks[event.name] = event.status
    return loaded


def execution_of(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta.json``'s ``execution`` (precision, model size, card: what throughput
    figures need); {} when absent or damaged."""
    execution = meta.get("execution")
    return dict(execution) if isinstance(execution, dict) else {}


def read_plan(run: RunDir) -> tuple[int | None, dict[str, Any]]:
    """The planned steps and the ``execution`` meta: both written before the first step."""
    return read_total_steps(run), execution_of(run.read_meta())


def read_total_steps(run: RunDir) -> int | None:
    """The number of steps the worker plans (written once it has sized the data)."""
    total = run.read_status().get("total_steps")
    return int(total) if total else None


def stamp_line(
    last_step: Any = None,
    last_eval: Any = None,
    run: LoadedRun | None = None,
    now: float | None = None,
) -> str:
    """The line ctrl+t puts in a run's notes: time, step, metrics, change vs parent."""
    parts = [time.strftime("%Y-%m-%d %H:%M", time.localtime(now))]
    if last_step is not None:
        s = last_step
        acc = f" acc {s.acc:.3f}" if s.acc is not None else ""
        parts.append(f"step {s.step} (epoch {s.epoch:.2f}) train loss {s.loss:.4f}{acc}")
    if last_eval is not None:
        e = last_eval
        metrics = " ".join(
            f"{k} {v:.4f}" for k, v in e.metrics.items() if isinstance(v, (int, float))
        )
        parts.append(f"dev @ {e.step}: {metrics}")
    if run is not None:
        parts.append(
            f"vs parent {run.parent}: {run.change or 'no change'}"
            if run.parent
            else "no parent run"
        )
    return "- " + " · ".join(parts)


def status_counts(checks: dict[str, str]) -> str:
    """``"checks: 2 pass, 1 warn"`` for a run's check results, "" when there are none."""
    if not checks:
        return ""
    counts: dict[str, int] = {}
    for status in checks.values():
        counts[status] = counts.get(status, 0) + 1
    return "checks: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
