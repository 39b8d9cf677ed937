"""The Checks pane's list lines and summary, drawn from a plain state (no app)."""

from __future__ import annotations

from tuirecipe.checks.base import Check
from tuirecipe.ui.widgets.check_lines import (
    ChecklistState,
    check_glyph,
    check_prompt,
    check_summary,
    checklist_summary,
    clip,
)


class AutoCheck(Check):
    name, title, kind = "auto_one", "Auto [one]", "auto"


class ManualCheck(Check):
    name, title, kind = "manual_one", "Look at it", "manual"


def state(**kwargs) -> ChecklistState:
    base = {"results": {}, "live": {}, "ticks": {}, "human": None, "human_examples": 50}
    return ChecklistState(**{**base, **kwargs})


def test_a_running_check_spins_with_its_fraction_and_a_queued_one_waits():
    running = state(live={"auto_one": {"state": "running", "fraction": 0.5}}, frame=1)
    assert check_glyph(AutoCheck, running) == "[$accent b]⠙ 50%[/]"
    assert check_summary(AutoCheck, running) == "running…"
    queued = state(live={"auto_one": {"state": "queued", "fraction": None}})
    assert "…" in check_glyph(AutoCheck, queued) and check_summary(AutoCheck, queued) == "queued"


def test_results_ticks_and_hints():
    done = state(results={"auto_one": {"status": "fail", "summary": "loss 1.6", "seconds": 1.25}})
    assert "✗" in check_glyph(AutoCheck, done)
    assert check_summary(AutoCheck, state()) == "not run · r: run"
    ticked = state(ticks={"manual_one": {"note": "read 300 rows"}})
    assert "☑" in check_glyph(ManualCheck, ticked)
    assert check_summary(ManualCheck, ticked) == "read 300 rows"
    assert check_summary(ManualCheck, state()) == "space: tick when done · n: note"
    prompt = check_prompt(AutoCheck, done, width=60)
    assert "1.2s" in prompt and "Auto \\[one]" in prompt  # the title is escaped


def test_a_note_is_escaped_and_clipped_in_the_prompt():
    note = "[b]not bold[/b] " + "x" * 100
    prompt = check_prompt(ManualCheck, state(ticks={"manual_one": {"note": note}}), width=40)
    second = prompt.splitlines()[1]
    assert "\\[b]not bold\\[/b]" in second and second.endswith("…[/]")
    assert clip("a  b\nc", 10) == "a b c" and clip("abcdef", 4) == "abc…"


def test_the_summary_counts_results_ticks_and_runs():
    s = state(
        results={"auto_one": {"status": "pass"}},
        ticks={"manual_one": {"note": ""}},
    )
    text = checklist_summary([AutoCheck, ManualCheck], s)
    assert text.startswith("1 automatic: ") and "1 ✓" in text
    assert "manual 1/1 ticked" in text
    assert "running r1" in checklist_summary([AutoCheck], state(), ["r1"])
    assert checklist_summary([AutoCheck], state(), loaded=False).endswith("reading results…")
    assert "none run" in checklist_summary([AutoCheck], state())
