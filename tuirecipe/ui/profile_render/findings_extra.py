"""Section builders for the findings added by issue 12: typographic Unicode, length as a
label shortcut, and regression conflicts judged by their spread. Text from the data
(rows, labels, characters) is shown literally, through ``Text``."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tuirecipe.ui.profile_render.cells import advice_lines, cut, num, pct, pick, row_list, where

_LEVELS = {"exact": "exact", "case_space": "case + space", "loose": "loose"}


def _visible(char: str) -> bool:
    """Whether a character can be shown as itself (not a space, mark or invisible)."""
    return bool(char) and unicodedata.category(char[0])[0] not in "ZCM"


def _character(item: Mapping[str, Any]) -> str:
    char = str(pick(item, "char", default=""))
    code = str(pick(item, "codepoint", default=""))
    shown = char if _visible(char) else str(pick(item, "name", default=code)).lower()
    return f"{shown} {code} ×{num(pick(item, 'occurrences', default=0))}"


def render_unicode(data: Mapping[str, Any]) -> RenderableType:
    kinds = [k for k in pick(data, "kinds", default=[]) or [] if isinstance(k, Mapping)]
    if not pick(data, "rows", default=0) or not kinds:
        checked = pick(data, "non_ascii_texts")
        return Text(
            "No typographic or compatibility characters"
            + (f" ({num(checked)} non-ASCII texts checked)." if checked is not None else ".")
        )
    head = Text()
    head.append(f"{num(pick(data, 'rows'))} rows", style="bold")
    head.append(f" ({num(pick(data, 'texts'))} texts) hold typographic or compatibility characters")
    nfkc = pick(data, "nfkc_changed", default={})
    if isinstance(nfkc, Mapping):
        head.append(f"; {num(pick(nfkc, 'rows', default=0))} rows change under NFKC")
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("kind", style="bold", no_wrap=True)
    table.add_column("rows", justify="right")
    table.add_column("texts", justify="right")
    table.add_column("characters")
    examples: list[RenderableType] = []
    for kind in kinds:
        chars = [c for c in pick(kind, "characters", default=[]) or [] if isinstance(c, Mapping)]
        more = int(pick(kind, "distinct_characters", default=len(chars))) - min(len(chars), 4)
        table.add_row(
            str(pick(kind, "kind", default="?")).replace("_", " "),
            num(pick(kind, "rows")),
            num(pick(kind, "texts")),
            Text(", ".join(_character(c) for c in chars[:4]) + (f", +{more}" if more > 0 else "")),
        )
        for ex in list(pick(kind, "examples", default=[]) or [])[:2]:
            line = pick(ex, "line")
            where = f"row {pick(ex, 'row', default='?')}" + (f" (line {line})" if line else "")
            examples.append(Text(f"  {where}: “{cut(pick(ex, 'text', default=''), 70)}”"))
    parts: list[RenderableType] = [head, table]
    split = pick(data, "vocabulary_split", default={})
    n_split = pick(split, "word_types", default=0)
    if n_split:
        pairs = []
        for ex in list(pick(split, "examples", default=[]) or [])[:6]:
            typo = [t for t in pick(ex, "typographic", default=[]) or [] if isinstance(t, Mapping)]
            shown = "/".join(str(pick(t, "word", default="")) for t in typo[:2])
            pairs.append(f"{shown} ≠ {pick(ex, 'plain', default='')}")
        line = Text()
        line.append(f"vocabulary split: {num(n_split)} word types", style="bold")
        line.append(" spelled both ways: " + ", ".join(pairs))
        parts.append(line)
    if examples:
        parts.append(Text("examples", style="bold"))
        parts += examples
    return Group(*parts, *advice_lines(pick(data, "message") if pick(data, "fires") else None))


def render_length_shortcut(data: Mapping[str, Any]) -> RenderableType:
    if pick(data, "ran") is False:
        return Text(f"Not measured: {pick(data, 'reason', default='not run')}", style="italic")
    verdict = Text(str(pick(data, "message", default="")))
    if pick(data, "fires"):
        verdict.stylize("bold")
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("label", style="bold")
    table.add_column("rows", justify="right")
    table.add_column("median length", justify="right")
    table.add_column("length AUC", justify="right")
    table.add_column("")
    for item in list(pick(data, "per_class", default=[]) or [])[:12]:
        strength = str(pick(item, "strength", default=""))
        note = f"{pick(item, 'direction', default='')}, {strength}" if strength != "weak" else ""
        table.add_row(
            Text(str(pick(item, "label", default="?"))),
            num(pick(item, "rows")),
            num(pick(item, "median_length"), 1),
            num(pick(item, "auc"), 2),
            Text(note, style="bold" if strength == "strong" else ""),
        )
    parts: list[RenderableType] = [verdict, table]
    clf = pick(data, "classifier", default={})
    if isinstance(clf, Mapping) and pick(clf, "ran"):
        line = Text()
        line.append("length-only classifier: ", style="bold")
        line.append(
            f"balanced accuracy {num(pick(clf, 'balanced_accuracy'), 2)} vs chance "
            f"{num(pick(clf, 'chance_balanced_accuracy'), 2)}; accuracy "
            f"{num(pick(clf, 'accuracy'), 2)} vs majority {num(pick(clf, 'majority_accuracy'), 2)}"
            f" ({num(pick(clf, 'folds'))}-fold, {num(pick(clf, 'rows'))} rows"
            + (", sampled" if pick(clf, "sampled") else "")
            + ")"
        )
        parts.append(line)
    truncated = pick(data, "truncated", default={})
    if isinstance(truncated, Mapping):
        line = Text()
        line.append(f"rows over max_len {num(pick(truncated, 'max_len'))}: ", style="bold")
        line.append(f"{num(pick(truncated, 'rows', default=0))} ({pct(pick(truncated, 'share'))})")
        parts.append(line)
        for item in list(pick(truncated, "per_class", default=[]) or [])[:6]:
            row = Text("  ")
            row.append(str(pick(item, "label", default="?")), style="bold")
            row.append(
                f": {num(pick(item, 'rows'))} rows, {pct(pick(item, 'share_of_class'))} of the "
                f"class, {pct(pick(item, 'share_of_truncated'))} of the truncated "
                f"(rows {row_list(pick(item, 'examples', default=[]), 5)})"
            )
            parts.append(row)
    return Group(*parts)


def _spread_line(group: Mapping[str, Any]) -> Text:
    line = Text("  ")
    line.append(f"×{num(pick(group, 'count'))}", style="bold")
    line.append(f"  {where(group, 6)}")
    line.append(
        f"  values {num(pick(group, 'min'), 2)}–{num(pick(group, 'max'), 2)} "
        f"(spread {num(pick(group, 'spread'), 2)}, std {num(pick(group, 'std'), 2)})"
    )
    line.append(f"  “{cut(pick(group, 'text', default=''), 40)}”")
    return line


def render_regression_conflicts(data: Mapping[str, Any]) -> RenderableType:
    """The ``conflicts`` section of a regression profile: spread against a tolerance."""
    levels = [(str(k), v) for k, v in data.items() if isinstance(v, Mapping)]
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("level", style="bold")
    table.add_column("beyond tolerance (texts)", justify="right")
    table.add_column("rows", justify="right")
    table.add_column("within tolerance (texts)", justify="right")
    table.add_column("identical values (texts)", justify="right")
    parts: list[RenderableType] = []
    tolerance = None
    groups_shown = False
    groups: list[RenderableType] = []
    for name, level in levels:
        table.add_row(
            _LEVELS.get(name, name),
            num(pick(level, "conflicting_texts")),
            num(pick(level, "rows")),
            num(pick(pick(level, "within_tolerance", default={}), "texts")),
            num(pick(pick(level, "identical_values", default={}), "texts")),
        )
        tolerance = tolerance or pick(level, "tolerance")
        found = list(pick(level, "groups", default=[]) or [])
        if found and not groups_shown:
            groups_shown = True
            groups.append(
                Text(f"values spread beyond tolerance ({_LEVELS.get(name, name)})", style="bold")
            )
            groups += [_spread_line(g) for g in found[:12] if isinstance(g, Mapping)]
    if isinstance(tolerance, Mapping):
        line = Text()
        line.append("tolerance: ", style="bold")
        line.append(
            f"{num(pick(tolerance, 'value'), 3)} {pick(tolerance, 'unit', default='')}"
            f" — {pick(tolerance, 'rule', default='')}"
        )
        parts.append(line)
    parts.append(table)
    if not groups_shown:
        parts.append(Text("No repeated text has values spread beyond the tolerance."))
    return Group(*parts, *groups)
