"""Headless reports for the CLI (part of the CLI layer: rich is imported inside functions).

``tuirecipe data``: the dataset profile, drawn by the Data pane's section builders
(:mod:`tuirecipe.ui.profile_render`, Rich only), or JSON.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tuirecipe.config import Config


def print_profile(config: Config, *, as_json: bool = False) -> int:
    from tuirecipe.data.profiling import profile_config

    progress = None
    if not as_json and sys.stderr.isatty():

        def progress(fraction: float, message: str) -> None:
            print(
                f"\r  profiling {fraction:4.0%} {message[:60]:<60}",
                end="",
                file=sys.stderr,
                flush=True,
            )

    data, profile = profile_config(config, progress)
    if progress is not None:
        print("\r" + " " * 80 + "\r", end="", file=sys.stderr)
    prof = profile.to_dict()
    if as_json:
        out = {
            "source": {
                "path": str(data.path),
                "sha256": data.sha256,
                "rows": len(data.frame),
                "skipped": data.skipped,
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
    console.print(
        render_source(str(data.path), len(data.frame), data.sha256, data.skipped, data.notes)
    )
    console.print()
    console.print(render_profile(prof))


# ---------------------------------------------------------------------------------------
# tuirecipe check


def run_checks_headless(config: Config, *, only: list[str], as_json: bool = False) -> int:
    """Run the checks in a worker process; exit 1 when any fails or errors (for CI)."""
    import time

    from tuirecipe.checks.base import all_checks, get_check
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
        print(f"checks run {run.id} in {run.path.parent}", file=sys.stderr)
    try:
        while True:
            for event in follower.poll():
                if event.kind == "check_started" and not as_json:
                    print(f"  … {titles.get(event.name, event.name)}", file=sys.stderr, flush=True)
                elif event.kind == "check_result":
                    results.append(event)
                    if not as_json:
                        _print_check_line(event, titles)
                elif event.kind == "error":
                    error = event.message
            if run.state() in TERMINAL_STATES:
                for event in follower.poll():
                    if event.kind == "check_result":
                        results.append(event)
                        if not as_json:
                            _print_check_line(event, titles)
                    elif event.kind == "error":
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
            print(f"tuirecipe: error: {error or run.read_status().get('message')}", file=sys.stderr)
        return 2
    if not as_json:
        counts = {s: sum(r.status == s for r in results) for s in ("pass", "warn", "fail", "error")}
        print(" · ".join(f"{n} {s}" for s, n in counts.items()) + f" — {run.path}")
    return 1 if failed else 0


def _print_check_line(event: Any, titles: dict[str, str]) -> None:
    mark = {"pass": "\u2713", "warn": "!", "fail": "\u2717", "error": "E"}.get(event.status, "?")
    print(
        f"{mark} {event.status:5} {titles.get(event.name, event.name):32} {event.summary}"
        f"  ({event.seconds:.1f}s)"
    )
    advice = event.evidence.get("advice") if isinstance(event.evidence, dict) else None
    if advice and event.status != "pass":
        print(f"        → {advice}")
