"""``tuirecipe compare RUN RUN…``: runs side by side in the terminal.

The same core functions as the console's compare screen (:mod:`tuirecipe.runs.compare`,
:func:`tuirecipe.tune.seeds.seed_noise_verdict`): the config keys that differ (``--all``:
every key), the best dev figures, a warning when the runs differ in more than one key or
a run changed several against its parent, and the seed-noise verdict for two runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_USER_ERROR = 0, 2


def add_subparser(sub: Any, add_config_args: Any) -> None:
    compare = sub.add_parser(
        "compare",
        help="compare runs: config diff, best dev figures, seed noise",
        description="Compare two or more runs: the config keys that differ, their best "
        "dev figures, a warning when they differ in more than one key, and (for two "
        "training runs) whether the gap exceeds seed noise.",
    )
    compare.add_argument(
        "runs", metavar="RUN", nargs="+", help="run ids (or unique parts of them) or paths"
    )
    compare.add_argument("--runs-dir", default="runs", help="the runs directory (default: runs)")
    compare.add_argument("--all", action="store_true", help="show every config key")
    compare.add_argument("--json", action="store_true", help="print as JSON")


def compare_report(runs: list[Any], show_all: bool = False) -> dict[str, Any]:
    """What ``compare`` prints, as data (the ``--json`` output)."""
    from tuirecipe.runs.compare import compare_configs, compare_warnings
    from tuirecipe.runs.listing import summarize
    from tuirecipe.tune.seeds import seed_noise_verdict

    summaries = [summarize(run) for run in runs]
    rows = compare_configs(runs, only_changed=not show_all)
    warnings = compare_warnings(runs)
    return {
        "runs": [
            {"id": s.id, "job": s.job, "state": s.state, "best": s.best, "parent": s.parent}
            for s in summaries
        ],
        "keys": [{"key": r.key, "values": r.values, "changed": r.changed} for r in rows],
        "changed": sum(r.changed for r in rows),
        "warnings": warnings,
        "seed_noise": seed_noise_verdict(*runs),
    }


def cmd_compare(args: argparse.Namespace) -> int:
    from tuirecipe.errors import RunError
    from tuirecipe.runs.rundir import open_run_dir

    if len(args.runs) < 2:
        raise RunError("compare needs at least two runs", source=str(args.runs_dir))
    runs = [open_run_dir(Path(args.runs_dir), run_id) for run_id in args.runs]
    if len({run.path for run in runs}) < len(runs):
        raise RunError("the same run is named twice", source=str(args.runs_dir))
    report = compare_report(runs, show_all=args.all)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return EXIT_OK
    _print_report(report)
    return EXIT_OK


def _value(value: Any) -> str:
    return "-" if value is None else str(value)


def _print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    # Run ids, config values and paths are the user's text: Text, never markup.
    table = Table(box=None, pad_edge=False)
    table.add_column("", no_wrap=True)
    for run in report["runs"]:
        table.add_column(Text(run["id"]), overflow="fold")
    table.add_row("job", *(Text(r["job"]) for r in report["runs"]))
    table.add_row("state", *(Text(r["state"]) for r in report["runs"]))
    names = sorted({k for r in report["runs"] for k in r["best"] if k != "n"})
    for name in names:
        cells = [r["best"].get(name) for r in report["runs"]]
        table.add_row(
            Text(f"best dev {name}"),
            *(Text(f"{v:.4g}" if isinstance(v, (int, float)) else "-") for v in cells),
        )
    changed = report["changed"]
    title = "config keys" if any(not k["changed"] for k in report["keys"]) else "changed keys"
    table.add_row(Text(f"{title} ({changed} differ)", style="bold"), *("" for _ in report["runs"]))
    for row in report["keys"]:
        style = "bold" if row["changed"] else ""
        table.add_row(
            Text(("* " if row["changed"] else "  ") + row["key"], style=style),
            *(Text(_value(v), style=style) for v in row["values"]),
        )
    if not report["keys"]:
        table.add_row(Text("  (the configs are identical)"), *("" for _ in report["runs"]))
    console.print(table)
    for warning in report["warnings"]:
        console.print(Text(f"warning: {warning}"), style="yellow")
    console.print(Text(f"seed noise: {report['seed_noise']}"))
