"""The Checks pane's lines, as markup: one list entry per check (status glyph, title,
time, one-line summary) and the summary line over the list.

Plain functions of a :class:`ChecklistState` (results, checks running, ticks, the human
baseline), so the pane only decides when to redraw. Results, ticks and the human
baseline are :class:`~tuirecipe.checks.store.ResultView`s judged against the config: a
stale one is drawn with a neutral glyph and the reason it is stale, and only current
verdicts (``counts_as``) are counted. Titles and summaries come from checks and notes:
they are escaped before they go into markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tuirecipe.checks.base import Check
from tuirecipe.checks.store import ResultView
from tuirecipe.ui.widgets.check_detail import (
    STATUS_GLYPHS,
    STOPPED_SUMMARY,
    escape,
    human_summary,
    status_glyph,
)

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@dataclass(frozen=True)
class ChecklistState:
    results: dict[str, ResultView]  # check name -> its result for the config (or stale)
    live: dict[str, dict[str, Any]]  # check name -> {"state", "fraction", "message", …}
    ticks: dict[str, ResultView]  # check name -> its tick (summary: the note)
    human: ResultView | None  # the human baseline's result
    human_examples: int  # how many dev examples the human baseline asks for
    frame: int = 0  # the spinner's frame


def clip(text: str, width: int) -> str:
    """``text`` on one line, cut with … to ``width`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


def _glyph(status: str) -> str:
    glyph, colour = status_glyph(status)
    return f"[{colour} b]  {glyph}  [/]"


def check_glyph(check: type[Check], state: ChecklistState) -> str:
    """Five cells: a spinner and percentage while running, else the status at a glance
    (stale when the result or tick was made for another config)."""
    live = state.live.get(check.name)
    if live is not None:
        if live["state"] == "queued":
            return "[$text-muted]  …  [/]"
        fraction = live.get("fraction")
        spin = SPINNER[state.frame % len(SPINNER)]
        done = f"{fraction:>4.0%}" if fraction is not None else "    "
        return f"[$accent b]{spin}{done}[/]"
    if check.kind == "manual":
        tick = state.ticks.get(check.name)
        if tick is None:
            return "[$text-muted]  ☐  [/]"
        return "[$success b]  ☑  [/]" if tick.current else _glyph("stale")
    if check.kind == "interactive":
        if state.human is None:
            return "[$text-muted]  ·  [/]"
        return "[$success b]  ✓  [/]" if state.human.current else _glyph("stale")
    result = state.results.get(check.name)
    if result is None:
        return "[$text-muted]  ·  [/]"
    return _glyph(result.shown_status)


def check_summary(check: type[Check], state: ChecklistState) -> str:
    """The check's one line of words (plain text): progress, its result, its tick or a
    hint at the key that does it; for a stale one, why it is stale."""
    live = state.live.get(check.name)
    if live is not None:
        if live["state"] == "queued":
            return "queued"
        return live.get("message") or "running…"
    if check.kind == "manual":
        tick = state.ticks.get(check.name)
        if tick is None:
            return "space: tick when done · n: note"
        if not tick.current:
            return tick.stale_reason
        return tick.summary or "ticked"
    if check.kind == "interactive":
        if state.human is None:
            return f"h: label {state.human_examples} dev examples yourself"
        if not state.human.current:
            return state.human.stale_reason
        return human_summary(state.human.record)
    result = state.results.get(check.name)
    if result is None:
        return "not run · r: run"
    if not result.current:
        return result.stale_reason
    if result.status == "stopped":
        return STOPPED_SUMMARY
    return result.summary


def check_prompt(check: type[Check], state: ChecklistState, width: int) -> str:
    """The two-line list entry of ``check`` for a list ``width`` cells wide (markup)."""
    result = state.results.get(check.name)
    extra = ""
    if (
        result is not None
        and result.current
        and check.kind == "auto"
        and check.name not in state.live
    ):
        seconds = result.record.get("seconds")
        extra = f"  [$text-muted]{seconds if isinstance(seconds, (int, float)) else 0:.1f}s[/]"
    tick = state.ticks.get(check.name)
    if check.kind == "auto" and tick is not None:
        extra += "  [$success]☑ looked[/]" if tick.current else "  [$text-muted]looked: stale[/]"
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
    """The line over the list (markup): today's verdicts of the automatic checks by
    status (only ``counts_as``), then the stale and stopped ones apart, manual ticks, the
    runs going on (or that results are still being read)."""
    autos = [c for c in checks if c.kind == "auto"]
    counts: dict[str, int] = {}
    others: dict[str, int] = {}  # stale, stopped: shown, never counted as a verdict
    for check in autos:
        result = state.results.get(check.name)
        if result is None:
            continue
        verdict = result.counts_as
        if verdict in STATUS_GLYPHS:
            counts[verdict] = counts.get(verdict, 0) + 1
        else:
            shown = "stale" if not result.current else "stopped"
            others[shown] = others.get(shown, 0) + 1
    words = [
        f"[{STATUS_GLYPHS[s][1]}]{counts[s]} {STATUS_GLYPHS[s][0]}[/]"
        for s in STATUS_GLYPHS
        if counts.get(s)
    ]
    for shown in ("stale", "stopped"):
        if others.get(shown):
            glyph, colour = status_glyph(shown)
            words.append(f"[{colour}]{others[shown]} {glyph} {shown}[/]")
    not_run = len(autos) - sum(counts.values()) - sum(others.values())
    if words and not_run:
        words.append(f"{not_run} not run")
    parts = [f"{len(autos)} automatic: " + (" ".join(words) or "none run")]
    manual = [c for c in checks if c.kind == "manual"]
    ticks = [state.ticks[c.name] for c in manual if c.name in state.ticks]
    ticked = f"manual {sum(t.current for t in ticks)}/{len(manual)} ticked"
    stale_ticks = sum(not t.current for t in ticks)
    if stale_ticks:
        ticked += f" ({stale_ticks} stale)"
    parts.append(ticked)
    if running:
        parts.append(f"[$accent]running {escape(', '.join(running))}[/]  x: stop")
    elif not loaded:
        parts.append("reading results…")
    elif not words:  # a newcomer's first visit: what to press
        parts.append("[$accent]a: run them all[/], r: the highlighted one")
    return " · ".join(parts)
