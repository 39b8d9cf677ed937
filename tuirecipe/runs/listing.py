"""The list of runs in a runs directory, with what a person wants to see of each.

A run's "best" figures are those of the checkpoint it kept (:func:`kept_dev_eval`): the
evaluation ``meta.json`` names under ``checkpoint`` once training has ended, else (a
running run, or one from before checkpoints were recorded) the best evaluation so far by
the run's ``train.monitor``. So the figures a table shows are the ones
``tuirecipe eval RUN`` reproduces from that checkpoint.
"""

from __future__ import annotations

import os
import threading
import tomllib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuirecipe.monitor import CHECKPOINT_FILES, Monitor, monitor_of
from tuirecipe.runs.rundir import TERMINAL_STATES, RunDir, read_events
from tuirecipe.throughput import Throughput, throughput


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
    best: dict[str, float] = field(default_factory=dict)  # the kept checkpoint's dev metrics
    notes_first_line: str = ""
    message: str = ""
    parent: str | None = None
    motivation: str = ""
    changed: dict[str, Any] = field(default_factory=dict)  # against the parent: [old, new]
    best_step: int | None = None  # the step of the evaluation in ``best``
    checkpoint: str = ""  # the file holding those weights ("best.pt", …); "" if none does
    best_ci: dict[str, list[float]] = field(default_factory=dict)
    # tokens/s over the whole run and, on CUDA, TFLOP/s and the share of the card's peak
    # (tuirecipe.throughput); {} for a run that recorded no tokens
    throughput: dict[str, Any] = field(default_factory=dict)

    def throughput_text(self) -> str:
        """``"48,210 tok/s · 61.3 TFLOP/s · 6.2 % of H200 bf16 peak"``, or ``"-"``."""
        if not self.throughput:
            return "-"
        return Throughput(**self.throughput).text()

    def kept_label(self) -> str:
        """``"best @ step 120 (best.pt)"``: which checkpoint the figures are from."""
        return kept_label(self.best_step, self.checkpoint)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class KeptEval:
    """The dev evaluation a run reports, and the checkpoint that reproduces it."""

    metrics: dict[str, float] = field(default_factory=dict)
    ci: dict[str, list[float]] = field(default_factory=dict)
    step: int | None = None
    checkpoint: str = ""  # "" when no saved checkpoint holds these weights
    monitor: Monitor = field(default_factory=Monitor)


def kept_label(step: int | None, checkpoint: str) -> str:
    """``"best @ step 120 (best.pt)"``, ``"last @ step 300 (last.pt)"``, or ``"-"``."""
    if step is None:
        return "-"
    kind = next((k for k, f in CHECKPOINT_FILES.items() if f == checkpoint), "")
    if not kind:
        return f"step {step} (no checkpoint)"
    return f"{kind} @ step {step} ({checkpoint})"


def kept_sentence(kept: KeptEval) -> str:
    """What a run kept, as ``tuirecipe train``/``attach`` and the console's Runs pane say
    it: ``"kept best @ step 120 (best.pt) as model.pt (lowest dev loss): loss 0.3681 acc
    0.8875"``; "" while no saved checkpoint holds reported figures."""
    if not kept.checkpoint or not kept.metrics:
        return ""
    m = kept.monitor
    extreme = "lowest" if m.mode == "min" else "highest"
    why = f"{extreme} {m.split} {m.metric}" if kept.checkpoint == "best.pt" else "train.keep"
    figures = " ".join(
        f"{k} {v:.4g}"
        for k, v in kept.metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "n"
    )
    return f"kept {kept_label(kept.step, kept.checkpoint)} as model.pt ({why}): {figures}"


def best_dev_metrics(run: RunDir) -> dict[str, float]:
    """The dev metrics of the checkpoint the run kept (see :func:`kept_dev_eval`)."""
    return kept_dev_eval(run).metrics


def kept_dev_eval(run: RunDir) -> KeptEval:
    """The dev evaluation of the run's kept checkpoint (module doc)."""
    return _from_events(run)[0]


