"""The Checks pane's lines, as markup: one list entry per check (status glyph, title,
time, one-line summary) and the summary line over the list.

Plain functions of a :class:`ChecklistState` (results, checks running, ticks, the human
baseline), so the pane only decides when to redraw. Titles and summaries come from
checks and notes: they are escaped before they go into markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tuirecipe.checks.base import Check
from tuirecipe.ui.widgets.check_detail import STATUS_GLYPHS, escape, human_summary

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@dataclass(frozen=True)
class ChecklistState:
    results: dict[str, dict[str, Any]]  # check name -> its newest result
    live: dict[str, dict[str, Any]]  # check name -> {"state", "fraction", "message", …}
    ticks: dict[str, dict[str, Any]]  # check name -> {"note", "time"}
    human: dict[str, Any] | None  # the human baseline's result
    human_examples: int  # how many dev examples the human baseline asks for
    frame: int = 0  # the spinner's frame


def clip(text: str, width: int) -> str:
    """``text`` on one line, cut with … to ``width`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


def check_glyph(check: type[Check], state: ChecklistState) -> str:
    """Five cells: a spinner and percentage while running, else the status at a glance."""
    live = state.live.get(check.name)
    if live is not None:
        if live["state"] == "queued":
            return "[$text-muted]  …  [/]"
        fraction = live.get("fraction")
        spin = SPINNER[state.frame % len(SPINNER)]
        done = f"{fraction:>4.0%}" if fraction is not None else "    "
        return f"[$accent b]{spin}{done}[/]"
    if check.kind == "manual":
        return "[$success b]  ☑  [/]" if check.name in state.ticks else "[$text-muted]  ☐  [/]"
    if check.kind == "interactive":
        return "[$success b]  ✓  [/]" if state.human else "[$text-muted]  ·  [/]"
    result = state.results.get(check.name)
    if result is None:
        return "[$text-muted]  ·  [/]"
    glyph, colour = STATUS_GLYPHS.get(result.get("status", ""), ("?", "$text-muted"))
    return f"[{colour} b]  {glyph}  [/]"


def check_summary(check: type[Check], state: ChecklistState) -> str:
    """The check's one line of words (plain text): progress, its result, its tick or a
    hint at the key that does it."""
    live = state.live.get(check.name)
    if live is not None:
        if live["state"] == "queued":
            return "queued"
        return live.get("message") or "running…"
    if check.kind == "manual":
        tick = state.ticks.get(check.name)
        if tick is not None:
            return tick.get("note") or "ticked"
        return "space: tick when done · n: note"
    if check.kind == "interactive":
        if state.human:
            return human_summary(state.human)
        return f"h: label {state.human_examples} dev examples yourself"
    result = state.results.get(check.name)
    if result is None:
        return "not run · r: run"
    return result.get("summary", "")


def check_prompt(check: type[Check], state: ChecklistState, width: int) -> str:
    """The two-line list entry of ``check`` for a list ``width`` cells wide (markup)."""
    result = state.results.get(check.name)
    extra = ""
    if result is not None and check.kind == "auto" and check.name not in state.live:
        extra = f"  [$text-muted]{result.get('seconds', 0):.1f}s[/]"
    if check.kind == "auto" and check.name in state.ticks:
        extra += "  [$success]☑ looked[/]"
    summary = clip(check_summary(check, state), width - 6)
    return (
        f"{check_glyph(check, state)} [b]{escape(check.title)}[/b]{extra}\n"
        f"      [$text-muted]{escape(summary)}[/]"
    )


def checklist_summary(
    checks: Sequence[type[Check]],
    state: ChecklistState,
    running: Sequence[str] = (),
    loaded: bool = True,
) -> str:
    """The line over the list (markup): automatic results by status, manual ticks, the
    runs going on (or that results are still being read)."""
    autos = [c for c in checks if c.kind == "auto"]
    counts: dict[str, int] = {}
    for check in autos:
        status = state.results.get(check.name, {}).get("status")
        if status:
            counts[status] = counts.get(status, 0) + 1
    manual = [c for c in checks if c.kind == "manual"]
    parts = [
        f"{len(autos)} automatic: "
        + (
            " ".join(
                f"[{STATUS_GLYPHS[s][1]}]{counts[s]} {STATUS_GLYPHS[s][0]}[/]"
                for s in STATUS_GLYPHS
                if counts.get(s)
            )
            or "none run"
        )
    ]
    not_run = len(autos) - sum(counts.values())
    if counts and not_run:
        parts[-1] += f" {not_run} not run"
    parts.append(f"manual {sum(c.name in state.ticks for c in manual)}/{len(manual)} ticked")
    if running:
        parts.append(f"[$accent]running {escape(', '.join(running))}[/]  x: stop")
    elif not loaded:
        parts.append("reading results…")
    return " · ".join(parts)
