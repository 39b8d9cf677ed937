"""The label-noise estimate's section (``label_noise``): the flagged share with its
interval, per given label, the probability source and the most suspect rows. Labels and
rows come from the data: shown literally, through ``Text``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tuirecipe.ui.profile_render.cells import num, pct, pick


def _interval(data: Any) -> str:
    lo, hi = (pick(data, "interval", default=[None, None]) or [None, None])[:2]
    return f"{pct(lo)}–{pct(hi)}"


def noise_summary(data: Any) -> str:
    """A few words for the section's title."""
    if pick(data, "ran") is False:
        return str(pick(data, "status", default="not run"))
    return (
        f"{pct(pick(data, 'rate'))} likely label errors (95 % {_interval(data)}), "
        f"{num(pick(data, 'flagged', default=0))} rows"
    )


def render_label_noise(data: Mapping[str, Any]) -> RenderableType:
    if pick(data, "ran") is False:
        return Text(str(pick(data, "message", default="The label-noise estimate has not run.")))
    head = Text()
    head.append(
        f"{num(pick(data, 'flagged', default=0))} of {num(pick(data, 'rows'))} rows",
        style="bold",
    )
    head.append(
        f" flagged as likely label errors: estimated noise rate {pct(pick(data, 'rate'))} "
        f"(95 % interval {_interval(data)})"
    )
    parts: list[RenderableType] = [head]
    parts.append(Text(f"scope: {pick(data, 'scope', default='')}", style="italic"))
    parts.append(Text(f"unit: {pick(data, 'unit', default='rows')}", style="italic"))
    parts.append(
        Text(
            f"how: {pick(data, 'method', default='')} on {pick(data, 'source', default='')}; "
            f"that model's accuracy on the given labels {pct(pick(data, 'model_accuracy'))} "
            f"(a weak model flags hard rows too); confident-joint estimate "
            f"{pct(pick(data, 'joint_noise_rate'))}",
            style="italic",
        )
    )
    table = Table(box=None, padding=(0, 1), show_edge=False)
    for column in ("given label", "rows", "flagged", "rate", "95 % interval", "mostly → "):
        table.add_column(column, justify="left" if "label" in column else "right")
    for item in pick(data, "per_class", default=[]) or []:
        if not isinstance(item, Mapping):
            continue
        table.add_row(
            Text(str(pick(item, "label", default=""))),
            num(pick(item, "rows")),
            num(pick(item, "flagged")),
            pct(pick(item, "rate")),
            _interval(item),
            Text(str(pick(item, "most_suggested", default="") or "")),
        )
    parts.append(table)
    examples = [e for e in pick(data, "examples", default=[]) or [] if isinstance(e, Mapping)]
    if examples:
        parts.append(Text("most suspect rows (the browser's E flag, sort 'quality'):"))
        for ex in examples[:8]:
            line = Text(f"  row {num(pick(ex, 'row'))}: ")
            line.append(str(pick(ex, "label", default="")))
            line.append(" → ")
            line.append(str(pick(ex, "suggested", default="")))
            line.append(f" (confidence {num(pick(ex, 'confidence'), 2)})")
            parts.append(line)
    return Group(*parts)
