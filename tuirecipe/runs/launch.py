"""Starting a job: make its run directory, then a worker process that fills it.

This module prepares; :mod:`tuirecipe.runs.jobs` starts, signals and reaps. The worker
runs in a new process session (``start_new_session``), so a closed terminal's SIGHUP and a
Ctrl-C meant for the console do not reach it. The console and the headless CLI talk to it
with signals (SIGTERM stop, SIGUSR1 pause, SIGUSR2 resume) through the job client and
learn everything else by following its run directory.
"""

from __future__ import annotations

import copy
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tuirecipe import __version__
from tuirecipe.config import Config, diff_configs
from tuirecipe.errors import RunError, StorageError
from tuirecipe.fileio import storage_errors_named
from tuirecipe.runs.rundir import RunDir, atomic_write_json, atomic_write_text, create_run_dir

# sweep / search / seeds / cv are parent records of tuning runs (no worker of their own);
# cv_fold trains one fold of a cross-validation.
JOBS = ("train", "check", "sweep", "search", "seeds", "cv", "cv_fold")


def resolved_config(config: Config) -> Config:
    """A copy with every path made absolute, so the run's config.toml stands alone."""
    out = copy.deepcopy(config)
    if not out.data.is_demo:
        out.data.path = str(config.resolve_path(config.data.path).resolve())
    if out.data.dev_path:
        out.data.dev_path = str(config.resolve_path(config.data.dev_path).resolve())
    out.runs_dir = str(config.runs_path.resolve())
    for table in (out.data, out.model):  # encoder folders (tuirecipe.data.encoders)
        if table.encoder:
            table.encoder = str(config.resolve_path(table.encoder).resolve())
    if ":" in out.model.name:
        paths = [str(config.resolve_path(p).resolve()) for p in config.model.python_path]
        base = str(Path(config.base_dir).resolve())
        out.model.python_path = paths + ([base] if base not in paths else [])
    return out


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def code_fingerprint(folder: Path) -> tuple[dict[str, Any], str]:
    """Git commit of the user's code around ``folder`` and its uncommitted diff."""
    top = _git(["rev-parse", "--show-toplevel"], folder)
    if not top:
        return {"git": None}, ""
    commit = (_git(["rev-parse", "HEAD"], folder) or "").strip() or None
    diff = _git(["diff", "HEAD"], folder) or ""
    untracked = (_git(["ls-files", "--others", "--exclude-standard"], folder) or "").split()
    return (
        {
            "git": {
                "root": top.strip(),
                "commit": commit,
                "dirty": bool(diff or untracked),
                "untracked": untracked[:50],
            }
        },
        diff,
    )


def prepare_run(
    config: Config,
    job: str = "train",
    *,
    motivation: str = "",
    parent: RunDir | None = None,
    args: dict[str, Any] | None = None,
    edits: dict[str, Any] | None = None,
) -> RunDir:
    """Create and fill a run directory for ``job``; the worker is not started yet.

    ``edits`` are keys changed by hand for this run against ``config.source`` (the
    console's start dialog), ``{"train.lr": [old, new]}``; they go to meta.json as
    ``edits`` with the file they were made against, beside the motivation."""
    if job not in JOBS:
        raise RunError(f"unknown job '{job}'")
    resolved = resolved_config(config)
    run = create_run_dir(resolved.runs_path, config.name)
    try:
        _fill_run_dir(
            run,
            config,
            resolved,
            job,
            motivation=motivation,
            parent=parent,
            args=args,
            edits=edits,
        )
    except BaseException as exc:
        # A run directory is complete or absent: one left half-made (the disk full while
        # writing its config) would be listed as a run that never started.
        shutil.rmtree(run.path, ignore_errors=True)
        if isinstance(exc, StorageError):
            exc.message += "; the run was not started"
        raise
    return run


