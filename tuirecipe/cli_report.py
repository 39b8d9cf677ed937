"""Headless reports for the CLI (part of the CLI layer: rich is imported inside functions).

``tuirecipe data``: the dataset profile, drawn by the Data pane's section builders
(:mod:`tuirecipe.ui.profile_render`, Rich only), or JSON. ``tuirecipe check``: the checks
run in a worker, their results printed as they come; ``tuirecipe check --list``: the
remembered checklist, each result current or stale for the config.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tuirecipe.config import Config
from tuirecipe.printable import printable


def print_profile(
    config: Config,
    *,
    as_json: bool = False,
    label_noise: bool = False,
    noise_from: str | None = None,
) -> int:
    from tuirecipe.data.profiling import profile_config

    progress = None
    if not as_json and sys.stderr.isatty():

        def progress(fraction: float, message: str) -> None:
            print(
                f"\r  profiling {fraction:4.0%} {printable(message[:60]):<60}",
                end="",
                file=sys.stderr,
                flush=True,
            )

    data, profile = profile_config(config, progress)
    if progress is not None:
        print("\r" + " " * 80 + "\r", end="", file=sys.stderr)
    prof = profile.to_dict()
    if label_noise:
        from tuirecipe.data.label_noise_run import noise_report

        if noise_from:
            from tuirecipe.tune.cv_noise import label_noise_from_cv

            prof["label_noise"] = label_noise_from_cv(config, data, noise_from).section
        else:
            prof["label_noise"] = noise_report(config, data, profile, progress)
        if progress is not None:
            print("\r" + " " * 80 + "\r", end="", file=sys.stderr)
    if as_json:
        out = {
            "source": {
                "path": str(data.path),
                "sha256": data.sha256,
                "rows": len(data.frame),
                "rows_read": len(data.frame) + data.skipped,
                "skipped": data.skipped,
                "train_rows": data.n_train,
                "dev_rows": data.n_dev,
                "counts": data.counts_line(),
                "skipped_rows": data.skipped_rows,  # every one: row, line, reason
                "notes": data.notes,
            },
            "profile": prof,
        }
        print(json.dumps(out, indent=2, default=str))
        return 0
    _print_profile_tables(data, prof)
    return 0


def _print_profile_tables(data: Any, prof: dict[str, Any]) -> None:
    """The profile as the Data pane shows it: the same section builders, one under the
    other instead of in collapsibles."""
    from rich.console import Console

    from tuirecipe.ui.profile_render import render_profile, render_source

    console = Console()
    console.print(render_source(str(data.path), data.counts_line(), data.sha256, data.notes))
    console.print()
    console.print(render_profile(prof))


# ---------------------------------------------------------------------------------------
# tuirecipe check


def run_checks_headless(config: Config, *, only: list[str], as_json: bool = False) -> int:
    """Run the checks in a worker process; exit 1 when any fails or errors (for CI)."""
    import time

    from tuirecipe.checks.base import STATUSES, all_checks, get_check
    from tuirecipe.events import CheckResult, CheckStarted, Error
    from tuirecipe.runs.follower import Follower
    from tuirecipe.runs.jobs import JobClient, Signalled
    from tuirecipe.runs.rundir import TERMINAL_STATES

    for name in only:
        check = get_check(name)  # an unknown name is a user error before any work
        if check.kind != "auto":
            from tuirecipe.errors import UserError

            raise UserError(f"check '{name}' is {check.kind}: tick it in the console")
    titles = {c.name: c.title for c in all_checks()}
    jobs = JobClient()
    job = jobs.start(config, "check", args={"only": only})
    run = job.run
    assert run is not None
    follower = Follower(run)
    results: list[Any] = []
    error = ""
    if not as_json:
        from tuirecipe.checks.fingerprint import CurrentInputs

        ran_on = CurrentInputs(config).for_check("").describe()
        print(printable(f"checks run {run.id} in {run.path.parent} on {ran_on}"), file=sys.stderr)
    try:
        while True:
            for event in follower.poll():
                if isinstance(event, CheckStarted) and not as_json:
                    print(f"  … {titles.get(event.name, event.name)}", file=sys.stderr, flush=True)
                elif isinstance(event, CheckResult):
                    results.append(event)
                    if not as_json:
                        _print_check_line(event, titles)
                elif isinstance(event, Error):
                    error = event.message
            if run.state() in TERMINAL_STATES:
                for event in follower.poll():
                    if isinstance(event, CheckResult):
                        results.append(event)
                        if not as_json:
                            _print_check_line(event, titles)
                    elif isinstance(event, Error):
                        error = event.message
                break
            jobs.reap()
            time.sleep(0.1)
    except KeyboardInterrupt:
        # A worker still starting is waited for: a stop before its handlers would kill it.
        deadline = time.monotonic() + 60
        while jobs.control(run, "stop") is Signalled.STARTING and time.monotonic() < deadline:
            time.sleep(0.1)
        jobs.wait(job, timeout=60)
        print("checks stopped", file=sys.stderr)
        return 130
    jobs.mark_dead_if_stale(run)
    state = run.read_status().get("state")
    if as_json:
        print(
            json.dumps(
                {
                    "run": run.id,
                    "state": state,
                    "error": error,
                    "results": [r.to_dict() for r in results],
                },
                indent=2,
                default=str,
            )
        )
    failed = [r for r in results if r.status in ("fail", "error")]
    if state == "failed":
        if not as_json:
            message = error or run.read_status().get("message")
            print(printable(f"tuirecipe: error: {message}"), file=sys.stderr)
        return 2
    if not as_json:
        counts = {s: sum(r.status == s for r in results) for s in STATUSES}
        print(printable(" · ".join(f"{n} {s}" for s, n in counts.items()) + f" — {run.path}"))
    return 1 if failed else 0


def _print_check_line(event: Any, titles: dict[str, str]) -> None:
    mark = {"pass": "\u2713", "warn": "!", "fail": "\u2717", "error": "E"}.get(event.status, "?")
    # Summaries and advice quote rows, labels and exceptions: control characters shown.
    print(
        printable(
            f"{mark} {event.status:5} {titles.get(event.name, event.name):32} {event.summary}"
            f"  ({event.seconds:.1f}s)"
        )
    )
    advice = event.evidence.get("advice") if isinstance(event.evidence, dict) else None
    if advice and event.status != "pass":
        print(printable(f"        → {advice}"))


# ---------------------------------------------------------------------------------------
# tuirecipe check --list


def print_checklist(config: Config, *, only: list[str], as_json: bool = False) -> int:
    """The remembered checklist for ``config``, each entry current or stale; runs nothing.

    Exit 1 when a current result failed or errored, else 0 (stale results and stopped
    checks count for nothing).
    """
    from tuirecipe.checks.base import all_checks, get_check
    from tuirecipe.checks.fingerprint import CurrentInputs
    from tuirecipe.checks.store import ResultView, checklist_view

    checks = [get_check(name) for name in only] if only else all_checks()
    inputs = CurrentInputs(config)
    view = checklist_view(config, inputs=inputs)
    rows: list[dict[str, Any]] = []
    for check in checks:
        entries: list[ResultView | None]
        if check.kind == "interactive":
            entries = [view.human_baseline]
        elif check.kind == "manual":
            entries = [view.ticks.get(check.name)]
        else:  # an automatic check, perhaps also confirmed by hand (the input view)
            entries = [view.results.get(check.name)]
            if check.name in view.ticks:
                entries.append(view.ticks[check.name])
        for entry in entries:
            rows.append(_checklist_row(check, entry))
    failed = any(r["counts_as"] in ("fail", "error") for r in rows)
    if as_json:
        out = {
            "runs_dir": str(config.runs_path),
            "config": config.source,
            "now": inputs.for_check("").describe(),
            "checks": rows,
        }
        print(json.dumps(out, indent=2, default=str))
        return 1 if failed else 0
    print(printable(f"checklist in {config.runs_path} for {inputs.for_check('').describe()}"))
    for row in rows:
        _print_checklist_row(row)
    tally = {s: sum(r["counts_as"] == s for r in rows) for s in ("pass", "warn", "fail", "error")}
    tally_text = [f"{n} {s}" for s, n in tally.items()]
    tally_text.append(f"{sum(r['shown'] == 'stale' for r in rows)} stale")
    undone = ("not run", "not ticked", "not done")
    tally_text.append(f"{sum(r['shown'] in undone for r in rows)} not done yet")
    print(" · ".join(tally_text))
    return 1 if failed else 0


def _checklist_row(check: Any, entry: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"name": check.name, "title": check.title, "kind": check.kind}
    if entry is None:
        none = {"manual": "not ticked", "interactive": "not done"}.get(check.kind, "not run")
        return {**row, "shown": none, "current": False, "counts_as": None}
    return {
        **row,
        "record": entry.kind,
        "shown": entry.shown_status,
        "status": entry.status,
        "current": entry.current,
        "counts_as": entry.counts_as,
        "stale_reason": entry.stale_reason,
        "summary": entry.summary,
        "ran_on": entry.ran_on,
        "run_id": entry.run_id,
        "time": entry.time,
    }


_MARKS = {
    "pass": "\u2713",
    "warn": "!",
    "fail": "\u2717",
    "error": "E",
    "stopped": "-",
    "ticked": "\u2611",
    "done": "\u2713",
    "stale": "~",
}


def _print_checklist_row(row: dict[str, Any]) -> None:
    shown = row["shown"]
    title = row["title"] or row["name"]
    if row.get("record") == "tick" and row["kind"] == "auto":
        title = f"{title} (tick)"
    if shown == "stale":
        # The old verdict stays out of the verdict column: it is history, not today's.
        was = f" (was {row['status']})" if row.get("status") else ""
        print(printable(f"~ {'stale':10} {title:40} {row['stale_reason']}{was}"))
    elif shown in ("not run", "not ticked", "not done"):
        print(f"\u00b7 {shown:10} {title}")
    else:
        print(printable(f"{_MARKS.get(shown, '?')} {shown:10} {title:40} {row['summary']}"))