def _run_throughput(last: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """The whole run's throughput from its last step event (cumulative tokens and
    training seconds) and its ``execution`` meta."""
    execution = meta.get("execution")
    execution = execution if isinstance(execution, dict) else {}
    tokens, seconds = getattr(last, "tokens", 0), getattr(last, "elapsed", 0.0)
    if not isinstance(tokens, (int, float)) or not isinstance(seconds, (int, float)):
        return {}
    figures = throughput(float(tokens), float(seconds), execution, str(meta.get("device") or ""))
    return figures.to_dict() if figures is not None else {}


def _run_monitor(run: RunDir) -> tuple[Monitor, str]:
    """The run's monitor and ``train.keep`` from its config (dev loss / best by default)."""
    try:
        table = tomllib.loads(run.config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        table = {}
    train: dict[str, Any] = table.get("train") or {}
    data: dict[str, Any] = table.get("data") or {}
    train, data = (t if isinstance(t, dict) else {} for t in (train, data))
    task = str(data.get("task", "classification"))
    recorded = run.read_meta().get("checkpoint")
    name = recorded.get("monitor") if isinstance(recorded, dict) else None
    # The monitor the run used (train.monitor = "auto" chose one for its data), else its
    # config's.
    monitor = monitor_of({"monitor": name} if isinstance(name, str) else train, task)
    return monitor, str(train.get("keep", "best"))


@dataclass
class _EventsDigest:
    """What the listing needs from an events file, up to byte ``offset``: the dev
    evaluations, the last step any event recorded, the last step event."""

    inode: tuple[int, int] = (0, 0)
    offset: int = 0
    evals: list[tuple[int, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    last_step: int = 0
    last: Any = None

    def add(self, events: list[Any]) -> None:
        for event in events:
            step = getattr(event, "step", None)
            if not isinstance(step, int) or isinstance(step, bool):
                continue  # events without a step say nothing the listing needs
            if event.kind in ("step", "eval"):
                self.last_step = max(self.last_step, step)
                self.last = event if event.kind == "step" else self.last
            if event.kind != "eval" or getattr(event, "split", "") != "dev":
                continue
            metrics = getattr(event, "metrics", {})
            if isinstance(metrics, dict):
                self.evals.append((step, dict(metrics), dict(getattr(event, "ci", {}) or {})))


# By events file: the console's Runs pane lists every run every few seconds, and reading a
# 100,000-step run's events anew took ~1 s; a finished run's file is read once, a growing
# one from where the last reading stopped.
_DIGESTS: OrderedDict[str, _EventsDigest] = OrderedDict()
_DIGESTS_LOCK = threading.Lock()
_DIGESTS_MAX = 4096


def _events_digest(path: Path) -> _EventsDigest:
    """The digest of ``path`` as it is now (a copy; read on from the cached one)."""
    try:
        stat = os.stat(path)
    except OSError:
        return _EventsDigest()
    inode = (stat.st_dev, stat.st_ino)
    key = str(path)
    with _DIGESTS_LOCK:
        cached = _DIGESTS.get(key)
    if cached is None or cached.inode != inode or stat.st_size < cached.offset:
        cached = _EventsDigest(inode)  # new, replaced or cut short: from the start
    digest = _EventsDigest(inode, cached.offset, list(cached.evals), cached.last_step, cached.last)
    if stat.st_size > digest.offset:
        events, offset = read_events(path, digest.offset)
        if digest.offset and any(e.kind == "resumed" for e in events):
            # a resume supersedes steps already folded in: read the whole file again
            digest = _EventsDigest(inode)
            events, offset = read_events(path, 0)
        digest.add(events)
        digest.offset = offset
    with _DIGESTS_LOCK:
        _DIGESTS[key] = digest
        _DIGESTS.move_to_end(key)
        while len(_DIGESTS) > _DIGESTS_MAX:
            _DIGESTS.popitem(last=False)
    # the caller's own dicts: a figure it changes never changes the cached reading
    evals = [(step, dict(metrics), dict(ci)) for step, metrics, ci in digest.evals]
    return _EventsDigest(inode, digest.offset, evals, digest.last_step, digest.last)


def _from_events(run: RunDir) -> tuple[KeptEval, int, Any]:
    """The kept dev evaluation, the last step any event recorded (a running worker
    writes its step to the events, not to ``status.json``, and a killed one never writes
    its last step there) and the last step event (None without one)."""
    digest = _events_digest(run.events_path)
    evals, last_step, last = digest.evals, digest.last_step, digest.last
    monitor, keep = _run_monitor(run)
    recorded = run.read_meta().get("checkpoint")
    if isinstance(recorded, dict) and isinstance(recorded.get("step"), int):
        at_step = [e for e in evals if e[0] == recorded["step"]]
        if at_step:  # the last evaluation at that step: the one the weights were saved at
            step, metrics, ci = at_step[-1]
            kept = KeptEval(metrics, ci, step, str(recorded.get("file", "")), monitor)
            return kept, last_step, last
        return KeptEval({}, {}, None, str(recorded.get("file", "")), monitor), last_step, last
    if not evals:
        return KeptEval(monitor=monitor), last_step, last
    # Still running (its best.pt holds the best so far), or recorded before checkpoints
    # were named (no file reproduces its figures).
    state = run.read_status().get("state")
    live = state in ("running", "paused")
    if keep == "last":
        step, metrics, ci = evals[-1]
        return KeptEval(metrics, ci, step, "", monitor), last_step, last
    best = monitor.best_of(e[1] for e in evals) or evals[0][1]
    step, metrics, ci = next(e for e in evals if e[1] is best)
    checkpoint = CHECKPOINT_FILES["best"] if live else ""
    return KeptEval(metrics, ci, step, checkpoint, monitor), last_step, last


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
    kept, event_step, last = _from_events(run)
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
        best=kept.metrics,
        notes_first_line=first,
        message=status.get("message", ""),
        parent=meta.get("parent"),
        motivation=meta.get("motivation", ""),
        changed=_changed(meta),
        best_step=kept.step,
        checkpoint=kept.checkpoint,
        best_ci=kept.ci,
        throughput=_run_throughput(last, meta),
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
