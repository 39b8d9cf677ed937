"""The dataset profile as Rich renderables: one builder per section, shared by the Data
pane (:class:`~tuirecipe.ui.widgets.profile_view.ProfileView`) and ``tuirecipe data``.

Each builder takes one section of ``DatasetProfile.to_dict()`` and returns a Rich
renderable; it reads its keys defensively (:func:`cells.pick` accepts a few names) so a
profile with a section missing, or one more key, still shows, and anything unrecognised
appears under "Other". Text from the data (labels, rows, terms) is shown literally.
:func:`profile_sections` gives the sections in display order with their titles;
:func:`render_profile` lays them all out for a terminal (the CLI); the pane puts each in
a collapsible. Rich only: no Textual here, so the CLI prints without loading it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.text import Text

from tuirecipe.printable import printable
from tuirecipe.ui.profile_render.cells import bar, num, pick
from tuirecipe.ui.profile_render.distributions import (
    render_labels,
    render_lengths,
    render_size,
)
from tuirecipe.ui.profile_render.findings import (
    clusters_summary,
    render_advice,
    render_clusters,
    render_conflicts,
    render_corrupted,
    render_duplicates,
    render_leakage,
    render_near_duplicates,
    render_other,
)
from tuirecipe.ui.profile_render.findings_extra import render_length_shortcut, render_unicode
from tuirecipe.ui.profile_render.label_noise import noise_summary, render_label_noise
from tuirecipe.ui.profile_render.splits import render_scope, render_skipped, render_splits

__all__ = [
    "SECTION_TITLES",
    "bar",
    "profile_sections",
    "render_profile",
    "render_section",
    "render_source",
    "section_label",
    "section_summary",
]

# key in the profile dict → (title, renderer)
SECTION_TITLES: dict[str, tuple[str, Callable[[Any], RenderableType]]] = {
    "scope": ("Scope", render_scope),
    "advice": ("Advice", render_advice),
    "size": ("Size", render_size),
    "labels": ("Labels (all rows)", render_labels),
    "lengths": ("Lengths (all rows)", render_lengths),
    "length_shortcut": ("Length as a shortcut (all rows)", render_length_shortcut),
    "duplicates": ("Duplicates (all rows)", render_duplicates),
    "conflicts": ("Contradictory labels (all rows)", render_conflicts),
    "label_noise": ("Label noise (whole file)", render_label_noise),
    "splits": ("Each split", render_splits),
    "leakage": ("Train ↔ dev overlap", render_leakage),
    "near_duplicates": ("Near-duplicates (all rows)", render_near_duplicates),
    "corrupted": ("Corrupted rows (all rows)", render_corrupted),
    "unicode": ("Typographic Unicode (all rows)", render_unicode),
    "skipped": ("Skipped rows", render_skipped),
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
        return entry[1](data) if entry else render_other(data)
    except Exception as exc:  # a malformed section must not take the pane down
        return Text(f"cannot show this section: {type(exc).__name__}: {exc}", style="italic")


def _title(key: str, data: Any) -> str:
    if key == "conflicts" and pick(_level(data, "case_space"), "task") == "regression":
        return "Contradictory targets (all rows)"
    return SECTION_TITLES[key][0]


def profile_sections(profile: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """``(key, title, data)`` in display order; unknown keys last. Every string in the
    data (texts, labels, paths) has its control characters escaped for display."""
    profile = _printable(profile)
    found: dict[str, tuple[str, Any]] = {}
    other: dict[str, Any] = {}
    for key, value in profile.items():
        if key in _HIDDEN:
            continue
        canon = _ALIASES.get(key, key)
        if canon in SECTION_TITLES:
            if value or not isinstance(value, (Mapping, list)):  # empty: not in this profile
                found[canon] = (key, value)
        elif isinstance(value, (Mapping, list)) and value:
            found.setdefault(canon, (key, value))
        elif not isinstance(value, (Mapping, list)):
            other[key] = value
    out = [(k, _title(k, found[k][1]), found[k][1]) for k in SECTION_TITLES if k in found]
    out += [
        (k, k.replace("_", " ").capitalize(), v[1])
        for k, v in found.items()
        if k not in SECTION_TITLES
    ]
    if other:
        out.append(("other", "Other", other))
    return out


def _printable(value: Any) -> Any:
    """``value`` with :func:`~tuirecipe.printable.printable` applied to every string in it
    (rows and labels may hold terminal escapes; shown, they must not act)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, Mapping):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_printable(v) for v in value]
    return value


