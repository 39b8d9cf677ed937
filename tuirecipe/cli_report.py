"""Headless reports for the CLI (part of the CLI layer: rich is imported inside functions).

``tuirecipe data``: the dataset profile as tables, or JSON.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tuirecipe.config import Config


def _bar(fraction: float, width: int = 30) -> str:
    full = max(0, min(width, round(fraction * width)))
    return "█" * full + "·" * (width - full)


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
    from rich.console import Console
    from rich.table import Table

    console = Console()
    size = prof["size"]
    console.rule(f"[bold]{data.path}")
    console.print(
        f"rows {size['rows']:,} (train {size['train_rows']:,} / dev "
        f"{size['dev_rows']:,}) · skipped {data.skipped} · vocab "
        f"{size['vocab_size']:,} · dev OOV {size.get('dev_oov_rate', 0):.1%} · "
        f"sha256 {data.sha256[:12]}"
    )
    for note in data.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(f"[bold]size:[/] {size['scale_advice']}")

    labels = prof["labels"]
    if labels.get("kind") == "classification":
        table = Table(
            title=f"labels (imbalance {labels['imbalance_ratio']:.1f}×"
            f"{', long tail' if labels['long_tail'] else ''})"
        )
        table.add_column("label")
        table.add_column("count", justify="right")
        table.add_column("%", justify="right")
        table.add_column("")
        top = max((c["count"] for c in labels["counts"]), default=1)
        for c in labels["counts"]:
            table.add_row(
                str(c["label"]), f"{c['count']:,}", f"{c['percent']:.1f}", _bar(c["count"] / top)
            )
        console.print(table)
    else:
        console.print(
            f"[bold]target:[/] mean {labels.get('mean', 0):.4g} · std {labels.get('std', 0):.4g}"
        )

    lengths = prof["lengths"]
    console.print(
        f"[bold]lengths[/] ({lengths['unit']}): p50 {lengths['p50']:.0f} · p90 "
        f"{lengths['p90']:.0f} · p95 {lengths['p95']:.0f} · p99 {lengths['p99']:.0f}"
        f" · max {lengths['max']:,} → suggested max_len "
        f"{lengths['suggested_max_len']} (configured {lengths['max_len']}, "
        f"truncates {lengths.get('truncation_rate', 0):.1%})"
    )

    table = Table(title="duplicates and conflicting labels")
    for col in ("normalisation", "surplus rows", "repeated texts", "conflicting texts"):
        table.add_column(col, justify="right" if col != "normalisation" else "left")
    for level in ("exact", "case_space", "loose"):
        dup, conf = prof["duplicates"][level], prof["conflicts"][level]
        table.add_row(
            level,
            f"{dup['surplus_rows']:,}",
            f"{dup['repeated_texts']:,}",
            f"{conf['conflicting_texts']:,}",
        )
    console.print(table)
    for group in prof["conflicts"]["case_space"]["groups"][:5]:
        console.print(
            f"  conflict rows {group['rows'][:6]}: {group['labels']} — {group['text'][:70]!r}"
        )

    near = prof.get("near_duplicates", {})
    if near.get("ran"):
        leak = near.get("leakage", {})
        sampled = f" (sampled {near['sample_size']:,})" if near.get("sampled") else ""
        console.print(
            f"[bold]near-duplicates:[/] {near['pairs']:,} pairs in train{sampled}"
            f" · train↔dev leakage {leak.get('pairs', 0):,} pairs"
        )

    corrupted = prof.get("corrupted", {})
    table = Table(title="corrupted rows")
    for col in ("category", "rows", "first rows"):
        table.add_column(col)
    for name, item in corrupted.get("categories", corrupted).items():
        if isinstance(item, dict) and item.get("count"):
            table.add_row(name, f"{item['count']:,}", ", ".join(map(str, item.get("rows", [])[:8])))
    console.print(table)

    clusters = prof.get("clusters", {})
    if clusters.get("clusters"):
        table = Table(
            title="clusters (TF-IDF → SVD → k-means)"
            f"{' on a sample' if clusters.get('sampled') else ''}"
        )
        for col in ("#", "size", "top terms", "label mix"):
            table.add_column(col)
        for i, c in enumerate(clusters["clusters"]):
            mix = ", ".join(f"{k} {v}" for k, v in list(c.get("labels", {}).items())[:3])
            flag = " [red]mixed[/]" if c.get("mixed") else ""
            table.add_row(
                str(i), f"{c['size']:,}", " ".join(c.get("top_terms", [])[:6]), mix + flag
            )
        console.print(table)
    for line in prof.get("advice", []):
        console.print(f"[bold]advice:[/] {line}")


# ---------------------------------------------------------------------------------------
# tuirecipe check


def run_checks_headless(config: Config, *, only: list[str], as_json: bool = False) -> int:
    """Run the checks in a worker process; exit 1 when any fails or errors (for CI)."""
    import time

    from tuirecipe.checks.base import STATUSES, all_checks, get_check
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
        counts = {s: sum(r.status == s for r in results) for s in STATUSES}
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
