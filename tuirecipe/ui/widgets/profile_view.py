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
        ("train / dev", f"{_num(_pick(data, 'train_rows', 'train'))} / "
                        f"{_num(_pick(data, 'dev_rows', 'dev'))}"),
        ("classes", _num(_pick(data, "classes", "num_classes", "n_classes"))),
        ("vocabulary", _num(_pick(data, "vocab_size", "vocab", "vocabulary"))),
        ("dev OOV rate", _pct(_pick(data, "dev_oov_rate", "oov_rate"))),
    ]
    tokens = _pick(data, "tokens", "total_tokens")
    if tokens is not None:
        pairs.append(("tokens", _num(tokens)))
    return Group(_kv_table(pairs), *_advice(_pick(data, "advice", "model_advice")))


def _label_counts(data: Mapping[str, Any]) -> list[tuple[str, int]]:
    counts = _pick(data, "counts", "distribution", "label_counts", default={})
    if isinstance(counts, Mapping):
        items = [(str(k), int(v)) for k, v in counts.items()]
    else:  # a list of {"label": …, "count": …}
        items = [(str(_pick(c, "label", "name")), int(_pick(c, "count", "n", default=0)))
                 for c in counts]
    return sorted(items, key=lambda kv: -kv[1])


def render_labels(data: Mapping[str, Any], width: int = 30) -> RenderableType:
    items = _label_counts(data)
    total = sum(v for _, v in items) or 1
    top = max((v for _, v in items), default=1) or 1
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("label", style="bold", max_width=24, no_wrap=True)
    table.add_column("count", justify="right")
    table.add_column("%", justify="right")
    table.add_column("", no_wrap=True)
    for label, count in items[:40]:
        table.add_row(label, f"{count:,}", f"{100 * count / total:.1f}",
                      Text(bar(count / top, width), style="bold"))
    extra = []
    if len(items) > 40:
        extra.append(Text(f"… {len(items) - 40} more classes", style="dim"))
    ratio = _pick(data, "imbalance_ratio", "imbalance")
    tail = _pick(data, "long_tail", "is_long_tail")
    summary = Text()
    summary.append(f"imbalance ratio (largest/smallest): {_num(ratio, 1)}")
    if tail:
        summary.append("   long tail", style="bold")
    return Group(table, *extra, summary, *_advice(_pick(data, "advice")))


def _histogram(hist: Any, width: int = 30) -> RenderableType | None:
    if not isinstance(hist, Mapping):
        return None
    edges = list(_pick(hist, "edges", "bins", default=[]))
    counts = list(_pick(hist, "counts", default=[]))
    if not counts:
        return None
    top = max(counts) or 1
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("tokens", justify="right", no_wrap=True)
    table.add_column("rows", justify="right")
    table.add_column("", no_wrap=True)
    for i, count in enumerate(counts):
        if len(edges) > i + 1:
            span = f"{_num(edges[i])}–{_num(edges[i + 1])}"
        elif len(edges) > i:
            span = f"{_num(edges[i])}+"
        else:
            span = str(i)
        table.add_row(span, f"{int(count):,}", Text(bar(count / top, width), style="bold"))
    return table


def render_lengths(data: Mapping[str, Any]) -> RenderableType:
    pcts = _pick(data, "percentiles", default=data)
    line = Text()
    for key in ("p50", "p90", "p95", "p99", "max"):
        line.append(f"{key} ", style="bold")
        line.append(f"{_num(_pick(pcts, key, key.lstrip('p')), 1)}   ")
    parts: list[RenderableType] = [line]
    suggested = _pick(data, "suggested_max_len", "suggested")
    configured = _pick(data, "max_len", "configured_max_len")
    trunc = _pick(data, "truncation_rate", "truncated")
    parts.append(Text(f"suggested max_len {_num(suggested)}   "
                      f"configured max_len {_num(configured)}: truncates {_pct(trunc)} of rows"))
    hist = _histogram(_pick(data, "histogram", "hist"))
    if hist is not None:
        parts.append(hist)
    per_class = _pick(data, "per_class", "by_class")
    if isinstance(per_class, Mapping) and per_class:
        table = Table(title="per class", title_justify="left", box=None, padding=(0, 1),
                      show_edge=False)
        table.add_column("label", style="bold", max_width=24, no_wrap=True)
        for key in ("mean", "p50", "p90", "max"):
            table.add_column(key, justify="right")
        for label, stats in list(per_class.items())[:30]:
            table.add_row(str(label), *(_num(_pick(stats, k), 1) for k in
                                        ("mean", "p50", "p90", "max")))
        parts.append(table)
    parts += _advice(_pick(data, "advice"))
    return Group(*parts)


