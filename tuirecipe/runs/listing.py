"""The list of runs in a runs directory, with what a person wants to see of each."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuirecipe.runs.rundir import TERMINAL_STATES, RunDir, read_events


@dataclass
class RunSummary:
    id: str
    path: str
    name: str
    job: str
    state: str
    started: float | None
    duration: float | None
    last_step: int
    best: dict[str, float] = field(default_factory=dict)  # best dev metrics
    notes_first_line: str = ""
    message: str = ""
    parent: str | None = None
    motivation: str = ""
    changed: dict[str, Any] = field(default_factory=dict)  # against the parent: [old, new]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def best_dev_metrics(run: RunDir) -> dict[str, float]:
    """Lowest dev loss and the other metrics at that evaluation."""
    return _from_events(run)[0]


def _from_events(run: RunDir) -> tuple[dict[str, float], int]:
    """The best dev metrics (lowest dev loss) and the last step any event recorded: a
    running worker writes its step to the events, not to ``status.json``, and a killed
    one never writes its last step there."""
    best: dict[str, float] = {}
    last_step = 0
    for event in read_events(run.events_path)[0]:
        step = getattr(event, "step", None)
        if event.kind in ("step", "eval") and isinstance(step, int) and not isinstance(step, bool):
            last_step = max(last_step, step)
        if event.kind != "eval" or getattr(event, "split", "") != "dev":
            continue
        metrics = getattr(event, "metrics", {})
        if not isinstance(metrics, dict):
            continue
        if not best or metrics.get("loss", float("inf")) < best.get("loss", float("inf")):
            best = dict(metrics)
    return best, last_step


def summarize(run: RunDir) -> RunSummary:
    status = run.read_status()
    meta = run.read_meta()
    job = meta.get("job") or status.get("job") or "train"
    state = run.state()
    if state == "failed" and status.get("state") not in TERMINAL_STATES:
        # the worker died without a word: record why once (as any reader may), then show it
        run.mark_dead_if_stale()
        status = run.read_status()
    started = status.get("started") or meta.get("created")
    ended = status.get("ended") or (
        status.get("updated") if state not in ("running", "paused") else None
    )
    duration = None
    if started:
        import time

        duration = (ended or time.time()) - started
    best, event_step = _from_events(run)
    notes = run.read_notes().strip().splitlines()
    first = next((line.lstrip("# ").strip() for line in notes if line.strip()), "")
    return RunSummary(
        id=run.id,
        path=str(run.path),
        name=meta.get("name", run.id),
        job=job,
        state=state,
        started=started,
        duration=duration,
        last_step=max(int(status.get("step", 0) or 0), event_step),
        best=best,
        notes_first_line=first,
        message=status.get("message", ""),
        parent=meta.get("parent"),
        motivation=meta.get("motivation", ""),
        changed=_changed(meta),
    )


def _changed(meta: dict[str, Any]) -> dict[str, Any]:
    changed = meta.get("changed")
    return dict(changed) if isinstance(changed, dict) else {}


def list_runs(runs_dir: Path) -> list[RunSummary]:
    """Every run under ``runs_dir``, newest first. A missing folder has no runs."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    out = []
    for path in runs_dir.iterdir():
        if path.is_dir() and (path / "status.json").exists():
            out.append(summarize(RunDir(path)))
    out.sort(key=lambda s: (s.started or 0, s.id), reverse=True)
    return out


def run_tree(runs: list[RunSummary]) -> list[tuple[int, RunSummary]]:
    """``runs`` as a tree: each run with its depth, children right under their parent (in
    the order of ``runs``); a run whose parent is not listed stands at the top level."""
    ids = {r.id for r in runs}
    children: dict[str, list[RunSummary]] = {}
    for r in runs:
        if r.parent in ids and r.parent != r.id:
            children.setdefault(str(r.parent), []).append(r)
    out: list[tuple[int, RunSummary]] = []
    seen: set[str] = set()

    def visit(run: RunSummary, depth: int) -> None:
        if run.id in seen:  # a cycle of parents in damaged records: list each run once
            return
        seen.add(run.id)
        out.append((depth, run))
        for child in children.get(run.id, []):
            visit(child, depth + 1)

    for r in runs:
        if r.parent not in ids or r.parent == r.id:
            visit(r, 0)
    for r in runs:  # runs only reachable through a cycle
        visit(r, 0)
    return out


def changed_text(changed: dict[str, Any]) -> str:
    """``train.lr 0.003→0.001`` for each key a run changed against its parent."""
    parts = []
    for key, pair in sorted(changed.items()):
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            parts.append(f"{key} {pair[0]!s}→{pair[1]!s}")
        else:
            parts.append(str(key))
    return ", ".join(parts)
