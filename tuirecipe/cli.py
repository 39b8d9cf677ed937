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
    "compare",
    "eval",
    "stop",
    "resume",
    "sweep",
    "search",
    "seeds",
    "cv",
    "augment-preview",
    "follow",
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
        epilog="commands: tui, train, check, data, runs, attach, stop, resume, compare, eval, "
        "sweep, search, seeds, cv, augment-preview, follow — 'tuirecipe COMMAND --help' for "
        "each. The "
        "console takes --theme NAME (e.g. `tuirecipe --theme ansi16` on a 16-colour "
        "terminal; remembered for next time): 'tuirecipe tui --help'.",
    )
    from tuirecipe import __version__

    parser.add_argument("--version", action="version", version=f"tuirecipe {__version__}")
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
    train.add_argument(
        "--gpus",
        type=int,
        metavar="N",
        help="train data-parallel in N processes under torchrun, one per GPU (sets "
        'train.gpus; train.batch_size is split between them); with train.device = "cpu", '
        "N CPU processes on gloo, to test the multi-process path without a GPU",
    )

    from tuirecipe.checks.base import all_checks  # the registry: no torch, ~30 ms

    automatic = ", ".join(c.name for c in all_checks() if c.kind == "auto")
    by_hand = ", ".join(c.name for c in all_checks() if c.kind != "auto")
    check = sub.add_parser(
        "check",
        help="run the sanity checks headless (exit 1 on a failure)",
        description="Run the automatic sanity checks in a worker process.",
        epilog=f"automatic checks (for --only): {automatic}. Done by hand in the console "
        f"(listed by --list): {by_hand}.",
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
    data.add_argument(
        "--label-noise",
        action="store_true",
        help="also estimate label noise (confident learning on 5-fold TF-IDF + logistic "
        "regression; seconds per 10,000 rows, cached)",
    )
    data.add_argument(
        "--label-noise-from",
        metavar="CV_RUN",
        help="estimate label noise with a `tuirecipe cv` run's out-of-fold probabilities "
        "(its run id or folder) instead of TF-IDF + logistic regression",
    )
    data.add_argument(
        "--audit",
        type=int,
        metavar="N",
        help="label audit: relabel N sampled rows (answers read from stdin), report the "
        "agreement with the given labels and mark the disagreements label-wrong",
    )

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

    from tuirecipe.cli_compare import add_subparser as add_compare_subparser

    evaluate = sub.add_parser(
        "eval",
        help="re-evaluate a run's saved checkpoint",
        description="Load a run's config, vocabulary and checkpoint and evaluate it on the "
        "run's dev split (a fold run: its validation fold) or on FILE, with the code "
        "training evaluates with; prints the figures with their 95 %% intervals and the "
        "checkpoint and step they are from.",
    )
    evaluate.add_argument("run", metavar="RUN", help="run id (or a unique part of it) or path")
    evaluate.add_argument("--runs-dir", default="runs", help="the runs directory (default: runs)")
    evaluate.add_argument(
        "--data", metavar="FILE", help="evaluate on this file (the run's columns and labels)"
    )
    evaluate.add_argument(
        "--checkpoint",
        choices=("kept", "best", "last"),
        default="kept",
        help="kept (model.pt, the default), best (best.pt) or last (last.pt)",
    )
    evaluate.add_argument("--json", action="store_true", help="print the figures as JSON")
    stop = sub.add_parser(
        "stop",
        help="stop a running run",
        description="Ask a run's worker to stop after its current step (the run is "
        "marked stopped; its checkpoints and curves are kept). The signal goes only to a "
        "process that proves to be that run's worker.",
    )
    stop.add_argument("run", metavar="RUN", help="run id (or a unique part of it) or path")
    stop.add_argument("--runs-dir", default="runs", help="the runs directory (default: runs)")

    resume = sub.add_parser(
        "resume",
        help="continue a failed or stopped training run from its checkpoint",
        description="Continue a failed or stopped training run in its own run directory "
        "from resume.pt (written every train.checkpoint_every steps or minutes, and when "
        "it is stopped): the step count goes on, and the step events the interrupted "
        "worker wrote after the checkpoint are superseded. Follows it like train; Ctrl-C "
        "stops it, --detach leaves it running.",
    )
    resume.add_argument("run", metavar="RUN", help="run id (or a unique part of it) or path")
    resume.add_argument("--runs-dir", default="runs", help="the runs directory (default: runs)")
    resume.add_argument("--detach", action="store_true", help="resume the run and return at once")
    resume.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    from tuirecipe.cli_tune import add_subparsers as add_tune_subparsers

    add_compare_subparser(sub, _add_config_args)

    add_tune_subparsers(sub, _add_config_args)
    from tuirecipe.cli_follow import add_subparser as add_follow_subparser

    add_follow_subparser(sub)
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
    from tuirecipe.printable import printable

    # Messages quote rows, paths and exceptions: their control characters are shown.
    print(f"tuirecipe: error: {printable(message)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
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


# Commands that only print: once they are done, the process leaves without tearing the
# interpreter down (freeing a profile's arrays and every module of pandas, pyarrow and
# scikit-learn took 0.3 s after `tuirecipe data` on 1M rows had printed everything).
_QUICK_EXIT = frozenset({"data"})


def entry() -> None:
    """The ``tuirecipe`` command: the console script and ``python -m tuirecipe``.

    :func:`main` stays a plain function (tests call it in their own process).
    """
    argv = sys.argv[1:]
    code = main(argv)
    if argv and argv[0] in _QUICK_EXIT:
        import os

        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # closed by the reader (`| head`): nothing to keep
                pass
        os._exit(code)
    sys.exit(code)


# ---------------------------------------------------------------------------------------
# commands


def cmd_tui(args: argparse.Namespace) -> int:
    config = _load(args)
    from tuirecipe.ui.app import run_app

    return run_app(config, theme=args.theme)


def cmd_train(args: argparse.Namespace) -> int:
    from tuirecipe.runs.jobs import JobClient

    config = _load(args)
    if args.gpus is not None:
        from tuirecipe.config import MAX_GPUS
        from tuirecipe.errors import UserError

        if not 1 <= args.gpus <= MAX_GPUS:
            raise UserError(f"--gpus must be 1 up to {MAX_GPUS}, got {args.gpus}")
        config.train.gpus = args.gpus
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


def cmd_compare(args: argparse.Namespace) -> int:
    from tuirecipe.cli_compare import cmd_compare as compare

    return compare(args)


STOP_STARTING_SECONDS = 15.0  # a worker still starting gets this long to take the signal


def cmd_stop(args: argparse.Namespace) -> int:
    from tuirecipe.errors import UserError
    from tuirecipe.runs.jobs import JobClient, Signalled
    from tuirecipe.runs.rundir import TERMINAL_STATES, open_run_dir

    run = open_run_dir(Path(args.runs_dir), args.run)
    state = run.state()
    if state in TERMINAL_STATES:
        raise UserError(f"run {run.id} is {state}: nothing to stop")
    jobs = JobClient()
    deadline = time.monotonic() + STOP_STARTING_SECONDS
    # A worker still starting has no handler yet (the signal would kill it): wait for it.
    while (result := jobs.control(run, "stop")) is Signalled.STARTING:
        if time.monotonic() > deadline:
            raise UserError(f"run {run.id} is still starting after {STOP_STARTING_SECONDS:g} s")
        time.sleep(0.2)
    if result is Signalled.NO_WORKER and run.read_status().get("job") == "track":
        raise UserError(
            f"run {run.id} is recorded by its own script (pid {run.read_status().get('pid')}), "
            "which tuirecipe never signals: stop that script"
        )
    if result is Signalled.NO_WORKER:
        raise UserError(f"run {run.id} ({state}) has no live worker on this machine to stop")
    print(f"stop sent to run {run.id}; it stops after its current step")
    return EXIT_OK


def cmd_resume(args: argparse.Namespace) -> int:
    from tuirecipe.runs.jobs import JobClient
    from tuirecipe.runs.rundir import open_run_dir

    run = open_run_dir(Path(args.runs_dir), args.run)
    offset = run.events_path.stat().st_size if run.events_path.exists() else 0
    jobs = JobClient()
    jobs.resume(run)
    if args.detach:
        print(run.id)
        return EXIT_OK
    return follow_run(run, stop_on_interrupt=True, quiet=args.quiet, jobs=jobs, offset=offset)


def cmd_runs(args: argparse.Namespace) -> int:
    from rich.text import Text

    from tuirecipe.printable import printable_line
    from tuirecipe.runs.listing import changed_text, list_runs, run_tree

    runs_dir = Path(args.runs_dir) if args.runs_dir else _load(args).runs_path
    runs = list_runs(runs_dir)
    if args.json:
        from tuirecipe.events import finite_or_null

        rows = finite_or_null([r.to_dict() for r in runs])  # strict JSON: a NaN loss is null
        print(json.dumps(rows, indent=2, default=str, allow_nan=False))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    # Piped or captured, nothing wraps the lines: room for the figures and their checkpoint.
    console = Console(width=None if sys.stdout.isatty() else 220)
    if not runs:
        console.print(_literal(f"no runs in {runs_dir}"))
        return EXIT_OK
    # Run ids, folders, notes and motivations are the user's text: Text, never markup.
    table = Table(title=_literal(f"runs in {runs_dir}"), box=None, pad_edge=False)
    # Parents with their children under them (a sweep, a search, cv folds, a run started
    # from another), each child with the keys it changed: the lineage at a glance.
    tree = run_tree(runs)
    names = [
        ("  " * (depth - 1) + "└ " if depth else "") + printable_line(r.id) for depth, r in tree
    ]
    # Whole ids (they are what `attach` and `stop` take): the notes column gives way.
    table.add_column("run", no_wrap=True, min_width=max(20, *(len(n) for n in names)))
    table.add_column("job", no_wrap=True, min_width=max(3, *(len(r.job) for r in runs)))
    table.add_column("state", no_wrap=True, min_width=8)
    table.add_column("started", no_wrap=True, min_width=11)
    table.add_column("time", no_wrap=True, justify="right", min_width=5)
    table.add_column("step", no_wrap=True, justify="right", min_width=4)
    table.add_column("best dev", no_wrap=True, min_width=20)
    has_rate = any(r.throughput for r in runs)
    if has_rate:  # tokens/s; on CUDA TFLOP/s and the share of the card's peak
        table.add_column("throughput", no_wrap=True, overflow="ellipsis", max_width=60)
    has_changed = any(r.changed for _, r in tree)
    if has_changed:
        table.add_column("changed", overflow="ellipsis", no_wrap=True, max_width=40)
    table.add_column("cause / notes", overflow="ellipsis", no_wrap=True, max_width=80)
    for name, (_, r) in zip(names, tree, strict=True):
        cells = [Text(name), _literal(r.job)]  # the name is already printable
        changed = [_literal(changed_text(r.changed))] if has_changed else []
        table.add_row(
            *cells,
            _state_text(r.state),
            _when(r.started),
            _duration(r.duration),
            str(r.last_step),
            _best_text(r),
            *([_literal(r.throughput_text())] if has_rate else []),
            *changed,
            # why a run ended early comes before its notes: the cause is what one looks for
            _literal(
                r.message
                if r.state in ("failed", "stopped") and r.message
                else r.notes_first_line or r.motivation
            ),
        )
    console.print(table)
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.text import Text

    from tuirecipe.runs.reevaluate import reevaluate
    from tuirecipe.runs.rundir import open_run_dir

    run = open_run_dir(Path(args.runs_dir), args.run)
    data = Path(args.data) if args.data else None
    result = reevaluate(run, data_file=data, which=args.checkpoint)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return EXIT_OK
    console = Console()
    what = result.checkpoint
    if result.checkpoint == "model.pt" and result.kept_as:
        what = f"model.pt (the kept {result.kept_as} checkpoint)"
    at = f" @ step {result.step}" if result.step is not None else " (step unknown)"
    console.print(Text(f"run {result.run}: {what}{at}, on {result.split} ({result.n} rows)"))
    for name, value in result.metrics.items():
        lo, hi = result.ci.get(name, [float("nan")] * 2)
        console.print(Text(f"  {name:<5} {value:.6g}  95 % interval [{lo:.4g}, {hi:.4g}]"))
    same = result.matches_recorded()
    if same is not None:
        console.print(
            Text(
                f"  {'equals' if same else 'DIFFERS from'} the evaluation recorded at step "
                f"{result.step}" + ("" if same else f": {result.recorded.get('metrics')}")
            )
        )
    for note in result.notes:
        console.print(Text(f"  note: {note}", style="yellow"))
    return EXIT_OK


def cmd_data(args: argparse.Namespace) -> int:
    from tuirecipe.cli_report import print_profile
    from tuirecipe.data.profiling import keep_freed_memory, without_huge_pages

    if args.audit is not None:
        from tuirecipe.cli_audit import run_label_audit

        return run_label_audit(_load(args), args.audit, as_json=args.json)
    without_huge_pages()  # this process only profiles: see the two functions
    keep_freed_memory()
    return print_profile(
        _load(args),
        as_json=args.json,
        label_noise=args.label_noise or bool(args.label_noise_from),
        noise_from=args.label_noise_from,
    )


def cmd_check(args: argparse.Namespace) -> int:
    from tuirecipe.cli_report import print_checklist, run_checks_headless

    if args.list:
        return print_checklist(_load(args), only=args.only, as_json=args.json)
    return run_checks_headless(_load(args), only=args.only, as_json=args.json)


def cmd_follow(args: argparse.Namespace) -> int:
    from tuirecipe.cli_follow import cmd_follow as follow

    return follow(args)


COMMAND_FUNCS = {
    "follow": cmd_follow,
    "tui": cmd_tui,
    "train": cmd_train,
    "check": cmd_check,
    "data": cmd_data,
    "runs": cmd_runs,
    "attach": cmd_attach,
    "compare": cmd_compare,
    "eval": cmd_eval,
    "stop": cmd_stop,
    "resume": cmd_resume,
}


# ---------------------------------------------------------------------------------------
# following a run in the terminal


def _literal(text: str, style: str = ""):
    """Outside text for a Rich console: never markup, control characters shown escaped
    (an ESC in a row or a path must not reach the terminal as a command)."""
    from rich.text import Text

    from tuirecipe.printable import printable

    return Text(printable(text), style=style)


def _state_text(state: str):
    """A run's state, coloured (a damaged status.json may hold any text: shown literally)."""
    colour = {
        "finished": "green",
        "failed": "red",
        "stopped": "yellow",
        "running": "cyan",
        "paused": "magenta",
    }.get(state, "white")
    return _literal(state, colour)


def _when(ts: float | None) -> str:
    return time.strftime("%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _best_text(summary: Any) -> str:
    """A run's reported dev figures and the checkpoint holding them: ``loss 0.368 acc
    0.888 best.pt@70``."""
    where = ""
    if summary.checkpoint and summary.best_step is not None:
        where = f" {summary.checkpoint}@{summary.best_step}"
    return _metrics_text(summary.best, 3) + where


def _metrics_text(metrics: dict[str, Any], digits: int = 4) -> str:
    return " ".join(
        f"{k} {v:.{digits}g}"
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and k != "n"
    )


def follow_run(
    run, *, stop_on_interrupt: bool, quiet: bool = False, jobs=None, offset: int = 0
) -> int:
    """Show a run's progress until it ends; return the exit code for its final state.

    ``offset``: where in ``events.jsonl`` to start (a resumed run: after its past).

    ``jobs`` is the :class:`~tuirecipe.runs.jobs.JobClient` that started the worker (if
    this process did): it reaps the worker, stops it on Ctrl-C and names how it died.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
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
    follower = Follower(run, offset)
    last_eval: dict[str, Any] = {}
    last_error: dict[str, Any] = {}
    stop_wanted = stop_sent = False
    console.print(
        Text.assemble("run ", _literal(run.id, "bold"), " in ", _literal(str(run.path.parent)))
    )

    class StepsColumn(ProgressColumn):
        """``12/300 steps``; ``12/? steps`` until the worker knows its total."""

        def render(self, task: Any) -> Text:
            total = "?" if task.total is None else str(int(task.total))
            return Text(f"{int(task.completed)}/{total} steps")

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        StepsColumn(),
        TextColumn("{task.fields[metrics]}", markup=False),
        # Two clocks side by side read alike: each says which it is.
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("left"),
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
                            _literal(f"  eval @ step {event.step}: {_metrics_text(event.metrics)}")
                        )
                    elif isinstance(event, Log):
                        # A log line quotes paths, rows and exceptions: text, not markup.
                        style = "yellow" if event.level == "warning" else "dim"
                        progress.console.print(_literal(f"  {event.message}", style))
                    elif isinstance(event, Error):
                        last_error = {
                            "message": event.message,
                            "traceback": event.traceback,
                            "user_error": event.user_error,
                        }
                    elif isinstance(event, CheckResult):
                        progress.console.print(
                            _literal(f"  check {event.name}: {event.status} — {event.summary}")
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
                        _literal(f"detached; the run goes on. Re-attach: tuirecipe attach {run.id}")
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
        step = last_eval.pop("step")
        out.print(_literal(f"final dev metrics (step {step}): {_metrics_text(last_eval)}"))
    from tuirecipe.runs.listing import kept_dev_eval, kept_sentence

    kept = kept_sentence(kept_dev_eval(run))
    if kept:
        out.print(_literal(kept))
    out.print(
        Text.assemble(
            _literal(f"run {run.id}: "),
            _state_text(state),
            _literal(f" at step {status.get('step', 0)} — {run.path}"),
        )
    )
    if state == "failed":
        message = last_error.get("message") or status.get("message", "failed")
        _print_error(message)
        if last_error.get("traceback") and not last_error.get("user_error"):
            from tuirecipe.printable import printable

            print(printable(last_error["traceback"]), file=sys.stderr)
        # status.json says it too, for a run whose error event could not be written (disk full)
        user_error = last_error.get("user_error", status.get("user_error"))
        return EXIT_USER_ERROR if user_error else EXIT_FAILED
    if state == "stopped":
        return EXIT_STOPPED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
