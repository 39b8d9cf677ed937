"""Headless tuning commands: ``sweep``, ``search``, ``seeds``, ``cv``, ``augment-preview``.

Only argparse at import time (``--help`` stays instant); rich and the tuning code are
imported by the command that runs.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

TUNE_COMMANDS = ("sweep", "search", "seeds", "cv", "augment-preview")


def add_subparsers(sub: Any, add_config_args: Callable[..., None]) -> None:
    def common(p: argparse.ArgumentParser) -> None:
        add_config_args(p)
        p.add_argument(
            "--parallel",
            "-j",
            type=int,
            default=0,
            metavar="N",
            help="worker processes at once (default: cpu_count // 2 on CPU, one per GPU)",
        )
        p.add_argument(
            "--per-gpu",
            type=int,
            default=1,
            metavar="N",
            help="small runs sharing each GPU at once (default 1; no effect on CPU)",
        )
        p.add_argument("--motivation", "-m", default="", help="one line on why (meta.json)")
        p.add_argument("--json", action="store_true", help="print the summary as JSON")

    sweep = sub.add_parser(
        "sweep",
        help="controlled experiment: one key, several values",
        description="One child run per value of one config key; each "
        "records its parent and the one changed key.",
    )
    common(sweep)
    sweep.add_argument(
        "--vary",
        required=True,
        metavar="SECTION.KEY=V1,V2,…",
        help="the key and its values, e.g. train.lr=1e-4,3e-4,1e-3",
    )

    search = sub.add_parser(
        "search",
        help="search a space in TOML with Optuna (TPE, pruning, shared studies)",
        description="Hyper-parameter search on Optuna: trials drawn from a [space] TOML "
        "file (conditional keys with when = {...}) by TPE or at random, hopeless ones "
        "pruned, each run as a tuirecipe run; results sorted, the best config written "
        "out. With --storage and --study, a search resumes where it stopped and several "
        "processes (or machines) share one study.",
    )
    common(search)
    search.add_argument(
        "--space", required=True, metavar="SPACE.toml", help="TOML file with a [space] table"
    )
    search.add_argument(
        "--trials",
        "-n",
        type=int,
        default=10,
        help="trials the study should hold (complete, pruned or running; default 10)",
    )
    search.add_argument(
        "--budget",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="time budget (0 = none): no trial starts after it, running ones are stopped",
    )
    search.add_argument(
        "--seed", type=int, default=None, help="sampling seed (default: the config's seed)"
    )
    search.add_argument(
        "--sampler", choices=("tpe", "random"), default="tpe", help="how trials are drawn"
    )
    search.add_argument(
        "--pruner",
        choices=("none", "median", "halving", "hyperband"),
        default="none",
        help="stop hopeless trials at their dev evaluations (default: none)",
    )
    search.add_argument("--prune", action="store_true", help="the same as --pruner median")
    search.add_argument(
        "--warmup-steps",
        type=int,
        default=0,
        metavar="STEPS",
        help="no pruning before this step (median); the first rung (halving, hyperband)",
    )
    search.add_argument(
        "--metric",
        default=None,
        metavar="NAME[,NAME]",
        help="dev metric of each trial's kept checkpoint to optimise (loss, acc, macro_f1, "
        "mse, mae, rmse, spearman; maximised where higher is better; default: the one "
        "train.monitor names); two or more, e.g. macro_f1,time, for a multi-objective "
        "search (time: training seconds)",
    )
    search.add_argument(
        "--storage",
        default="",
        metavar="URL",
        help="Optuna storage to resume and share the study: sqlite:///search.db, any "
        "RDB URL, or journal:FILE (default: in memory, this process only)",
    )
    search.add_argument("--study", default="", metavar="NAME", help="study name in the storage")
    search.add_argument("--out", default="", help="also write the best config here")

    seeds = sub.add_parser(
        "seeds",
        help="repeat a config over k seeds: mean ± std",
        description="Train the config with k seeds; mean ± std of the dev metric.",
    )
    common(seeds)
    seeds.add_argument("-k", type=int, default=3, help="number of seeds (default 3)")

    cv = sub.add_parser(
        "cv",
        help="stratified k-fold cross-validation + ensemble",
        description="k fold runs on the training split; per-fold metrics, "
        "mean ± std, and the fold ensemble on the held-out dev "
        "split.",
    )
    common(cv)
    cv.add_argument("-k", type=int, default=5, help="number of folds (default 5)")

    prev = sub.add_parser(
        "augment-preview",
        help="show training examples next to their augmented versions",
        description="Print original vs augmented training examples, with "
        "the config's [augment] settings.",
    )
    add_config_args(prev)
    prev.add_argument("-n", type=int, default=10, help="number of examples (default 10)")


def _load(args: argparse.Namespace):
    from tuirecipe.cli import _load as load

    return load(args)


def _check_positive(name: str, value: int, low: int = 1) -> None:
    from tuirecipe.errors import UserError

    if value < low:
        raise UserError(f"{name} must be at least {low}, got {value}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return "-" if value is None else str(value)


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from tuirecipe.printable import printable

    def literal(text: str) -> Text:  # swept values, keys and run ids: text, never markup
        return Text(printable(text))

    table = Table(title=literal(title))
    for col in columns:
        table.add_column(literal(col))
    for row in rows:
        table.add_row(*[literal(_fmt(v)) for v in row])
    # Piped or captured, nothing wraps the lines: room for whole run ids and headers.
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _kept(result: dict[str, Any]) -> str:
    """``best.pt@120``: the checkpoint a row's figures are from (``-`` when none)."""
    if result.get("checkpoint") and result.get("best_step") is not None:
        return f"{result['checkpoint']}@{result['best_step']}"
    return "-"


