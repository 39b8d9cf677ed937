"""The Checks pane's list lines and summary, drawn from a plain state (no app)."""

from __future__ import annotations

from tuirecipe.checks.base import Check
from tuirecipe.checks.store import ResultView
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


def result(
    status: str, summary: str = "", seconds: float = 0.0, stale: str = "", name: str = "auto_one"
) -> ResultView:
    """A result as ``checklist_view`` judges it: current, or stale with ``stale`` as why."""
    record = {"name": name, "status": status, "summary": summary, "seconds": seconds}
    return ResultView(
        name, "result", status, summary, current=not stale, stale_reason=stale, record=record
    )


def tick(note: str = "", stale: str = "", name: str = "manual_one") -> ResultView:
    return ResultView(
        name, "tick", "ticked", note, current=not stale, stale_reason=stale, record={"note": note}
    )


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
    done = state(results={"auto_one": result("fail", "loss 1.6", seconds=1.25)})
    assert "✗" in check_glyph(AutoCheck, done)
    assert check_summary(AutoCheck, state()) == "not run · r: run"
    ticked = state(ticks={"manual_one": tick("read 300 rows")})
    assert "☑" in check_glyph(ManualCheck, ticked)
    assert check_summary(ManualCheck, ticked) == "read 300 rows"
    assert check_summary(ManualCheck, state()) == "space: tick when done · n: note"
    prompt = check_prompt(AutoCheck, done, width=60)
    assert "1.2s" in prompt and "Auto \\[one]" in prompt  # the title is escaped


def test_a_note_is_escaped_and_clipped_in_the_prompt():
    note = "[b]not bold[/b] " + "x" * 100
    prompt = check_prompt(ManualCheck, state(ticks={"manual_one": tick(note)}), width=40)
    second = prompt.splitlines()[1]
    assert "\\[b]not bold\\[/b]" in second and second.endswith("…[/]")
    assert clip("a  b\nc", 10) == "a b c" and clip("abcdef", 4) == "abc…"


def test_the_summary_counts_results_ticks_and_runs():
    s = state(
        results={"auto_one": result("pass")},
        ticks={"manual_one": tick("")},
    )
    text = checklist_summary([AutoCheck, ManualCheck], s)
    assert text.startswith("1 automatic: ") and "1 ✓" in text
    assert "manual 1/1 ticked" in text
    assert "running r1" in checklist_summary([AutoCheck], state(), ["r1"])
    assert checklist_summary([AutoCheck], state(), loaded=False).endswith("reading results…")
    assert "none run" in checklist_summary([AutoCheck], state())


class OtherAuto(Check):
    name, title, kind = "auto_two", "Auto two", "auto"


class Human(Check):
    name, title, kind = "human_baseline", "Human", "interactive"


def test_a_stale_result_is_drawn_neutral_with_its_reason_never_as_its_old_verdict():
    reason = "ran on model textcnn, data trec.csv — rerun"
    s = state(results={"auto_one": result("pass", "dev acc 0.896", seconds=2.0, stale=reason)})
    glyph = check_glyph(AutoCheck, s)
    assert "↻" in glyph and "$secondary" in glyph
    assert "✓" not in glyph and "$success" not in glyph
    assert check_summary(AutoCheck, s) == reason
    prompt = check_prompt(AutoCheck, s, width=74)  # an 80-column terminal's list
    assert reason in prompt and "0.896" not in prompt and "2.0s" not in prompt
    # the reason is clipped, never wrapped, on a narrow list
    assert check_prompt(AutoCheck, s, width=30).splitlines()[1].endswith("…[/]")


def test_the_summary_counts_only_current_verdicts():
    s = state(
        results={
            "auto_one": result("pass", stale="ran on model textcnn — rerun"),
            "auto_two": result("fail", name="auto_two"),
        }
    )
    text = checklist_summary([AutoCheck, OtherAuto], s)
    assert "1 ✗" in text and "✓" not in text and "1 ↻ stale" in text
    assert "not run" not in text  # the stale one did run, on something else
    all_stale = state(
        results={
            "auto_one": result("pass", stale="ran on data a.csv — rerun"),
            "auto_two": result("pass", stale="ran on data a.csv — rerun", name="auto_two"),
        }
    )
    text = checklist_summary([AutoCheck, OtherAuto], all_stale)
    assert text.startswith("2 automatic: ") and "2 ↻ stale" in text and "✓" not in text


def test_a_stopped_check_is_neither_pass_nor_fail():
    s = state(results={"auto_one": result("stopped", "compared 1 step")})
    glyph = check_glyph(AutoCheck, s)
    assert "⊘" in glyph and not any(g in glyph for g in "✓✗!E")
    assert check_summary(AutoCheck, s) == "stopped before its verdict — rerun"
    text = checklist_summary([AutoCheck, OtherAuto], s)
    assert "1 ⊘ stopped" in text and "1 not run" in text
    assert not any(g in text for g in "✓✗")


def test_stale_ticks_and_human_baseline_say_what_they_were_made_for():
    reason = "ticked on data a.csv — tick it again"
    s = state(ticks={"manual_one": tick("read 300 rows", stale=reason)})
    assert "↻" in check_glyph(ManualCheck, s) and "☑" not in check_glyph(ManualCheck, s)
    assert check_summary(ManualCheck, s) == reason
    assert "manual 0/1 ticked (1 stale)" in checklist_summary([ManualCheck], s)
    # the input view: an automatic check a person also ticks
    looked = state(ticks={"auto_one": tick(stale=reason, name="auto_one")})
    assert "looked: stale" in check_prompt(AutoCheck, looked, 60)
    assert "☑" not in check_prompt(AutoCheck, looked, 60)
    human = ResultView(
        "human_baseline",
        "human_baseline",
        "done",
        "",
        current=False,
        stale_reason="labelled on data a.csv — label the examples again",
        record={"accuracy": 0.9, "n": 20, "correct": 18, "ci": [0.7, 0.97]},
    )
    s = state(human=human)
    assert "↻" in check_glyph(Human, s) and "✓" not in check_glyph(Human, s)
    assert check_summary(Human, s) == "labelled on data a.csv — label the examples again"
    current = state(
        human=ResultView("human_baseline", "human_baseline", "done", "", True, record=human.record)
    )
    assert "✓" in check_glyph(Human, current)
    assert check_summary(Human, current).startswith("your accuracy 90%")