def _fill_run_dir(
    run: RunDir,
    config: Config,
    resolved: Config,
    job: str,
    *,
    motivation: str,
    parent: RunDir | None,
    args: dict[str, Any] | None,
    edits: dict[str, Any] | None,
) -> None:
    atomic_write_text(run.config_path, resolved.to_toml())
    code, diff = code_fingerprint(Path(config.base_dir))
    if diff:
        atomic_write_text(run.path / "code.diff", diff)
    changed: dict[str, Any] = {}
    if parent is not None:
        from tuirecipe.config import load_config

        try:
            parent_cfg = load_config(parent.config_path).to_dict()
            changed = {k: list(v) for k, v in diff_configs(parent_cfg, resolved.to_dict()).items()}
        except Exception:  # a broken parent must not stop a new run
            changed = {}
    meta = {
        "id": run.id,
        "name": config.name,
        "job": job,
        "created": time.time(),
        "config_source": config.source,
        "config_dir": str(Path(config.base_dir).resolve()),
        "seed": config.seed,
        "versions": {"python": platform.python_version(), "tuirecipe": __version__},
        "host": socket.gethostname(),
        "code": code,
        "code_diff": "code.diff" if diff else None,
        "parent": parent.id if parent is not None else None,
        "changed": changed,
        "motivation": motivation,
        "edits": (
            {"against": config.source, "changed": {k: list(v) for k, v in edits.items()}}
            if edits
            else None
        ),
        "args": args or {},
    }
    processes = train_processes(config, job)
    if processes > 1:  # how it runs, not what it learns: no config change
        meta["execution"] = {"processes": processes, "launcher": "torchrun"}
    atomic_write_json(run.meta_path, meta)
    atomic_write_json(run.job_path, {"job": job, "args": args or {}})
    with storage_errors_named(run.events_path):
        run.events_path.touch()
    ranks = {"ranks": processes} if processes > 1 else {}
    run.write_status(state="created", pid=None, step=0, job=job, host=socket.gethostname(), **ranks)


def train_processes(config: Config, job: str) -> int:
    """How many processes run ``job``: ``train.gpus`` for a train job (data parallel
    under torchrun), else one."""
    return max(1, config.train.gpus) if job == "train" else 1


# What torchrun tells each process it starts (tuirecipe.train.distributed reads these).
TORCHRUN_ENV = (
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "LOCAL_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
)


def worker_command(run: RunDir) -> list[str]:
    """The command line of ``run``'s worker: ``python -m tuirecipe.worker RUN_DIR``, or
    for a multi-process run torchrun starting that many of them on this machine
    (``--standalone``: a rendezvous on a free local port; :mod:`tuirecipe.train.distributed`)."""
    worker = ["-m", "tuirecipe.worker", str(run.path)]
    processes = int((run.read_meta().get("execution") or {}).get("processes") or 1)
    if processes <= 1:
        return [sys.executable, *worker]
    torchrun = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    return [sys.executable, *torchrun, *worker]


def detached_options(log: Any, env: dict[str, str] | None = None, cwd: Path | None = None) -> dict:
    """``Popen`` options for a process that must outlive whoever started it: its own
    session (a closed terminal's SIGHUP and a Ctrl-C meant for the console do not reach
    it), no stdin, output to ``log``. ``env`` adds variables to the environment (the pool
    sets ``CUDA_VISIBLE_DEVICES`` there to give each worker its own GPU)."""
    merged = {**os.environ, **(env or {})}
    merged.setdefault("PYTHONUNBUFFERED", "1")
    # A worker is one rank of a multi-process run only when torchrun says so: a console
    # started inside someone else's torchrun job must not pass its place on.
    for name in TORCHRUN_ENV:
        if name not in (env or {}):
            merged.pop(name, None)
    return {
        "stdin": subprocess.DEVNULL,
        "stdout": log,
        "stderr": subprocess.STDOUT,
        "start_new_session": True,
        "close_fds": True,
        "env": merged,
        "cwd": str(cwd) if cwd is not None else None,
    }