def _emit_json(summary: dict[str, Any]) -> None:
    from tuirecipe.events import finite_or_null

    # strict JSON for other tools: a diverged trial's NaN is null
    print(json.dumps(finite_or_null(summary), indent=2, default=str, allow_nan=False))


def _per_gpu(args: argparse.Namespace, config: Any) -> int:
    """``--per-gpu``, checked; a line on stderr when it cannot apply here."""
    import sys

    from tuirecipe.tune.pool import per_gpu_note

    _check_positive("--per-gpu", args.per_gpu)
    note = per_gpu_note(args.per_gpu, config.train.device)
    if note:
        print(note, file=sys.stderr)
    return int(args.per_gpu)


def _exit_code(results: list[dict[str, Any]]) -> int:
    return 0 if all(r["state"] in ("finished", "stopped") for r in results) else 1


def cmd_sweep(args: argparse.Namespace) -> int:
    from tuirecipe.tune.sweep import parse_vary, run_sweep

    config = _load(args)
    key, values = parse_vary(args.vary)
    summary = run_sweep(
        config,
        key,
        values,
        parallel=args.parallel or None,
        per_gpu=_per_gpu(args, config),
        motivation=args.motivation,
    )
    if args.json:
        _emit_json(summary)
    else:
        _table(
            f"sweep {key} (parent {summary['parent']})",
            [key, "state", "steps", "best dev loss", "acc", "kept", "run"],
            [
                [
                    r["value"],
                    r["state"],
                    r["steps"],
                    r["best"].get("loss"),
                    r["best"].get("acc", r["best"].get("mse")),
                    _kept(r),
                    r["run"],
                ]
                for r in summary["results"]
            ],
        )
    return _exit_code(summary["results"])