def _level(data: Any, name: str = "exact") -> Mapping[str, Any]:
    level = pick(data, name, default={})
    return level if isinstance(level, Mapping) else {}


def section_summary(key: str, data: Any) -> str:
    """A few words shown in a section's title, so a collapsed section still informs."""
    try:
        if key == "size":
            return (
                f"{num(pick(data, 'rows', 'n_rows'))} rows, "
                f"{num(pick(data, 'classes', 'num_classes'))} classes"
            )
        if key == "labels":
            if pick(data, "kind") == "regression":
                return f"mean {num(pick(data, 'mean'), 2)}, std {num(pick(data, 'std'), 2)}"
            return f"imbalance {num(pick(data, 'imbalance_ratio'), 1)}" + (
                ", long tail" if pick(data, "long_tail") else ""
            )
        if key == "lengths":
            from tuirecipe.ui.profile_render.distributions import truncation_words

            return f"p95 {num(pick(data, 'p95'), 0)}, {truncation_words(data)}"
        if key == "duplicates":
            return f"{num(pick(_level(data), 'surplus_rows', default=0))} exact surplus rows"
        if key == "conflicts":
            exact = _level(data)
            beyond = " beyond tolerance" if pick(exact, "tolerance") else ""
            return f"{num(pick(exact, 'conflicting_texts', default=0))} texts{beyond} (exact)"
        if key == "unicode":
            split = pick(pick(data, "vocabulary_split", default={}), "word_types", default=0)
            return f"{num(pick(data, 'rows', default=0))} rows, {num(split)} word types split"
        if key == "length_shortcut":
            if pick(data, "ran") is False:
                return "not measured"
            top = (pick(data, "per_class", default=[]) or [{}])[0]
            auc = f", strongest class AUC {num(pick(top, 'auc'), 2)}" if pick(top, "auc") else ""
            verdict = "length predicts the label" if pick(data, "fires") else "no shortcut"
            return verdict + auc
        if key == "near_duplicates":
            if pick(data, "ran") is False:
                return "not run"
            leak = pick(pick(data, "leakage", default={}), "pairs")
            return (
                f"{num(pick(data, 'pairs', default=0))} pairs"
                + (f", {num(leak)} train↔dev" if leak is not None else "")
                + (", sampled" if pick(data, "sampled") else "")
            )
        if key == "leakage":
            if pick(data, "ran") is False:
                return "no dev set"
            return f"{num(pick(data, 'dev_rows_in_train', 'rows', default=0))} dev rows in train"
        if key == "splits":
            if pick(data, "ran") is False:
                return "no split"
            return " / ".join(
                f"{name} {num(pick(data.get(name, {}), 'rows'))}"
                for name in pick(data, "names", default=[])
            )
        if key == "skipped":
            return f"{num(pick(data, 'count', default=0))} rows"
        if key == "scope":
            return ""
        if key == "corrupted":
            from tuirecipe.data.profile.corrupted import corrupted_counts

            damaged, long_rows = corrupted_counts(data)
            return f"{damaged:,} corrupted" + (
                f", {long_rows:,} extreme length" if long_rows else ""
            )
        if key == "clusters":
            return clusters_summary(data)
        if key == "label_noise":
            return noise_summary(data)
        if key == "advice":
            return f"{len(data)} notes"
    except Exception:
        return ""
    return ""


def section_label(key: str, title: str, data: Any) -> str:
    """A section's title with its few-word summary: ``"Labels — imbalance 3.0"``."""
    summary = section_summary(key, data)
    return f"{title} — {summary}" if summary else title


def render_profile(profile: Mapping[str, Any]) -> RenderableType:
    """Every section, each under a rule with its title, for a terminal (the CLI)."""
    parts: list[RenderableType] = []
    for key, title, data in profile_sections(profile):
        parts.append(Rule(Text(section_label(key, title, data), style="bold"), align="left"))
        parts.append(Padding(render_section(key, data), (0, 0, 1, 2), expand=False))
    return Group(*parts)


def render_source(path: str, counts: str, sha256: str, notes: Iterable[str] = ()) -> RenderableType:
    """Which file was profiled: path, rows read / used / skipped (``counts``, from
    :meth:`~tuirecipe.data.profiling.LoadedDataset.counts_line`), fingerprint, notes."""
    line = Text(printable(f"{path} · {counts} · sha256 {sha256[:12]}"))
    parts: list[RenderableType] = [line]
    for note in notes:
        parts.append(Text.assemble(("note: ", "bold"), printable(str(note))))
    return Group(*parts)