def render_duplicates(data: Mapping[str, Any]) -> RenderableType:
    levels = _pick(data, "levels", default={})
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("level", style="bold")
    table.add_column("extra rows", justify="right")
    table.add_column("groups", justify="right")
    table.add_column("rate", justify="right")
    if isinstance(levels, Mapping):
        for name, level in levels.items():
            table.add_row(str(name).replace("_", " "),
                          _num(_pick(level, "rows", "duplicates", "extra_rows", "count")),
                          _num(_pick(level, "groups", "n_groups")),
                          _pct(_pick(level, "rate", "fraction")))
    parts: list[RenderableType] = [table]
    groups = _pick(data, "groups", "examples", default=[])
    if groups:
        parts.append(Text("largest groups", style="bold"))
        for group in list(groups)[:8]:
            rows = _pick(group, "rows", default=[])
            parts.append(Text(f"  ×{len(rows) or _pick(group, 'size', default='?')}  "
                              f"rows {_rows(rows, 6)}  “{_cut(_pick(group, 'text', default=''), 50)}”"))
    parts += _advice(_pick(data, "advice"))
    return Group(*parts)


def render_near_duplicates(data: Mapping[str, Any]) -> RenderableType:
    parts: list[RenderableType] = []
    sampled = _pick(data, "sampled")
    head = Text()
    for key, title in (("train", "within train"), ("leakage", "train ↔ dev leakage"),
                       ("train_dev", "train ↔ dev leakage")):
        part = _pick(data, key)
        if part is None:
            continue
        if isinstance(part, Mapping):
            pairs = _pick(part, "pairs", "count", "rows")
            rate = _pick(part, "rate", "fraction")
            head.append(f"{title}: ", style="bold")
            head.append(f"{_num(pairs)}" + (f" ({_pct(rate)})" if rate is not None else "")
                        + "   ")
            examples = _pick(part, "examples", "pairs_list", default=[])
        else:
            head.append(f"{title}: ", style="bold")
            head.append(f"{_num(part)}   ")
            examples = []
        for ex in list(examples or [])[:5]:
            parts.append(Text(f"  rows {_pick(ex, 'a', 'row_a', default='?')} ~ "
                              f"{_pick(ex, 'b', 'row_b', default='?')}"
                              f" (sim {_num(_pick(ex, 'similarity', 'sim'), 2)}): "
                              f"“{_cut(_pick(ex, 'text', 'text_a', default=''), 50)}”"))
    threshold = _pick(data, "threshold")
    if threshold is not None:
        head.append(f"threshold {threshold}   ")
    if sampled:
        head.append("(sampled)", style="italic")
    return Group(head, *parts, *_advice(_pick(data, "advice")))


def render_conflicts(data: Any) -> RenderableType:
    items = _pick(data, "groups", "items", default=data) if isinstance(data, Mapping) else data
    items = list(items or [])
    if not items:
        return Text("No text appears with two different labels.")
    head = Text(f"{len(items)} text(s) with contradictory labels", style="bold")
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("labels", no_wrap=True)
    table.add_column("rows", no_wrap=True)
    table.add_column("text")
    for item in items[:30]:
        labels = _pick(item, "labels", default={})
        labels_text = (", ".join(f"{k}×{v}" for k, v in labels.items())
                       if isinstance(labels, Mapping) else ", ".join(map(str, labels)))
        table.add_row(labels_text, _rows(_pick(item, "rows", default=[]), 5),
                      _cut(_pick(item, "text", default=""), 60))
    more = [Text(f"… and {len(items) - 30} more", style="dim")] if len(items) > 30 else []
    return Group(head, table, *more)


def render_corrupted(data: Mapping[str, Any]) -> RenderableType:
    cats = _pick(data, "categories", "by_category", default=data)
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("category", style="bold")
    table.add_column("rows", justify="right")
    table.add_column("examples (row numbers)")
    any_rows = False
    if isinstance(cats, Mapping):
        for name, cat in cats.items():
            if not isinstance(cat, (Mapping, list, int)):
                continue
            rows = _pick(cat, "rows", default=cat if isinstance(cat, list) else [])
            count = _pick(cat, "count", "n", default=cat if isinstance(cat, int) else len(rows))
            any_rows = any_rows or bool(count)
            table.add_row(str(name).replace("_", " "), _num(count), _rows(rows, 8))
    if not any_rows:
        return Text("No corrupted rows found.")
    return table