def cmd_search(args: argparse.Namespace) -> int:
    from tuirecipe.printable import printable
    from tuirecipe.tune.search import run_search
    from tuirecipe.tune.space import format_value, load_space

    _check_positive("--trials", args.trials)
    _check_positive("--warmup-steps", args.warmup_steps, low=0)
    if args.study and not args.storage:
        from tuirecipe.errors import ConfigError

        raise ConfigError(
            "a study name needs --storage (a study in memory ends with the process)",
            source="--study",
        )
    config = _load(args)
    if args.metric is not None:
        from tuirecipe.errors import UserError
        from tuirecipe.monitor import TASK_METRICS
        from tuirecipe.tune.search import TIME, parse_objectives

        known = TASK_METRICS[config.data.task]
        for name in parse_objectives(args.metric):
            if name not in known and name != TIME:
                raise UserError(
                    f"--metric {name}: a {config.data.task} run records "
                    f"{', '.join(known)} on dev (and '{TIME}' is the training time)"
                )
    space = load_space(args.space)
    summary = run_search(
        config,
        space,
        trials=args.trials,
        seed=args.seed,
        budget_s=args.budget or None,
        parallel=args.parallel or None,
        per_gpu=_per_gpu(args, config),
        metric=args.metric,
        sampler=args.sampler,
        pruner="median" if args.prune and args.pruner == "none" else args.pruner,
        warmup_steps=args.warmup_steps,
        storage=args.storage or None,
        study_name=args.study or None,
        motivation=args.motivation,
        best_out=Path(args.out) if args.out else None,
    )
    if args.json:
        _emit_json(summary)
    else:
        keys = [d.key for d in space.dimensions]
        objective = summary["objectives"][0]
        rows = []
        for r in summary["results"]:
            if r["budget_stopped"] and r["trial_state"] == "fail":
                state = "budget"
            elif r["trial_state"] == "fail":
                state = r["state"]
            else:
                state = r["trial_state"]
            value = r["value"]
            shown = "-" if value is None else f"{value:.4g}"
            if r.get("ci") and r["trial_state"] == "complete":
                low, high = r["ci"]
                shown += f" [{low:.3g}, {high:.3g}]"
            rows.append(
                [
                    "*" if r["best_trial"] else "",
                    r["trial"],
                    *(format_value(r["values"].get(k, "-")) for k in keys),
                    state,
                    r["steps"],
                    shown,
                    *([f"{r['seconds']:.1f}"] if len(summary["objectives"]) > 1 else []),
                    _kept(r),
                    r["run"],
                ]
            )
        direction = "highest" if summary["directions"][0] == "maximize" else "lowest"
        _table(
            f"search (parent {summary['parent']}, study {summary['study']}), "
            f"{direction} dev {objective} first; * best"
            + (" (Pareto front)" if len(summary["objectives"]) > 1 else ""),
            [
                "",
                "trial",
                *keys,
                "state",
                "steps",
                f"dev {objective} [95% CI]",
                *(["seconds"] if len(summary["objectives"]) > 1 else []),
                "kept",
                "run",
            ],
            rows,
        )
        counts = ", ".join(f"{n} {state}" for state, n in summary["study_trials"].items())
        print(f"study {summary['study']}: {counts}")
        if summary["best_config"]:
            best = summary["best"]
            print(
                printable(
                    f"best config: {summary['best_config']} (trial {best['trial']}, "
                    f"run {best['run']})"
                )
            )
    return _exit_code(summary["results"])


def cmd_seeds(args: argparse.Namespace) -> int:
    from tuirecipe.tune.seeds import run_seeds

    _check_positive("-k", args.k)
    config = _load(args)
    summary = run_seeds(
        config,
        args.k,
        parallel=args.parallel or None,
        per_gpu=_per_gpu(args, config),
        motivation=args.motivation,
    )
    if args.json:
        _emit_json(summary)
    else:
        _table(
            f"seeds (parent {summary['parent']})",
            ["seed", "state", "steps", "dev loss", f"dev {summary['metric']}", "kept", "run"],
            [
                [
                    r["seed"],
                    r["state"],
                    r["steps"],
                    r["best"].get("loss"),
                    r["best"].get(summary["metric"]),
                    _kept(r),
                    r["run"],
                ]
                for r in summary["results"]
            ],
        )
        print(
            f"dev {summary['metric']}: {summary['mean']:.4f} ± {summary['std']:.4f} "
            f"(mean ± std over {args.k} seeds); dev loss {summary['loss_mean']:.4f} ± "
            f"{summary['loss_std']:.4f}"
        )
    return _exit_code(summary["results"])


