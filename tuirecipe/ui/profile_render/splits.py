"""Section builders for where the numbers come from: the scope line (what "all rows"
are), the per-split table (the same counts within train and within dev) and the rows
the loader skipped (with their line numbers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tuirecipe.ui.profile_render.cells import cut, num, pct, pick

_LEVEL_NAMES = (("exact", "exact"), ("case_space", "case + space"))


def render_scope(data: Mapping[str, Any]) -> RenderableType:
    line = Text()
    line.append("All rows: ", style="bold")
    line.append(str(pick(data, "whole", default="every row profiled")))
    parts: list[RenderableType] = [line]
    note = pick(data, "note")
    if note:
        parts.append(Text(str(note), style="dim"))
    return Group(*parts)


def _split_parts(data: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    names = ["all", *(pick(data, "names", default=["train", "dev"]) or [])]
    return [(str(n), data[n]) for n in names if isinstance(data.get(n), Mapping)]


def render_splits(data: Mapping[str, Any]) -> RenderableType:
    if pick(data, "ran") is False:
        return Text(str(pick(data, "reason", default="no split")), style="italic")
    parts = _split_parts(data)
    if not parts:
        return Text("no split")
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("within split", style="bold", no_wrap=True)
    for name, _ in parts:
        table.add_column(name, justify="right")

    def row(title: str, value: Any) -> None:
        table.add_row(title, *(Text(value(part)) for _, part in parts))

    row("rows", lambda p: num(pick(p, "rows")))
    if any(isinstance(pick(p, "targets"), Mapping) for _, p in parts):
        row("target mean ± std", _targets)
    for level, title in _LEVEL_NAMES:
        row(
            f"duplicates, {title} (surplus rows)",
            lambda p, lv=level: num(
                pick(pick(p, "duplicates", default={}), lv, default={}).get("surplus_rows", 0)
            ),
        )
    for level, title in _LEVEL_NAMES:
        row(
            f"conflicts, {title} (texts)",
            lambda p, lv=level: num(
                pick(pick(p, "conflicts", default={}), lv, default={}).get("conflicting_texts", 0)
            ),
        )
    row("length p50 / p95 (tokens)", lambda p: _lengths(pick(p, "lengths", default={})))
    row(
        f"truncated at max_len {num(pick(data, 'max_len'))}",
        lambda p: _truncated(pick(p, "lengths", default={})),
    )
    row("corrupted findings (excl. extreme length)", _corrupted)
    label_rows = _label_rows(parts)
    out: list[RenderableType] = [table]
    if label_rows:
        labels = Table(box=None, padding=(0, 1), show_edge=False)
        labels.add_column("label", no_wrap=True)
        for name, _ in parts:
            labels.add_column(name, justify="right")
        for label, cells in label_rows:
            labels.add_row(Text(cut(label, 24)), *cells)
        out += [Text(""), labels]
    return Group(*out)


def _targets(part: Mapping[str, Any]) -> str:
    targets = pick(part, "targets", default={}) or {}
    if not targets:
        return "–"
    return f"{num(pick(targets, 'mean'), 3)} ± {num(pick(targets, 'std'), 3)}"


def _corrupted(part: Mapping[str, Any]) -> str:
    from tuirecipe.data.profile.corrupted import corrupted_counts

    return num(corrupted_counts(pick(part, "corrupted", default={}) or {})[0])


def _lengths(lengths: Mapping[str, Any]) -> str:
    if not pick(lengths, "rows"):
        return "–"
    return f"{num(pick(lengths, 'p50'))} / {num(pick(lengths, 'p95'))}"


def _truncated(lengths: Mapping[str, Any]) -> str:
    if not pick(lengths, "rows"):
        return "–"
    rate = pct(pick(lengths, "truncation_rate"))
    return f"{num(pick(lengths, 'truncated_rows', default=0))} ({rate})"


def _label_rows(parts: list[tuple[str, Mapping[str, Any]]]) -> list[tuple[str, list[str]]]:
    totals: dict[str, int] = {}
    for _, part in parts:
        for label, count in (pick(part, "labels", default={}) or {}).items():
            totals[str(label)] = totals.get(str(label), 0) + int(count)
    out = []
    for label in sorted(totals, key=lambda k: -totals[k])[:20]:  # "all" counts twice: same order
        cells = []
        for _, part in parts:
            labels = pick(part, "labels", default={}) or {}
            count = int(labels.get(label, 0))
            share = count / max(1, int(pick(part, "usable_rows", "rows", default=0) or 1))
            cells.append(f"{count:,} ({share:.0%})")
        out.append((label, cells))
    return out


def render_skipped(data: Mapping[str, Any]) -> RenderableType:
    count = int(pick(data, "count", default=0) or 0)
    if not count:
        return Text("No rows skipped: every row of the file was loaded.")
    head = Text()
    head.append(f"{count:,} rows skipped", style="bold")
    head.append(" (in no split, not in any count above)")
    parts: list[RenderableType] = [head]
    for reason, n in (pick(data, "by_reason", default={}) or {}).items():
        parts.append(Text(f"  {reason}: {int(n):,}"))
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("line", justify="right")
    table.add_column("record", justify="right")
    table.add_column("reason")
    items = list(pick(data, "rows", default=[]) or [])
    for item in items[:20]:
        if not isinstance(item, Mapping):
            continue
        line, row = pick(item, "line", default=""), pick(item, "row", default="")
        where = f"{item['file']}: " if item.get("file") else ""
        table.add_row(
            Text(f"{where}{line}"),
            Text("" if line == row else str(row)),
            Text(str(pick(item, "reason", default=""))),
        )
    parts.append(table)
    if count > 20:
        parts.append(Text(f"  … {count - 20:,} more (all of them in `tuirecipe data --json`)"))
    return Group(*parts)
