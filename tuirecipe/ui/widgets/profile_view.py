"""The dataset profile, shown as collapsible sections of text tables and bar charts.

:class:`ProfileView` takes the plain dict of ``DatasetProfile.to_dict()`` and renders one
collapsible section per topic: size, labels, lengths, duplicates, near-duplicates,
conflicts, corrupted rows, clusters. Each section renderer reads its keys defensively
(:func:`_pick` accepts a few names) so a profile with a section missing, or one more
key, still shows; anything unrecognised appears under "Other". Renderers are plain
functions returning Rich renderables, so they are testable without an app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Collapsible, Static

__all__ = ["ProfileView", "bar", "render_section", "SECTION_TITLES"]

_BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float, width: int) -> str:
    """A horizontal bar ``width`` cells wide filled to ``fraction`` (eighth-cell steps)."""
    fraction = max(0.0, min(1.0, float(fraction or 0.0)))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (_BLOCKS[part] if part else "")
    return text.ljust(width)


def _pick(data: Mapping[str, Any] | None, *names: str, default: Any = None) -> Any:
    if not isinstance(data, Mapping):
        return default
    for name in names:
        if name in data and data[name] is not None:
            return data[name]
    return default


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and digits == 0:
            return f"{int(value):,}"
        return f"{value:,.{digits or 2}f}"
    return str(value)


def _pct(value: Any) -> str:
    if value is None:
        return "–"
    return f"{100 * float(value):.1f}%"


def _rows(rows: Any, limit: int = 12) -> str:
    if not rows:
        return ""
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f", … (+{len(rows) - limit})" if len(rows) > limit else "")


def _advice(items: Any) -> list[RenderableType]:
    if not items:
        return []
    if isinstance(items, str):
        items = [items]
    return [Text("→ " + str(item), style="italic") for item in items]


def _kv_table(pairs: Iterable[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for key, value in pairs:
        table.add_row(key, value)
    return table


def _cut(text: Any, width: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------------------------------
# sections


def render_size(data: Mapping[str, Any]) -> RenderableType:
    pairs = [
        ("rows", _num(_pick(data, "rows", "n_rows", "total_rows"))),
        (
            "train / dev",
            f"{_num(_pick(data, 'train_rows', 'train'))} / {_num(_pick(data, 'dev_rows', 'dev'))}",
        ),
        ("classes", _num(_pick(data, "classes", "num_classes", "n_classes"))),
        ("vocabulary", _num(_pick(data, "vocab_size", "vocab", "vocabulary"))),
        ("dev OOV rate", _pct(_pick(data, "dev_oov_rate", "oov_rate"))),
    ]
    scale = _pick(data, "scale")
    if scale is not None:
        pairs.append(("scale", scale if isinstance(scale, str) else _cut(scale, 80)))
    return Group(_kv_table(pairs), *_advice(_pick(data, "advice", "model_advice")))


def _label_counts(data: Mapping[str, Any]) -> list[tuple[str, int]]:
    counts = _pick(data, "counts", "distribution", "label_counts", default={})
    if isinstance(counts, Mapping):
        items = [(str(k), int(v)) for k, v in counts.items()]
    else:  # a list of {"label": …, "count": …}
        items = [
            (str(_pick(c, "label", "name")), int(_pick(c, "count", "n", default=0))) for c in counts
        ]
    return sorted(items, key=lambda kv: -kv[1])


def render_labels(data: Mapping[str, Any], width: int = 30) -> RenderableType:
    if _pick(data, "kind") == "regression":
        return render_regression_labels(data, width)
    items = _label_counts(data)
    total = sum(v for _, v in items) or 1
    top = max((v for _, v in items), default=1) or 1
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("label", style="bold", max_width=24, no_wrap=True)
    table.add_column("count", justify="right")
    table.add_column("%", justify="right")
    table.add_column("", no_wrap=True)
    for label, count in items[:40]:
        table.add_row(
            label,
            f"{count:,}",
            f"{100 * count / total:.1f}",
            Text(bar(count / top, width), style="bold"),
        )
    extra: list[RenderableType] = []
    if len(items) > 40:
        extra.append(Text(f"… {len(items) - 40} more classes", style="dim"))
    ratio = _pick(data, "imbalance_ratio", "imbalance")
    summary = Text()
    summary.append(f"imbalance ratio (largest/smallest): {_num(ratio, 1)}")
    if _pick(data, "long_tail", "is_long_tail"):
        summary.append("   LONG TAIL", style="bold")
        rule = _pick(data, "long_tail_rule")
        if rule:
            summary.append(f" ({rule})", style="dim")
    missing = _pick(data, "missing")
    if missing:
        summary.append(f"   {_num(missing)} rows without a label")
    return Group(table, *extra, summary, *_advice(_pick(data, "advice")))


def render_regression_labels(data: Mapping[str, Any], width: int = 30) -> RenderableType:
    pairs = [(k, _num(_pick(data, k), 3)) for k in ("count", "mean", "std", "min", "max")]
    quantiles = _pick(data, "quantiles", default={})
    parts: list[RenderableType] = [_kv_table(pairs)]
    if quantiles:
        parts.append(Text("   ".join(f"{k} {_num(v, 3)}" for k, v in quantiles.items())))
    hist = _histogram(_pick(data, "histogram"), width, unit="value", digits=2)
    if hist is not None:
        parts.append(hist)
    return Group(*parts, *_advice(_pick(data, "advice")))


def _histogram(
    hist: Any, width: int = 30, unit: str = "tokens", digits: int = 0
) -> RenderableType | None:
    if not isinstance(hist, Mapping):
        return None
    edges = list(_pick(hist, "edges", "bins", default=[]))
    counts = list(_pick(hist, "counts", default=[]))
    overflow = _pick(hist, "overflow", default=0) or 0
    if not counts:
        return None
    top = max([*counts, overflow]) or 1
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column(unit, justify="right", no_wrap=True)
    table.add_column("rows", justify="right")
    table.add_column("", no_wrap=True)
    for i, count in enumerate(counts):
        if len(edges) > i + 1:
            span = f"{_num(edges[i], digits)}–{_num(edges[i + 1], digits)}"
        elif len(edges) > i:
            span = f"{_num(edges[i], digits)}+"
        else:
            span = str(i)
        table.add_row(span, f"{int(count):,}", Text(bar(count / top, width), style="bold"))
    if overflow:
        table.add_row(
            f"≥{_num(edges[-1], digits)}" if edges else "more",
            f"{int(overflow):,}",
            Text(bar(overflow / top, width), style="bold"),
        )
    return table


def render_lengths(data: Mapping[str, Any]) -> RenderableType:
    pcts = _pick(data, "percentiles", default=data)
    line = Text()
    for key in ("p50", "p90", "p95", "p99", "max"):
        line.append(f"{key} ", style="bold")
        line.append(f"{_num(_pick(pcts, key), 1)}   ")
    unit = _pick(data, "unit")
    if unit:
        line.append(f"({unit})", style="dim")
    parts: list[RenderableType] = [line]
    suggested = _pick(data, "suggested_max_len", "suggested")
    configured = _pick(data, "max_len", "configured_max_len")
    trunc = _pick(data, "truncation_rate", "truncated")
    text = Text()
    text.append("suggested max_len ")
    text.append(_num(suggested), style="bold")
    at_suggested = _pick(data, "truncation_rate_at_suggested")
    if at_suggested is not None:
        text.append(f" (truncates {_pct(at_suggested)})")
    text.append("   configured max_len ")
    text.append(_num(configured), style="bold")
    text.append(f": truncates {_pct(trunc)} of rows")
    parts.append(text)
    hist = _histogram(_pick(data, "histogram", "hist"))
    if hist is not None:
        parts.append(hist)
    per_class = _pick(data, "per_class", "by_class")
    if isinstance(per_class, Mapping):
        per_class = [{"label": k, **v} for k, v in per_class.items()]
    if per_class:
        table = Table(
            title="per class", title_justify="left", box=None, padding=(0, 1), show_edge=False
        )
        table.add_column("label", style="bold", max_width=24, no_wrap=True)
        for key in ("rows", "median", "p95"):
            table.add_column(key, justify="right")
        for item in list(per_class)[:30]:
            table.add_row(
                str(_pick(item, "label")),
                _num(_pick(item, "count")),
                _num(_pick(item, "median", "p50"), 1),
                _num(_pick(item, "p95"), 1),
            )
        parts.append(table)
    parts += _advice(_pick(data, "advice"))
    return Group(*parts)


_LEVELS = {"exact": "exact", "case_space": "case + space", "loose": "loose"}


def _levels(data: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    levels = _pick(data, "levels", default=data)
    if not isinstance(levels, Mapping):
        return []
    return [(str(k), v) for k, v in levels.items() if isinstance(v, Mapping)]


def _group_line(group: Mapping[str, Any]) -> Text:
    rows = _pick(group, "rows", default=[])
    count = _pick(group, "count", "size", default=len(rows))
    labels = _pick(group, "labels", default={})
    labels_text = (
        ", ".join(f"{k}×{v}" for k, v in labels.items())
        if isinstance(labels, Mapping)
        else ", ".join(map(str, labels))
    )
    line = Text("  ")
    line.append(f"×{count}", style="bold")
    line.append(f"  rows {_rows(rows, 6)}")
    if labels_text:
        line.append(f"  [{labels_text}]")
    line.append(f"  “{_cut(_pick(group, 'text', default=''), 40)}”")
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
            _num(_pick(level, "surplus_rows", "rows", "duplicates")),
            _num(_pick(level, "repeated_texts", "groups_count")),
            _num(_pick(level, "rows_in_groups")),
        )
    parts: list[RenderableType] = [table]
    for name, level in levels:
        groups = _pick(level, "groups", default=[])
        if groups:
            parts.append(Text(f"largest {_LEVELS.get(name, name)} groups", style="bold"))
            parts += [_group_line(g) for g in list(groups)[:6]]
            break  # the first level with groups (exact) is the most telling
    parts += _advice(_pick(data, "advice"))
    return Group(*parts)


def render_conflicts(data: Any) -> RenderableType:
    levels = _levels(data) if isinstance(data, Mapping) else []
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
            _num(_pick(level, "conflicting_texts")),
            _num(_pick(level, "rows")),
        )
        groups = _pick(level, "groups", default=[])
        if groups and not shown:
            shown = True
            parts.append(Text(f"contradictory labels ({_LEVELS.get(name, name)})", style="bold"))
            parts += [_group_line(g) for g in list(groups)[:12]]
    if not shown:
        parts.append(Text("No text appears with two different labels."))
    return Group(*parts)


def _pair_line(ex: Mapping[str, Any]) -> Text:
    rows = _pick(ex, "rows", default=None)
    if isinstance(rows, list) and len(rows) >= 2:
        a, b = rows[0], rows[1]
    else:
        a = _pick(ex, "row_a", "a", "train_row", default="?")
        b = _pick(ex, "row_b", "b", "dev_row", default="?")
    texts = _pick(ex, "texts", default=None)
    text_a = texts[0] if isinstance(texts, list) and texts else _pick(ex, "text_a", "text")
    text_b = texts[1] if isinstance(texts, list) and len(texts) > 1 else _pick(ex, "text_b")
    sim = _pick(ex, "similarity", "sim", "score")
    line = Text(f"  rows {a} ~ {b}")
    if sim is not None:
        line.append(f" ({_num(float(sim), 2)})")
    if text_a:
        line.append(f"  “{_cut(text_a, 40)}”")
    if text_b and text_b != text_a:
        line.append(f" ~ “{_cut(text_b, 30)}”")
    return line


def render_near_duplicates(data: Mapping[str, Any]) -> RenderableType:
    if _pick(data, "ran") is False:
        reason = _pick(data, "reason", "skipped", default="not run")
        return Text(f"Near-duplicate search not run: {reason}", style="italic")
    head = Text()
    head.append("within train: ", style="bold")
    head.append(f"{_num(_pick(data, 'pairs', 'train_pairs'))} pairs")
    involved = _pick(data, "texts_involved")
    if involved is not None:
        head.append(f" ({_num(involved)} texts)")
    threshold = _pick(data, "threshold")
    if threshold is not None:
        head.append(f"   similarity ≥ {threshold}")
    if _pick(data, "sampled"):
        head.append(
            f"   sampled: {_num(_pick(data, 'sample_size'))} of "
            f"{_num(_pick(data, 'population'))} texts",
            style="bold",
        )
    parts: list[RenderableType] = [head]
    method = _pick(data, "method")
    if method:
        parts.append(Text(f"  {method}", style="dim"))
    parts += [_pair_line(ex) for ex in list(_pick(data, "examples", default=[]) or [])[:6]]
    leak = _pick(data, "leakage")
    if isinstance(leak, Mapping) and _pick(leak, "ran") is not False:
        line = Text()
        line.append("train ↔ dev leakage: ", style="bold")
        line.append(f"{_num(_pick(leak, 'pairs', 'rows'))} pairs")
        involved = _pick(leak, "dev_texts_involved")
        if involved is not None:
            line.append(f", {_num(involved)} dev texts")
        if _pick(leak, "sampled"):
            line.append(
                f"   sampled: {_num(_pick(leak, 'dev_sample_size'))} dev texts", style="bold"
            )
        parts.append(line)
        parts += [_pair_line(ex) for ex in list(_pick(leak, "examples", default=[]) or [])[:4]]
    return Group(*parts, *_advice(_pick(data, "advice")))


def render_leakage(data: Mapping[str, Any]) -> RenderableType:
    rows = _pick(data, "dev_rows_in_train", "rows", "count", default=0)
    line = Text()
    line.append("dev rows whose text (case + space) is also in train: ", style="bold")
    line.append(_num(rows))
    rate = _pick(data, "dev_share", "rate", "fraction")
    if rate is not None:
        line.append(f" ({_pct(rate)} of dev)")
    parts: list[RenderableType] = [line]
    for ex in list(_pick(data, "examples", default=[]) or [])[:6]:
        if isinstance(ex, Mapping):
            parts.append(
                Text(
                    f"  dev row {_pick(ex, 'dev_row', 'row', default='?')} = train row "
                    f"{_pick(ex, 'train_row', default='?')}  "
                    f"“{_cut(_pick(ex, 'text', default=''), 60)}”"
                )
            )
        else:
            parts.append(Text(f"  {_cut(ex, 80)}"))
    return Group(*parts)


def render_corrupted(data: Mapping[str, Any]) -> RenderableType:
    cats = _pick(data, "categories", "by_category", default=data)
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("category", style="bold", no_wrap=True)
    table.add_column("rows", justify="right")
    table.add_column("row numbers")
    any_rows = False
    if isinstance(cats, Mapping):
        for name, cat in cats.items():
            if not isinstance(cat, (Mapping, list, int)):
                continue
            rows = _pick(cat, "rows", default=cat if isinstance(cat, list) else [])
            count = _pick(cat, "count", "n", default=cat if isinstance(cat, int) else len(rows))
            if not count:
                continue
            any_rows = True
            title = str(name).replace("_", " ")
            description = _pick(cat, "description")
            table.add_row(title, _num(count), _rows(rows, 8))
            if description:
                table.add_row("", "", Text(str(description), style="dim"))
    if not any_rows:
        return Text("No corrupted rows found.")
    return table


def render_clusters(data: Any) -> RenderableType:
    if isinstance(data, Mapping) and _pick(data, "ran") is False:
        reason = _pick(data, "reason", "skipped", default="not run")
        return Text(f"Clustering not run: {reason}", style="italic")
    items = _pick(data, "clusters", "items", default=[]) if isinstance(data, Mapping) else data
    items = list(items or [])
    if not items:
        return Text("No clusters.")
    head = Text()
    if isinstance(data, Mapping):
        head.append(f"k = {_num(_pick(data, 'k', default=len(items)))}   ")
        if _pick(data, "sampled"):
            head.append(f"(sampled: {_num(_pick(data, 'sample_size'))} rows)", style="italic")
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("#", justify="right")
    table.add_column("size", justify="right")
    table.add_column("top terms")
    table.add_column("label mix")
    table.add_column("")
    for i, item in enumerate(items[:30]):
        terms = _pick(item, "top_terms", "terms", default=[])
        mix = _pick(item, "labels", "label_mix", default={})
        if isinstance(mix, Mapping):
            total = sum(float(v) for v in mix.values()) or 1.0
            mix_text = ", ".join(
                f"{k} {100 * float(v) / total:.0f}%"
                for k, v in sorted(mix.items(), key=lambda kv: -float(kv[1]))[:3]
                if float(v) / total >= 0.01
            )
        elif isinstance(mix, list):
            mix_text = ", ".join(
                f"{_pick(m, 'label')} {_num(_pick(m, 'share', 'percent'), 1)}"
                if isinstance(m, Mapping)
                else str(m)
                for m in mix[:3]
            )
        else:
            mix_text = str(mix)
        table.add_row(
            str(_pick(item, "id", default=i)),
            _num(_pick(item, "size", "rows")),
            _cut(", ".join(map(str, terms)), 40),
            mix_text,
            Text("mixed", style="bold") if _pick(item, "mixed") else "",
        )
    return Group(head, table)


def render_advice(data: Any) -> RenderableType:
    items = [data] if isinstance(data, str) else list(data or [])
    if not items:
        return Text("Nothing to advise.")
    return Group(*_advice(items))


def _render_other(data: Any) -> RenderableType:
    if isinstance(data, Mapping):
        return _kv_table((str(k), _cut(v, 90)) for k, v in data.items())
    return Text(_cut(data, 200))


# key in the profile dict → (title, renderer)
SECTION_TITLES: dict[str, tuple[str, Callable[[Any], RenderableType]]] = {
    "advice": ("Advice", render_advice),
    "size": ("Size", render_size),
    "labels": ("Labels", render_labels),
    "lengths": ("Lengths", render_lengths),
    "duplicates": ("Duplicates", render_duplicates),
    "conflicts": ("Contradictory labels", render_conflicts),
    "near_duplicates": ("Near-duplicates", render_near_duplicates),
    "leakage": ("Train ↔ dev overlap", render_leakage),
    "corrupted": ("Corrupted rows", render_corrupted),
    "clusters": ("Clusters", render_clusters),
}
# Keys of the profile that are bookkeeping, not findings.
_HIDDEN = {"version", "task", "options", "timings"}
_ALIASES = {
    "label_distribution": "labels",
    "length": "lengths",
    "near_dups": "near_duplicates",
    "near_duplicate": "near_duplicates",
    "contradictions": "conflicts",
    "corruption": "corrupted",
}


def render_section(key: str, data: Any) -> RenderableType:
    """The renderable of one profile section (an error line if it cannot be drawn)."""
    key = _ALIASES.get(key, key)
    entry = SECTION_TITLES.get(key)
    try:
        return entry[1](data) if entry else _render_other(data)
    except Exception as exc:  # a malformed section must not take the pane down
        return Text(f"cannot show this section: {type(exc).__name__}: {exc}", style="italic")


def _sections(profile: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """``(key, title, data)`` in display order; unknown keys last."""
    found: dict[str, tuple[str, Any]] = {}
    other: dict[str, Any] = {}
    for key, value in profile.items():
        if key in _HIDDEN:
            continue
        canon = _ALIASES.get(key, key)
        if canon in SECTION_TITLES:
            found[canon] = (key, value)
        elif isinstance(value, (Mapping, list)) and value:
            found.setdefault(canon, (key, value))
        elif not isinstance(value, (Mapping, list)):
            other[key] = value
    out = [(k, SECTION_TITLES[k][0], found[k][1]) for k in SECTION_TITLES if k in found]
    out += [
        (k, k.replace("_", " ").capitalize(), v[1])
        for k, v in found.items()
        if k not in SECTION_TITLES
    ]
    if other:
        out.append(("other", "Other", other))
    return out


def _level(data: Any, name: str = "exact") -> Mapping[str, Any]:
    level = _pick(data, name, default={})
    return level if isinstance(level, Mapping) else {}


def section_summary(key: str, data: Any) -> str:
    """A few words shown in a section's title, so a collapsed section still informs."""
    try:
        if key == "size":
            return (
                f"{_num(_pick(data, 'rows', 'n_rows'))} rows, "
                f"{_num(_pick(data, 'classes', 'num_classes'))} classes"
            )
        if key == "labels":
            if _pick(data, "kind") == "regression":
                return f"mean {_num(_pick(data, 'mean'), 2)}, std {_num(_pick(data, 'std'), 2)}"
            return f"imbalance {_num(_pick(data, 'imbalance_ratio'), 1)}" + (
                ", long tail" if _pick(data, "long_tail") else ""
            )
        if key == "lengths":
            return (
                f"p95 {_num(_pick(data, 'p95'), 0)}, suggested max_len "
                f"{_num(_pick(data, 'suggested_max_len'))}, truncates "
                f"{_pct(_pick(data, 'truncation_rate'))}"
            )
        if key == "duplicates":
            return f"{_num(_pick(_level(data), 'surplus_rows', default=0))} exact surplus rows"
        if key == "conflicts":
            return f"{_num(_pick(_level(data), 'conflicting_texts', default=0))} texts (exact)"
        if key == "near_duplicates":
            if _pick(data, "ran") is False:
                return "not run"
            leak = _pick(_pick(data, "leakage", default={}), "pairs")
            return (
                f"{_num(_pick(data, 'pairs', default=0))} pairs in train"
                + (f", {_num(leak)} train↔dev" if leak is not None else "")
                + (", sampled" if _pick(data, "sampled") else "")
            )
        if key == "leakage":
            return f"{_num(_pick(data, 'dev_rows_in_train', 'rows', default=0))} dev rows in train"
        if key == "corrupted":
            total = sum(
                int(_pick(c, "count", default=0)) for c in data.values() if isinstance(c, Mapping)
            )
            return f"{total:,} flagged"
        if key == "clusters":
            items = _pick(data, "clusters", default=[]) if isinstance(data, Mapping) else data
            mixed = sum(1 for c in items or [] if _pick(c, "mixed"))
            return f"{len(list(items or []))} clusters, {mixed} mixed"
        if key == "advice":
            return f"{len(data)} notes"
    except Exception:
        return ""
    return ""


