"""Section builders for the profile's findings: duplicates, contradictory labels,
near-duplicates and train/dev overlap, corrupted rows, clusters, advice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tuirecipe.ui.profile_render.cells import (
    advice_lines,
    cut,
    kv_table,
    num,
    pct,
    pick,
    row_list,
    where,
)
from tuirecipe.ui.profile_render.findings_extra import render_regression_conflicts

_LEVELS = {"exact": "exact", "case_space": "case + space", "loose": "loose"}


def _levels(data: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    levels = pick(data, "levels", default=data)
    if not isinstance(levels, Mapping):
        return []
    return [(str(k), v) for k, v in levels.items() if isinstance(v, Mapping)]


def _group_line(group: Mapping[str, Any]) -> Text:
    rows = pick(group, "rows", default=[])
    count = pick(group, "count", "size", default=len(rows))
    labels = pick(group, "labels", default={})
    labels_text = (
        ", ".join(f"{k}×{v}" for k, v in labels.items())
        if isinstance(labels, Mapping)
        else ", ".join(map(str, labels))
    )
    line = Text("  ")
    line.append(f"×{count}", style="bold")
    line.append(f"  {where(group, 6)}")
    if labels_text:
        line.append(f"  [{labels_text}]")
    line.append(f"  “{cut(pick(group, 'text', default=''), 40)}”")
    return line


def render_duplicates(data: Mapping[str, Any]) -> RenderableType:
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("level", style="bold")
    table.add_column("surplus rows", justify="right")
    table.add_column("repeated texts", justify="right")
    table.add_column("rows in groups", justify="right")
    levels = _levels(data)
    for name, level in levels:
        table.add_row(
            _LEVELS.get(name, name.replace("_", " ")),
            num(pick(level, "surplus_rows", "rows", "duplicates")),
            num(pick(level, "repeated_texts", "groups_count")),
            num(pick(level, "rows_in_groups")),
        )
    parts: list[RenderableType] = [table]
    for name, level in levels:
        groups = pick(level, "groups", default=[])
        if groups:
            parts.append(Text(f"largest {_LEVELS.get(name, name)} groups", style="bold"))
            parts += [_group_line(g) for g in list(groups)[:6]]
            break  # the first level with groups (exact) is the most telling
    parts += advice_lines(pick(data, "advice"))
    return Group(*parts)


def render_conflicts(data: Any) -> RenderableType:
    levels = _levels(data) if isinstance(data, Mapping) else []
    if any("tolerance" in level for _, level in levels):  # regression: spread vs tolerance
        return render_regression_conflicts(dict(levels))
    if not levels:
        return Text("No text appears with two different labels.")
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("level", style="bold")
    table.add_column("conflicting texts", justify="right")
    table.add_column("rows", justify="right")
    shown = False
    parts: list[RenderableType] = [table]
    for name, level in levels:
        table.add_row(
            _LEVELS.get(name, name),
            num(pick(level, "conflicting_texts")),
            num(pick(level, "rows")),
        )
        groups = pick(level, "groups", default=[])
        if groups and not shown:
            shown = True
            parts.append(Text(f"contradictory labels ({_LEVELS.get(name, name)})", style="bold"))
            parts += [_group_line(g) for g in list(groups)[:12]]
    if not shown:
        parts.append(Text("No text appears with two different labels."))
    return Group(*parts)


def _pair_line(ex: Mapping[str, Any]) -> Text:
    rows = pick(ex, "rows", default=None)
    if isinstance(rows, list) and len(rows) >= 2:
        a, b = rows[0], rows[1]
    else:
        a = pick(ex, "row_a", "a", "train_row", default="?")
        b = pick(ex, "row_b", "b", "dev_row", default="?")
    texts = pick(ex, "texts", default=None)
    text_a = texts[0] if isinstance(texts, list) and texts else pick(ex, "text_a", "text")
    text_b = texts[1] if isinstance(texts, list) and len(texts) > 1 else pick(ex, "text_b")
    sim = pick(ex, "similarity", "sim", "score")
    line = Text(f"  rows {a} ~ {b}")
    if sim is not None:
        line.append(f" ({num(float(sim), 2)})")
    if text_a:
        line.append(f"  “{cut(text_a, 40)}”")
    if text_b and text_b != text_a:
        line.append(f" ~ “{cut(text_b, 30)}”")
    return line


def render_near_duplicates(data: Mapping[str, Any]) -> RenderableType:
    if pick(data, "ran") is False:
        reason = pick(data, "reason", "skipped", default="not run")
        return Text(f"Near-duplicate search not run: {reason}", style="italic")
    head = Text()
    head.append("within train: ", style="bold")
    head.append(f"{num(pick(data, 'pairs', 'train_pairs'))} pairs")
    involved = pick(data, "texts_involved")
    if involved is not None:
        head.append(f" ({num(involved)} texts)")
    threshold = pick(data, "threshold")
    if threshold is not None:
        head.append(f"   similarity ≥ {threshold}")
    if pick(data, "sampled"):
        head.append(
            f"   sampled: {num(pick(data, 'sample_size'))} of "
            f"{num(pick(data, 'population'))} texts",
            style="bold",
        )
    parts: list[RenderableType] = [head]
    method = pick(data, "method")
    if method:
        parts.append(Text(f"  {method}", style="dim"))
    parts += [_pair_line(ex) for ex in list(pick(data, "examples", default=[]) or [])[:6]]
    leak = pick(data, "leakage")
    if isinstance(leak, Mapping) and pick(leak, "ran") is not False:
        line = Text()
        line.append("train ↔ dev leakage: ", style="bold")
        line.append(f"{num(pick(leak, 'pairs', 'rows'))} pairs")
        involved = pick(leak, "dev_texts_involved")
        if involved is not None:
            line.append(f", {num(involved)} dev texts")
        if pick(leak, "sampled"):
            line.append(f"   sampled: {num(pick(leak, 'dev_sample_size'))} dev texts", style="bold")
        parts.append(line)
        parts += [_pair_line(ex) for ex in list(pick(leak, "examples", default=[]) or [])[:4]]
    return Group(*parts, *advice_lines(pick(data, "advice")))


def render_leakage(data: Mapping[str, Any]) -> RenderableType:
    if pick(data, "ran") is False:
        return Text(str(pick(data, "reason", default="no dev set")), style="italic")
    rows = pick(data, "dev_rows_in_train", "rows", "count", default=0)
    line = Text()
    line.append("dev rows whose text (case + space) is also in train: ", style="bold")
    line.append(num(rows))
    rate = pick(data, "dev_share", "rate", "fraction")
    if rate is not None:
        line.append(f" ({pct(rate)} of dev)")
    parts: list[RenderableType] = [line]
    exact = pick(data, "exact_dev_rows_in_train")
    if exact is not None:
        parts.append(Text(f"  of which exact copies: {num(exact)} dev rows"))
    same = pick(data, "same_label_dev_rows")
    if same is not None:
        parts.append(Text(f"  same label in both: {num(same)} dev rows (a leak: dev looks better)"))
    conflicting = pick(data, "conflicting_texts")
    if conflicting:
        parts.append(
            Text(
                f"  different labels: {num(conflicting)} texts, "
                f"{num(pick(data, 'conflicting_dev_rows', default=0))} dev rows "
                "(a conflict across the split: dev is noisy)"
            )
        )
    for ex in list(pick(data, "examples", default=[]) or [])[:6]:
        if isinstance(ex, Mapping):
            label = "" if pick(ex, "same_label", default=True) else "  other label"
            parts.append(
                Text(
                    f"  dev row {pick(ex, 'dev_row', 'row', default='?')} = train row "
                    f"{pick(ex, 'train_row', default='?')}{label}  "
                    f"“{cut(pick(ex, 'text', default=''), 60)}”"
                )
            )
        else:
            parts.append(Text(f"  {cut(ex, 80)}"))
    return Group(*parts)


def render_corrupted(data: Mapping[str, Any]) -> RenderableType:
    cats = pick(data, "categories", "by_category", default=data)
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("category", style="bold", no_wrap=True)
    table.add_column("rows", justify="right")
    table.add_column("where")
    any_rows = False
    if isinstance(cats, Mapping):
        for name, cat in cats.items():
            if not isinstance(cat, (Mapping, list, int)):
                continue
            rows = pick(cat, "rows", default=cat if isinstance(cat, list) else [])
            count = pick(cat, "count", "n", default=cat if isinstance(cat, int) else len(rows))
            if not count:
                continue
            any_rows = True
            title = str(name).replace("_", " ")
            description = pick(cat, "description")
            table.add_row(
                title,
                num(count),
                Text(where(cat, 8) if isinstance(cat, Mapping) else row_list(rows, 8)),
            )
            if description:
                table.add_row("", "", Text(str(description), style="dim"))
    if not any_rows:
        return Text("No corrupted rows found.")
    return table


def render_clusters(data: Any) -> RenderableType:
    if isinstance(data, Mapping) and pick(data, "ran") is False:
        reason = pick(data, "reason", "skipped", default="not run")
        return Text(f"Clustering not run: {reason}", style="italic")
    items = pick(data, "clusters", "items", default=[]) if isinstance(data, Mapping) else data
    items = [item for item in list(items or []) if isinstance(item, Mapping)]
    if not items:
        return Text("No clusters.")
    parts: list[RenderableType] = []
    if isinstance(data, Mapping):
        parts += _cluster_head(data)
    regression = any("target" in item for item in items)
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("#", justify="right")
    table.add_column("rows", justify="right")
    table.add_column("top terms")
    if regression:
        for name in ("mean ± std", "median", "min – max", "shift"):
            table.add_column(name, justify="right")
    else:
        table.add_column("labels: share (prior)")
    table.add_column("signal")
    for i, item in enumerate(items[:30]):
        terms = pick(item, "top_terms", "terms", default=[])
        terms = Text(cut(", ".join(map(str, list(terms)[:6])), 48))
        cells: list[RenderableType] = [
            str(pick(item, "id", default=i)),
            num(pick(item, "size", "rows")),
            terms,
        ]
        cells += _target_cells(item) if regression else [_label_mix_cell(item)]
        cells.append(_signal_cell(item))
        table.add_row(*cells)
        for example in list(pick(item, "examples", default=[]) or [])[:2]:
            if isinstance(example, Mapping):  # the texts nearest the cluster's centre
                line = Text(f"row {pick(example, 'row', default='?')}: ", style="dim")
                line.append(Text(cut(str(pick(example, "text", default="")), 72), style="dim"))
                table.add_row("", "", line)
    parts.append(table)
    return Group(*parts)


def clusters_summary(data: Any) -> str:
    """A few words for the section title: how many clusters, and what the labels or
    targets do across them."""
    if isinstance(data, Mapping) and pick(data, "ran") is False:
        return "not run"
    items = pick(data, "clusters", default=[]) if isinstance(data, Mapping) else data
    items = [item for item in list(items or []) if isinstance(item, Mapping)]
    head = f"{len(items)} clusters"
    signals = pick(data, "label_signal")
    if isinstance(signals, Mapping):
        if signals.get("concentrated"):
            return f"{head}, {signals['concentrated']} concentrated on a label"
        if signals.get("slight"):
            return f"{head}, labels lean slightly"
        return f"{head}, labels like the prior"
    association = pick(data, "target_association", default={})
    if pick(association, "eta_squared") is not None:
        return f"{head}, explain {pct(association['eta_squared'])} of target variance"
    mixed = sum(1 for c in items if pick(c, "mixed"))  # profiles saved before label_signal
    return f"{head}, {mixed} mixed" if mixed else head


def _cluster_head(data: Mapping[str, Any]) -> list[RenderableType]:
    head = Text(f"k = {num(pick(data, 'k', default=0))}")
    if pick(data, "method"):
        head.append(f"   {pick(data, 'method')}", style="dim")
    if pick(data, "sampled"):
        head.append(f"   (sampled: {num(pick(data, 'sample_size'))} rows)", style="italic")
    lines: list[RenderableType] = [head]
    message = pick(data, "message")
    if message:
        lines.append(Text(str(message)))
    association = pick(data, "label_association", "target_association", default={})
    if pick(association, "ran") and not message:  # the message quotes the figures
        figures = []
        if pick(association, "cramers_v") is not None:
            figures.append(f"Cramér's V {num(float(association['cramers_v']), 2)}")
        if pick(association, "eta_squared") is not None:
            figures.append(f"eta² {num(float(association['eta_squared']), 3)}")
        figures.append(f"p {_p(pick(association, 'p_value'))}")
        lines.append(Text("   ".join(figures), style="dim"))
    if pick(data, "purity") is not None and pick(data, "purity_prior") is not None:
        lines.append(
            Text(
                f"purity {pct(float(data['purity']))}: rows whose label is their cluster's "
                f"majority label (the prior's: {pct(float(data['purity_prior']))})",
                style="dim",
            )
        )
    aside = pick(data, "unclustered", default={})
    if pick(aside, "count"):
        lines.append(
            Text(
                f"{num(aside['count'])} rows not clustered ({pick(aside, 'reason', default='')})"
                f": rows {row_list(pick(aside, 'rows', default=[]), 8)}",
                style="dim",
            )
        )
    return lines


def _p(value: Any) -> str:
    if value is None:
        return "–"
    value = float(value)
    return "< 1e-300" if value == 0 else f"{value:.2g}"


def _label_mix_cell(item: Mapping[str, Any]) -> Text:
    mix = pick(item, "label_mix", "labels", default={})
    if isinstance(mix, list):  # [{label, share, prior}], largest first
        entries = [m for m in mix if isinstance(m, Mapping)]
        shown = entries[:2]
        signal = pick(item, "signal_label")
        judged = pick(item, "label_signal") in ("concentrated", "slight")
        if judged and all(pick(m, "label") != signal for m in shown):
            shown += [m for m in entries if pick(m, "label") == signal][:1]
        return Text(
            ", ".join(
                f"{pick(m, 'label')} {pct(pick(m, 'share'))} ({pct(pick(m, 'prior'))})"
                for m in shown
            )
        )
    if isinstance(mix, Mapping):  # {label: count}, as older profiles stored it
        total = sum(float(v) for v in mix.values()) or 1.0
        ranked = sorted(mix.items(), key=lambda kv: -float(kv[1]))[:3]
        return Text(", ".join(f"{k} {100 * float(v) / total:.0f}%" for k, v in ranked))
    return Text(str(mix))


def _target_cells(item: Mapping[str, Any]) -> list[RenderableType]:
    target = pick(item, "target", default={})
    if not pick(target, "count"):
        return ["–", "–", "–", "–"]
    shift = pick(item, "shift")
    return [
        f"{num(float(target['mean']), 3)} ± {num(float(target['std']), 3)}",
        num(float(target["median"]), 3),
        f"{num(float(target['min']), 3)} – {num(float(target['max']), 3)}",
        f"{float(shift):+.2f} std" if shift is not None else "–",
    ]


def _signal_cell(item: Mapping[str, Any]) -> Text:
    signal = pick(item, "label_signal", "target_signal")
    if signal is None:
        return Text("mixed", style="bold") if pick(item, "mixed") else Text("")
    text = Text(str(signal).replace("_", " "), style="bold" if signal != "like_prior" else "")
    if signal in ("concentrated", "slight") and pick(item, "signal_label") is not None:
        text.append(f": {item['signal_label']}")
        # The odds ratio decided (lift is bounded by 1 / prior, small for a big class).
        odds = pick(item, "odds_ratio")
        if odds is not None:
            text.append(f", odds ×{float(odds):.1f}" if odds < 10 else f", odds ×{odds:,.0f}")
    return text


def render_advice(data: Any) -> RenderableType:
    items = [data] if isinstance(data, str) else list(data or [])
    if not items:
        return Text("Nothing to advise.")
    return Group(*advice_lines(items))


def render_other(data: Any) -> RenderableType:
    if isinstance(data, Mapping):
        return kv_table((str(k), cut(v, 90)) for k, v in data.items())
    return Text(cut(data, 200))