def cmd_cv(args: argparse.Namespace) -> int:
    from tuirecipe.tune.cv import run_cv

    _check_positive("-k", args.k, 2)
    config = _load(args)
    summary = run_cv(
        config,
        args.k,
        parallel=args.parallel or None,
        per_gpu=_per_gpu(args, config),
        motivation=args.motivation,
    )
    if args.json:
        _emit_json(summary)
        return _exit_code(summary["folds"])
    m = summary["metric"]
    _table(
        f"{args.k}-fold cross-validation (parent {summary['parent']})",
        ["fold", "state", "steps", f"validation {m}", f"held-out {m}", "kept", "run"],
        [
            [
                i + 1,
                f["state"],
                f["steps"],
                f.get("validation", {}).get(m),
                f.get("heldout", {}).get(m),
                _kept(f),
                f["run"],
            ]
            for i, f in enumerate(summary["folds"])
        ],
    )
    print(
        f"validation {m}: {summary['validation_mean']:.4f} ± {summary['validation_std']:.4f}"
        f" (mean ± std over folds)"
    )
    print(
        f"held-out {m}, single models: {summary['heldout_single_mean']:.4f} ± "
        f"{summary['heldout_single_std']:.4f}"
    )
    if "ensemble" in summary:
        lo, hi = summary["ensemble_gain_over_mean_ci"]
        blo, bhi = summary["ensemble_gain_over_best_ci"]
        print(
            f"held-out {m}, ensemble of {summary['members']}: {summary['ensemble'][m]:.4f} "
            f"(gain {summary['ensemble_gain_over_mean']:+.4f} [{lo:+.4f}, {hi:+.4f}] over "
            f"the mean single model, {summary['ensemble_gain_over_best']:+.4f} "
            f"[{blo:+.4f}, {bhi:+.4f}] over the best; 95 % intervals: "
            f"{summary['ensemble_gain_method']})"
        )
    print("each fold's figures and held-out outputs are from its kept checkpoint (train.keep)")
    return _exit_code(summary["folds"])


def cmd_augment_preview(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from tuirecipe.data.augment import preview
    from tuirecipe.data.prepare import prepare_data
    from tuirecipe.printable import printable

    _check_positive("-n", args.n)
    config = _load(args)
    data = prepare_data(config, augment=False)
    vocab_tokens = [t for t in data.vocab.itos[2:]]
    pairs = preview(
        data.train.texts, args.n, config.augment, config.seed, vocab_tokens, data.vocab.lowercase
    )
    console = Console()
    a = config.augment
    state = "enabled" if a.enabled else "disabled in the config (previewed anyway)"
    console.print(
        f"[bold]augmentation[/] {state}: p_delete {a.p_delete}, p_swap {a.p_swap}, "
        f"p_insert {a.p_insert}, p_replace {a.p_replace}, copies {a.copies}"
    )
    for i, (orig, aug) in enumerate(pairs, 1):
        # rows from the data: markup escaped, control characters shown (never sent)
        orig, aug = escape(printable(orig)), escape(printable(aug))
        console.print(f"[bold]{i}[/] [dim]original [/] {orig}", highlight=False)
        console.print(f"  [dim]augmented[/] {aug}", highlight=False)
    return 0


def stopped_by_sigterm(command: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Run a tuning command so that SIGTERM (the console quitting with "stop", or
    ``kill``) ends it as Ctrl-C does: its workers are asked to stop and waited for, and
    its parent run is marked stopped. Pause and resume signals, meant for workers, are
    ignored rather than left to kill it. The previous handlers come back afterwards."""

    def run(args: argparse.Namespace) -> int:
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return command(args)

        def interrupt(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        wanted: dict[signal.Signals, Any] = {
            signal.SIGTERM: interrupt,
            signal.SIGUSR1: signal.SIG_IGN,
            signal.SIGUSR2: signal.SIG_IGN,
        }
        before = {sig: signal.signal(sig, handler) for sig, handler in wanted.items()}
        try:
            return command(args)
        finally:
            for sig, handler in before.items():
                signal.signal(sig, handler)

    return run


COMMAND_FUNCS = {
    "sweep": stopped_by_sigterm(cmd_sweep),
    "search": stopped_by_sigterm(cmd_search),
    "seeds": stopped_by_sigterm(cmd_seeds),
    "cv": stopped_by_sigterm(cmd_cv),
    "augment-preview": cmd_augment_preview,
}
