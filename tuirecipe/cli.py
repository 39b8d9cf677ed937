"""Command line: ``tuirecipe [CONFIG]`` opens the console; subcommands run headless.

Kept light on purpose: only argparse at import time, so ``--help`` is instant. Anything
heavy (rich, textual, pandas, torch) is imported by the command that needs it. A user
error (bad config, data, model) is printed as one line and exits with code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USER_ERROR, EXIT_STOPPED = 0, 1, 2, 130
COMMANDS = (
    "tui",
    "train",
    "check",
    "data",
    "runs",
    "attach",
    "sweep",
    "search",
    "seeds",
    "cv",
    "augment-preview",
)


def _add_config_args(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument(
        "config",
        nargs=None if required else "?",
        metavar="CONFIG",
        help="a TOML config file (default: the built-in demo)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config value; repeatable (e.g. --set train.lr=1e-3)",
    )
    parser.add_argument(
        "--demo",
        choices=("classification", "regression"),
        default="classification",
        help="which built-in demo to use when no CONFIG is given",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tuirecipe",
        description="A terminal experiment console for training neural networks the careful "
        "way. Without a command, opens the console (on the built-in demo when no "
        "CONFIG is given).",
        epilog="commands: tui, train, check, data, runs, attach, sweep, search, seeds, cv, "
        "augment-preview — 'tuirecipe COMMAND --help' for each.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    tui = sub.add_parser(
        "tui",
        help="open the console (the default command)",
        description="Open the terminal console.",
    )
    _add_config_args(tui)
    tui.add_argument("--theme", help="theme name (see tuirecipe/themes/); remembered for next time")

    train = sub.add_parser(
        "train",
        help="train headless, following the run in the terminal",
        description="Start a training run in a worker process and follow "
        "it. Ctrl-C stops the run cleanly; --detach leaves it "
        "running in the background.",
    )
    _add_config_args(train)
    train.add_argument(
        "--motivation", "-m", default="", help="one line on why this run (saved in meta.json)"
    )
    train.add_argument(
        "--detach", action="store_true", help="start the run and return at once, printing its id"
    )
    train.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    check = sub.add_parser(
        "check",
        help="run the sanity checks headless (exit 1 on a failure)",
        description="Run the automatic sanity checks in a worker process.",
    )
    _add_config_args(check)
    check.add_argument(
        "--only", nargs="+", metavar="NAME", default=[], help="run only these checks"
    )
    check.add_argument("--json", action="store_true", help="print results as JSON")
    check.add_argument(
        "--list",
        action="store_true",
        help="run nothing: show the remembered checklist for this config, each result "
        "current or stale (exit 1 when a current result failed)",
    )

    data = sub.add_parser(
        "data",
        help="profile the dataset headless",
        description="Print the dataset profile (labels, lengths, "
        "duplicates, conflicts, corrupted rows, clusters).",
    )
    _add_config_args(data)
    data.add_argument("--json", action="store_true", help="print the profile as JSON")

    runs = sub.add_parser(
        "runs", help="list runs", description="List the runs of a runs directory, newest first."
    )
    _add_config_args(runs)
    runs.add_argument("--runs-dir", help="the runs directory (default: from the config)")
    runs.add_argument("--json", action="store_true", help="print as JSON")

    attach = sub.add_parser(
        "attach",
        help="follow a run (live or finished)",
        description="Follow a run's progress from its run directory. "
        "Ctrl-C detaches; the run goes on.",
    )
    attach.add_argument("run", metavar="RUN", help="run id (or a unique part of it) or path")
    attach.add_argument("--runs-dir", default="runs", help="the runs directory (default: runs)")

    from tuirecipe.cli_tune import add_subparsers as add_tune_subparsers

    add_tune_subparsers(sub, _add_config_args)
    return parser


def _load(args: argparse.Namespace):
    from tuirecipe.config import demo_config, load_config

    if args.config is None and not args.overrides:
        return demo_config(args.demo)
    if args.config is None:
        from tuirecipe.config import apply_overrides, config_from_dict

        base = demo_config(args.demo).to_dict()
        return config_from_dict(
            apply_overrides(base, args.overrides), source="--set", base_dir=str(Path.cwd())
        )
    return load_config(args.config, args.overrides)


def _print_error(message: str) -> None:
    print(f"tuirecipe: error: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help")):
        argv = ["tui", *argv]
    args = build_parser().parse_args(argv)
    from tuirecipe.errors import UserError

    try:
        if args.command not in COMMAND_FUNCS:
            from tuirecipe.cli_tune import COMMAND_FUNCS as TUNE_FUNCS

            return TUNE_FUNCS[args.command](args)
        return COMMAND_FUNCS[args.command](args)
    except UserError as exc:
        _print_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_STOPPED
    except BrokenPipeError:  # `tuirecipe data --json | head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


# ---------------------------------------------------------------------------------------
# commands


def cmd_tui(args: argparse.Namespace) -> int:
    config = _load(args)
    from tuirecipe.ui.app import run_app

    return run_app(config, theme=args.theme)


def cmd_train(args: argparse.Namespace) -> int:
    from tuirecipe.runs.jobs import JobClient

    config = _load(args)
    jobs = JobClient()
    job = jobs.start(config, "train", motivation=args.motivation)
    assert job.run is not None
    if args.detach:
        print(job.run.id)
        return EXIT_OK
    return follow_run(job.run, stop_on_interrupt=True, quiet=args.quiet, jobs=jobs)


def cmd_attach(args: argparse.Namespace) -> int:
    from tuirecipe.runs.jobs import JobClient
    from tuirecipe.runs.rundir import open_run_dir

    run = open_run_dir(Path(args.runs_dir), args.run)
    return follow_run(run, stop_on_interrupt=False, jobs=JobClient())


def cmd_runs(args: argparse.Namespace) -> int:
    from tuirecipe.runs.listing import list_runs

    runs_dir = Path(args.runs_dir) if args.runs_dir else _load(args).runs_path
    runs = list_runs(runs_dir)
    if args.json:
        print(json.dumps([r.to_dict() for r in runs], indent=2, default=str))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    if not runs:
        console.print(Text(f"no runs in {runs_dir}"))
        return EXIT_OK
    # Run ids, folders, notes and motivations are the user's text: Text, never markup.
    table = Table(title=Text(f"runs in {runs_dir}"), box=None, pad_edge=False)
    show_job = any(r.job != "train" for r in runs)
    table.add_column("run", no_wrap=True, min_width=20)
    if show_job:
        table.add_column("job", no_wrap=True)
    table.add_column("state", no_wrap=True, min_width=8)
    table.add_column("started", no_wrap=True, min_width=11)
    table.add_column("time", no_wrap=True, justify="right", min_width=5)
    table.add_column("step", no_wrap=True, justify="right", min_width=4)
    table.add_column("best dev", no_wrap=True, min_width=20)
    table.add_column("cause / notes", overflow="ellipsis", no_wrap=True, max_width=60)
    for r in runs:
        cells = [Text(r.id)] + ([r.job] if show_job else [])
        table.add_row(
            *cells,
            _state_markup(r.state),
            _when(r.started),
            _duration(r.duration),
            str(r.last_step),
            _metrics_text(r.best, 3),
            # why a run ended early comes before its notes: the cause is what one looks for
            Text(
                r.message
                if r.state in ("failed", "stopped") and r.message
                else r.notes_first_line or r.motivation
            ),
        )
    console.print(table)
    return EXIT_OK


def cmd_data(args: argparse.Namespace) -> int:
    from tuirecipe.cli_report import print_profile
    from tuirecipe.data.profiling import without_huge_pages

    without_huge_pages()  # this process only profiles: see the function
    return print_profile(_load(args), as_json=args.json)


def cmd_check(args: argparse.Namespace) -> int:
    from tuirecipe.cli_report import print_checklist, run_checks_headless

    if args.list:
        return print_checklist(_load(args), only=args.only, as_json=args.json)
    return run_checks_headless(_load(args), only=args.only, as_json=args.json)


COMMAND_FUNCS = {
    "tui": cmd_tui,
    "train": cmd_train,
    "check": cmd_check,
    "data": cmd_data,
    "runs": cmd_runs,
    "attach": cmd_attach,
}


# ---------------------------------------------------------------------------------------
# following a run in the terminal


def _state_markup(state: str) -> str:
    colour = {
        "finished": "green",
        "failed": "red",
        "stopped": "yellow",
        "running": "cyan",
        "paused": "magenta",
    }.get(state, "white")
    return f"[{colour}]{state}[/]"


def _when(ts: float | None) -> str:
    return time.strftime("%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _metrics_text(metrics: dict[str, Any], digits: int = 4) -> str:
    return " ".join(
        f"{k} {v:.{digits}g}"
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and k != "n"
    )


def follow_run(run, *, stop_on_interrupt: bool, quiet: bool = False, jobs=None) -> int:
    """Show a run's progress until it ends; return the exit code for its final state.

    ``jobs`` is the :class:`~tuirecipe.runs.jobs.JobClient` that started the worker (if
    this process did): it reaps the worker, stops it on Ctrl-C and names how it died.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    from tuirecipe.events import CheckResult, Error, EvalMetrics, Log, StepMetrics
    from tuirecipe.runs.follower import Follower
    from tuirecipe.runs.jobs import JobClient, Signalled
    from tuirecipe.runs.rundir import TERMINAL_STATES

    jobs = jobs if jobs is not None else JobClient()
    console = Console(stderr=True)
    follower = Follower(run)
    last_eval: dict[str, Any] = {}
    last_error: dict[str, Any] = {}
    stop_wanted = stop_sent = False
    console.print(f"run [bold]{run.id}[/] in {run.path.parent}")
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TextColumn("{task.fields[metrics]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    )
    task = progress.add_task("train", total=None, metrics="")
    with progress:
        while True:
            try:
                for event in follower.poll():
                    if isinstance(event, StepMetrics):
                        acc = f" acc {event.acc:.3f}" if event.acc is not None else ""
                        progress.update(
                            task,
                            completed=event.step,
                            metrics=f"loss {event.loss:.4f}{acc} ep {event.epoch:.2f}",
                        )
                    elif isinstance(event, EvalMetrics):
                        last_eval = {"step": event.step, **event.metrics}
                        progress.console.print(
                            f"  eval @ step {event.step}: {_metrics_text(event.metrics)}"
                        )
                    elif isinstance(event, Log):
                        # A log line quotes paths, rows and exceptions: text, not markup.
                        style = "yellow" if event.level == "warning" else "dim"
                        progress.console.print(Text(f"  {event.message}", style=style))
                    elif isinstance(event, Error):
                        last_error = {
                            "message": event.message,
                            "traceback": event.traceback,
                            "user_error": event.user_error,
                        }
                    elif isinstance(event, CheckResult):
                        progress.console.print(
                            Text(f"  check {event.name}: {event.status} — {event.summary}")
                        )
                status = run.read_status()
                if status.get("total_steps") and progress.tasks[0].total is None:
                    progress.update(task, total=status["total_steps"])
                state = run.state()
                if state in TERMINAL_STATES:
                    for event in follower.poll():  # anything written just before the end
                        if isinstance(event, Error):
                            last_error = {
                                "message": event.message,
                                "traceback": event.traceback,
                                "user_error": event.user_error,
                            }
                    break
                jobs.reap()  # a dead worker's pid stops answering once reaped
                if stop_wanted and not stop_sent:  # asked while the worker was starting
                    stop_sent = jobs.control(run, "stop") is not Signalled.STARTING
                time.sleep(0.1)
            except KeyboardInterrupt:
                if not stop_on_interrupt:
                    console.print(
                        f"detached; the run goes on. Re-attach: tuirecipe attach {run.id}"
                    )
                    return EXIT_OK
                if stop_wanted:
                    console.print("stopping… (the run stops after its current step)")
                    continue
                stop_wanted = True
                stop_sent = jobs.control(run, "stop") is not Signalled.STARTING
                console.print("stop requested; waiting for the run to stop after this step")
    jobs.mark_dead_if_stale(run)
    status = run.read_status()
    state = status.get("state", run.state())
    out = Console()
    if last_eval:
        out.print(f"final dev metrics (step {last_eval.pop('step')}): {_metrics_text(last_eval)}")
    out.print(f"run {run.id}: {_state_markup(state)} at step {status.get('step', 0)} — {run.path}")
    if state == "failed":
        message = last_error.get("message") or status.get("message", "failed")
        _print_error(message)
        if last_error.get("traceback") and not last_error.get("user_error"):
            print(last_error["traceback"], file=sys.stderr)
        return EXIT_USER_ERROR if last_error.get("user_error") else EXIT_FAILED
    if state == "stopped":
        return EXIT_STOPPED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
