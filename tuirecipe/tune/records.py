"""Run records shared by the tuning commands: parent runs and per-trial results."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tuirecipe.config import Config
from tuirecipe.runs.listing import kept_dev_eval, kept_label
from tuirecipe.runs.rundir import RunDir, atomic_write_text


def make_parent_run(config: Config, job: str, args: dict[str, Any], motivation: str = "") -> RunDir:
    """A run directory for the parent config of a sweep/search/seeds/cv.

    It holds the resolved parent config (the reference each child's ``changed`` keys are
    computed against) and, at the end, the summary; no worker runs in it. This process,
    which runs the children, is the one writer of its ``status.json`` and records itself
    there like a worker (pid, start time, run id): readers see the parent alive while it
    is, failed if it is killed, and a console can stop it (SIGTERM).
    """
    from tuirecipe.runs.jobs import worker_identity
    from tuirecipe.runs.launch import prepare_run

    run = prepare_run(config, job, motivation=motivation, args=args)
    run.write_status(state="running", started=time.time(), run=run.id, **worker_identity())
    return run


def finish_parent_run(run: RunDir, summary: dict[str, Any], state: str = "finished") -> None:
    from tuirecipe.events import finite_or_null

    # strict JSON: a diverged trial's NaN is null (other tools reject a bare NaN)
    text = json.dumps(finite_or_null(summary), indent=2, default=str, allow_nan=False)
    atomic_write_text(run.path / "summary.json", text + "\n")
    run.write_status(state=state, ended=time.time())


def trial_result(run: RunDir) -> dict[str, Any]:
    """A finished child run: ``{"run", "state", "steps", "best": {loss, acc…}, "best_ci",
    "best_step", "checkpoint", "kept", "message"}``. ``best`` holds the dev figures of the
    checkpoint the run kept (``checkpoint``, from step ``best_step``; ``kept`` says it in
    words: "best @ step 120 (best.pt)")."""
    run.mark_dead_if_stale()
    status = run.read_status()
    kept = kept_dev_eval(run)
    return {
        "run": run.id,
        "state": run.state(),
        "steps": int(status.get("step", 0) or 0),
        "best": kept.metrics,
        "best_ci": kept.ci,
        "best_step": kept.step,
        "checkpoint": kept.checkpoint,
        "kept": kept_label(kept.step, kept.checkpoint),
        "message": status.get("message", ""),
    }


@contextmanager
def parent_guard(run: RunDir) -> Iterator[None]:
    """Mark the parent run stopped (Ctrl-C) or failed if its children's loop ends early."""
    try:
        yield
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        finish_parent_run(
            run,
            {"error": f"{type(exc).__name__}: {exc}"},
            state="stopped" if interrupted else "failed",
        )
        raise
