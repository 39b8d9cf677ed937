"""Resuming a failed or stopped training run in its own run directory (no torch here).

:func:`resume_problem` says why a run cannot be resumed (the console asks before it offers
the action); :func:`prepare_resume` readies the run directory for a new worker: the
checkpoint is checked against ``resume.json`` (size and sha256, so a damaged file is
refused before any process starts), ``job.json`` asks the worker to resume, ``meta.json``
records the resume under ``resumes``, and ``status.json`` goes back to ``created``. The
job client then starts the worker as for any run (:meth:`JobClient.resume`); it
continues from the checkpoint and writes a ``resumed`` event (:mod:`tuirecipe.train.resume`).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from tuirecipe.errors import RunError
from tuirecipe.runs.rundir import RunDir, atomic_write_json, read_json

RESUME_FILE = "resume.pt"  # the names tuirecipe.train.resume writes
RESUME_INFO = "resume.json"
RESUMABLE_STATES = ("failed", "stopped")


def resume_problem(run: RunDir) -> str | None:
    """Why ``run`` cannot be resumed, in one line; None when it can."""
    job = run.read_meta().get("job") or run.read_status().get("job") or "train"
    if job != "train":
        return f"run {run.id} is a {job} run: only training runs resume"
    state = run.state()
    if state == "finished":
        return f"run {run.id} finished: there is nothing to resume"
    processes = (run.read_meta().get("execution") or {}).get("processes") or 1
    if isinstance(processes, int) and processes > 1:
        return (
            f"run {run.id} trained in {processes} data-parallel processes (train.gpus): "
            "resuming those is not supported yet"
        )
    if state not in RESUMABLE_STATES:
        return f"run {run.id} is {state}: only a failed or stopped run resumes"
    path = run.path / RESUME_FILE
    info = read_json(run.path / RESUME_INFO, default=None)
    if not path.is_file():
        return (
            f"run {run.id} has no resume checkpoint ({RESUME_FILE}): it ran without "
            "train.checkpoint_every, or stopped before its first checkpoint"
        )
    if not isinstance(info, dict) or not isinstance(info.get("sha256"), str):
        return (
            f"the resume checkpoint of run {run.id} is damaged ({RESUME_INFO} is missing "
            "or unreadable)"
        )
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:  # in chunks: a checkpoint can be gigabytes
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        return f"cannot read the resume checkpoint {path}: {exc.strerror}"
    if size != info.get("bytes") or digest != info["sha256"]:
        return (
            f"the resume checkpoint of run {run.id} is damaged ({RESUME_FILE} does not match "
            f"the size and sha256 in {RESUME_INFO})"
        )
    return None


def prepare_resume(run: RunDir) -> dict[str, Any]:
    """Ready ``run`` for a worker that resumes it; returns the checkpoint's info (its
    ``step``). Raises :class:`~tuirecipe.errors.RunError` (one line) when it cannot."""
    if run.state() == "failed":
        run.mark_dead_if_stale()  # a worker that died silently: its end is recorded first
    problem = resume_problem(run)
    if problem is not None:
        raise RunError(problem)
    info: dict[str, Any] = read_json(run.path / RESUME_INFO, default={}) or {}
    status = run.read_status()
    job = read_json(run.job_path, default={}) or {}
    args: dict[str, Any] = job["args"] if isinstance(job.get("args"), dict) else {}
    atomic_write_json(run.job_path, {**job, "job": "train", "args": {**args, "resume": True}})
    meta = run.read_meta()
    resumes: list[Any] = meta["resumes"] if isinstance(meta.get("resumes"), list) else []
    record = {
        "t": time.time(),
        "from_step": info.get("step"),
        "previous_state": status.get("state"),
        "previous_step": status.get("step"),
        "previous_message": status.get("message", ""),
    }
    run.update_meta(resumes=[*resumes, record])
    # The death a reader recorded belongs to the last worker: the next one starts clean.
    run.gone_path.unlink(missing_ok=True)
    run.write_status(
        state="created",
        pid=None,
        pid_start=None,
        message="",
        ended=None,
        user_error=None,
        step=info.get("step", 0),
        resumed_from=info.get("step"),
    )
    return info
