"""``tuirecipe follow PATH``: another tool's growing training log as a tuirecipe run.

Runs in the foreground by default (Ctrl-C stops following; the run is then *stopped*).
``--detach`` starts the same command as a background process through the job client
(the one place processes are started) and returns. ``--once`` reads what the log holds
and ends (an import of a finished log).
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_USER_ERROR = 0, 2


def add_subparser(sub: Any) -> None:
    follow = sub.add_parser(
        "follow",
        help="follow another tool's training log (metrics CSV, JSONL, TensorBoard) as a run",
        description="Turn a growing training log into a tuirecipe run, live: Lightning's "
        "CSVLogger metrics.csv (or any CSV with a step column), a JSONL file with a step "
        "key, or a TensorBoard log folder (needs the tensorboard package). New rows reach "
        "the run within a fraction of a second; the console, `tuirecipe runs`, `attach` "
        "and `compare` show it like any run. Ctrl-C (or `tuirecipe stop RUN`) stops "
        "following.",
    )
    follow.add_argument("path", metavar="PATH", help="the log file, or its folder")
    follow.add_argument("--name", help="the run's name (default: follow-<the log's name>)")
    follow.add_argument("--runs-dir", default="runs", help="the runs directory (default: runs)")
    follow.add_argument(
        "--config", metavar="FILE", help="a TOML or JSON file of the run's settings (for compare)"
    )
    follow.add_argument("--motivation", "-m", default="", help="one line on why this run")
    follow.add_argument("--once", action="store_true", help="read the log as it is, then end")
    follow.add_argument(
        "--idle",
        type=float,
        metavar="SECONDS",
        help="end (finished) once the log has not grown for this long",
    )
    follow.add_argument(
        "--detach", action="store_true", help="follow in a background process and return"
    )


def cmd_follow(args: argparse.Namespace) -> int:
    from tuirecipe.errors import UserError

    if args.idle is not None and args.idle <= 0:
        raise UserError("--idle must be a number of seconds above 0", key="--idle")
    if args.detach:
        return _detach(args)
    from tuirecipe.runs.logfollow import follow_log

    stop = {"asked": False}

    def ask_stop(*_: Any) -> None:
        stop["asked"] = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, ask_stop)

    def told_run(run: Any) -> None:
        print(f"following {args.path} into run {run.id} ({run.path})", flush=True)

    run, state = follow_log(
        Path(args.path),
        name=args.name,
        runs_dir=Path(args.runs_dir),
        config=Path(args.config) if args.config else None,
        motivation=args.motivation,
        once=args.once,
        idle=args.idle,
        should_stop=lambda: stop["asked"],
        on_run=told_run,
    )
    print(f"run {run.id} {state} at step {run._last_step}", flush=True)
    return EXIT_OK


def _detach(args: argparse.Namespace) -> int:
    from tuirecipe.runs.jobs import JobClient
    from tuirecipe.runs.logsources import open_source

    open_source(Path(args.path))  # a path that cannot be followed: the error here, now
    options = ["--runs-dir", str(Path(args.runs_dir).resolve())]
    if args.name:
        options += ["--name", args.name]
    if args.config:
        options += ["--config", str(Path(args.config).resolve())]
    if args.motivation:
        options += ["--motivation", args.motivation]
    if args.idle is not None:
        options += ["--idle", str(args.idle)]
    if args.once:
        options.append("--once")
    job = JobClient().start_follow(Path(args.path).resolve(), options, Path(args.runs_dir))
    print(f"following {args.path} in the background (pid {job.pid}; log {job.log_path})")
    return EXIT_OK