def render_clusters(data: Any) -> RenderableType:
    items = _pick(data, "clusters", "items", default=data) if isinstance(data, Mapping) else data
    items = list(items or [])
    if not items:
        return Text("No clusters.")
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("#", justify="right")
    table.add_column("size", justify="right")
    table.add_column("top terms")
    table.add_column("label mix")
    table.add_column("")
    for i, item in enumerate(items[:30]):
        terms = _pick(item, "top_terms", "terms", default=[])
        mix = _pick(item, "label_mix", "labels", default={})
        if isinstance(mix, Mapping):
            total = sum(float(v) for v in mix.values()) or 1.0
            mix_text = ", ".join(f"{k} {100 * float(v) / total:.0f}%" for k, v in
                                 sorted(mix.items(), key=lambda kv: -float(kv[1]))[:3])
        else:
            mix_text = str(mix)
        mixed = _pick(item, "mixed")
        table.add_row(str(_pick(item, "id", default=i)), _num(_pick(item, "size", "rows")),
                      _cut(", ".join(map(str, terms)), 40), mix_text,
                      Text("mixed", style="bold") if mixed else "")
    return table


def _render_other(data: Any) -> RenderableType:
    if isinstance(data, Mapping):
        return _kv_table((str(k), _cut(v, 90)) for k, v in data.items())
    return Text(_cut(data, 200))


# key in the profile dict → (title, renderer)
SECTION_TITLES: dict[str, tuple[str, Callable[[Any], RenderableType]]] = {
    "size": ("Size", render_size),
    "labels": ("Labels", render_labels),
    "lengths": ("Lengths", render_lengths),
    "duplicates": ("Duplicates", render_duplicates),
    "near_duplicates": ("Near-duplicates", render_near_duplicates),
    "conflicts": ("Contradictory labels", render_conflicts),
    "corrupted": ("Corrupted rows", render_corrupted),
    "clusters": ("Clusters", render_clusters),
}
_ALIASES = {"label_distribution": "labels", "length": "lengths", "near_dups": "near_duplicates",
            "near_duplicate": "near_duplicates", "contradictions": "conflicts",
            "corruption": "corrupted"}


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
        canon = _ALIASES.get(key, key)
        if canon in SECTION_TITLES:
            found[canon] = (key, value)
        elif isinstance(value, (Mapping, list)) and value:
            found.setdefault(canon, (key, value))
        elif not isinstance(value, (Mapping, list)):
            other[key] = value
    out = [(k, SECTION_TITLES[k][0], found[k][1]) for k in SECTION_TITLES if k in found]
    out += [(k, k.replace("_", " ").capitalize(), v[1]) for k, v in found.items()
            if k not in SECTION_TITLES]
    if other:
        out.append(("other", "Other", other))
    return out


def section_summary(key: str, data: Any) -> str:
    """A few words shown in a section's title, so a collapsed section still informs."""
    try:
        if key == "size":
            return f"{_num(_pick(data, 'rows', 'n_rows'))} rows, " \
                   f"{_num(_pick(data, 'classes', 'num_classes'))} classes"
        if key == "labels":
            return f"imbalance {_num(_pick(data, 'imbalance_ratio'), 1)}" + \
                   (", long tail" if _pick(data, "long_tail") else "")
        if key == "lengths":
            return f"p95 {_num(_pick(_pick(data, 'percentiles', default=data), 'p95'), 0)}, " \
                   f"truncates {_pct(_pick(data, 'truncation_rate'))}"
        if key == "conflicts":
            items = _pick(data, "groups", "items", default=data) \
                if isinstance(data, Mapping) else data
            return f"{len(list(items or []))} texts"
        if key == "clusters":
            items = _pick(data, "clusters", default=data) if isinstance(data, Mapping) else data
            return f"{len(list(items or []))} clusters"
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

    async def show_profile(self, profile: Mapping[str, Any],
                           collapsed: Sequence[str] = ()) -> None:
        """Replace what is shown with ``profile`` (a ``DatasetProfile.to_dict()``)."""
        self.profile = dict(profile)
        widgets = []
        for key, title, data in _sections(profile):
            summary = section_summary(key, data)
            label = f"{title} — {summary}" if summary else title
            widgets.append(Collapsible(Static(render_section(key, data),
                                              classes="profile-body"),
                                       title=label, collapsed=key in collapsed,
                                       id=f"profile-{key}"))
        await self.remove_children()
        await self.mount_all(widgets)

    def show_message(self, message: str) -> None:
        self.remove_children()
        self.mount(Static(message, classes="profile-empty"))