class ProfileView(VerticalScroll):
    """Every section of a dataset profile, each collapsible, in one scrollable column."""

    DEFAULT_CSS = """
    ProfileView {
        height: 1fr;
        background: $surface;
    }
    ProfileView > Collapsible {
        padding: 0;
        margin: 0;
        border-top: none;
    }
    ProfileView > Collapsible > Contents {
        padding: 0 0 1 2;
    }
    ProfileView > .profile-empty {
        color: $text-muted;
        padding: 1 2;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.profile: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static("No profile yet.", classes="profile-empty")

    async def show_profile(self, profile: Mapping[str, Any], collapsed: Sequence[str] = ()) -> None:
        """Replace what is shown with ``profile`` (a ``DatasetProfile.to_dict()``)."""
        self.profile = dict(profile)
        widgets = []
        for key, title, data in _sections(profile):
            summary = section_summary(key, data)
            label = f"{title} — {summary}" if summary else title
            widgets.append(
                Collapsible(
                    Static(render_section(key, data), classes="profile-body"),
                    title=label,
                    collapsed=key in collapsed,
                    id=f"profile-{key}",
                )
            )
        await self.remove_children()
        await self.mount_all(widgets)

    def show_message(self, message: str) -> None:
        self.remove_children()
        self.mount(Static(message, classes="profile-empty"))
