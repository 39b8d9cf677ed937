"""Section builders for the profile's distributions: size, labels (classes or a
regression target) and lengths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tuirecipe.ui.profile_render.cells import advice_lines, bar, cut, kv_table, num, pct, pick


def render_size(data: Mapping[str, Any]) -> RenderableType:
    pairs = [
        ("rows", num(pick(data, "rows", "n_rows", "total_rows"))),
        (
            "train / dev",
            f"{num(pick(data, 'train_rows', 'train'))} / {num(pick(data, 'dev_rows', 'dev'))}",
        ),
        ("classes", num(pick(data, "classes", "num_classes", "n_classes"))),
        ("vocabulary", num(pick(data, "vocab_size", "vocab", "vocabulary"))),
        ("dev OOV rate", pct(pick(data, "dev_oov_rate", "oov_rate"))),
    ]
    scale = pick(data, "scale")
    if scale is not None:
        pairs.append(("scale", scale if isinstance(scale, str) else cut(scale, 80)))
    return Group(kv_table(pairs), *advice_lines(pick(data, "advice", "model_advice")))


def _label_counts(data: Mapping[str, Any]) -> list[tuple[str, int]]:
    counts = pick(data, "counts", "distribution", "label_counts", default={})
    if isinstance(counts, Mapping):
        items = [(str(k), int(v)) for k, v in counts.items()]
    else:  # a list of {"label": …, "count": …}
        items = [
            (str(pick(c, "label", "name")), int(pick(c, "count", "n", default=0))) for c in counts
        ]
    return sorted(items, key=lambda kv: -kv[1])


def render_labels(data: Mapping[str, Any], width: int = 30) -> RenderableType:
    if pick(data, "kind") == "regression":
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
            Text(label),
            f"{count:,}",
            f"{100 * count / total:.1f}",
            Text(bar(count / top, width), style="bold"),
        )
    extra: list[RenderableType] = []
    if len(items) > 40:
        extra.append(Text(f"… {len(items) - 40} more classes", style="dim"))
    ratio = pick(data, "imbalance_ratio", "imbalance")
    summary = Text()
    summary.append(f"imbalance ratio (largest/smallest): {num(ratio, 1)}")
    if pick(data, "long_tail", "is_long_tail"):
        summary.append("   LONG TAIL", style="bold")
        rule = pick(data, "long_tail_rule")
        if rule:
            summary.append(f" ({rule})", style="dim")
    missing = pick(data, "missing")
    if missing:
        summary.append(f"   {num(missing)} rows without a label")
    return Group(table, *extra, summary, *advice_lines(pick(data, "advice")))


def render_regression_labels(data: Mapping[str, Any], width: int = 30) -> RenderableType:
    pairs = [(k, num(pick(data, k), 3)) for k in ("count", "mean", "std", "min", "max")]
    quantiles = pick(data, "quantiles", default={})
    parts: list[RenderableType] = [kv_table(pairs)]
    if quantiles:
        parts.append(Text("   ".join(f"{k} {num(v, 3)}" for k, v in quantiles.items())))
    hist = _histogram(pick(data, "histogram"), width, unit="value", digits=2)
    if hist is not None:
        parts.append(hist)
    return Group(*parts, *advice_lines(pick(data, "advice")))


def _histogram(
    hist: Any, width: int = 30, unit: str = "tokens", digits: int = 0
) -> RenderableType | None:
    if not isinstance(hist, Mapping):
        return None
    edges = list(pick(hist, "edges", "bins", default=[]))
    counts = list(pick(hist, "counts", default=[]))
    overflow = pick(hist, "overflow", default=0) or 0
    if not counts:
        return None
    top = max([*counts, overflow]) or 1
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column(unit, justify="right", no_wrap=True)
    table.add_column("rows", justify="right")
    table.add_column("", no_wrap=True)
    for i, count in enumerate(counts):
        if len(edges) > i + 1:
            span = f"{num(edges[i], digits)}–{num(edges[i + 1], digits)}"
        elif len(edges) > i:
            span = f"{num(edges[i], digits)}+"
        else:
            span = str(i)
        table.add_row(span, f"{int(count):,}", Text(bar(count / top, width), style="bold"))
    if overflow:
        table.add_row(
            f"≥{num(edges[-1], digits)}" if edges else "more",
            f"{int(overflow):,}",
            Text(bar(overflow / top, width), style="bold"),
        )
    return table


def truncation_words(data: Mapping[str, Any]) -> str:
    """The one wording of the truncation figure (the section's title and its body): the
    share of all rows cut at the configured max_len, then what the suggested one would cut.
    Said once, so a title cannot put one max_len's figure beside the other's name."""
    configured = pick(data, "max_len", "configured_max_len")
    words = (
        f"max_len {num(configured)} truncates "
        f"{pct(pick(data, 'truncation_rate', 'truncated'))} of rows"
    )
    suggested = pick(data, "suggested_max_len", "suggested")
    at_suggested = pick(data, "truncation_rate_at_suggested")
    if suggested is not None and suggested != configured:
        words += f" (suggested max_len {num(suggested)}" + (
            f" would truncate {pct(at_suggested)})" if at_suggested is not None else ")"
        )
    return words


def render_lengths(data: Mapping[str, Any]) -> RenderableType:
    pcts = pick(data, "percentiles", default=data)
    line = Text()
    for key in ("p50", "p90", "p95", "p99", "max"):
        line.append(f"{key} ", style="bold")
        line.append(f"{num(pick(pcts, key), 1)}   ")
    unit = pick(data, "unit")
    if unit:
        line.append(f"({unit})", style="dim")
    parts: list[RenderableType] = [line]
    parts.append(Text(truncation_words(data)))
    hist = _histogram(pick(data, "histogram", "hist"))
    if hist is not None:
        parts.append(hist)
    per_class = pick(data, "per_class", "by_class")
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
                Text(str(pick(item, "label"))),
                num(pick(item, "count")),
                num(pick(item, "median", "p50"), 1),
                num(pick(item, "p95"), 1),
            )
        parts.append(table)
    parts += advice_lines(pick(data, "advice"))
    return Group(*parts)
